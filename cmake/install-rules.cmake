include(CMakePackageConfigHelpers)

set(heartbeat_install_cmakedir "${CMAKE_INSTALL_DATADIR}/heartbeat/cmake"
    CACHE STRING "Where heartbeat's CMake package files are installed")
mark_as_advanced(heartbeat_install_cmakedir)

install(DIRECTORY include/ DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        COMPONENT heartbeat_Development)

install(TARGETS heartbeat EXPORT heartbeatTargets
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
if(HEARTBEAT_HAS_REDIS)
  install(TARGETS heartbeat_redis EXPORT heartbeatRedisTargets)
  install(EXPORT heartbeatRedisTargets
    NAMESPACE heartbeat::
    DESTINATION "${heartbeat_install_cmakedir}"
    COMPONENT heartbeat_Development)
endif()
if(HEARTBEAT_HAS_TLS)
  install(TARGETS heartbeat_tls EXPORT heartbeatTlsTargets)
  install(EXPORT heartbeatTlsTargets
    NAMESPACE heartbeat::
    DESTINATION "${heartbeat_install_cmakedir}"
    COMPONENT heartbeat_Development)
endif()
if(HEARTBEAT_HAS_WEBSOCKET)
  install(TARGETS heartbeat_websocket EXPORT heartbeatWebsocketTargets)
  install(EXPORT heartbeatWebsocketTargets
    NAMESPACE heartbeat::
    DESTINATION "${heartbeat_install_cmakedir}"
    COMPONENT heartbeat_Development)
endif()

# A header-only package fits any architecture; 0.x minors stay compatible
# within a major version by CMake's rules.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/heartbeatConfigVersion.cmake"
  COMPATIBILITY SameMajorVersion
  ARCH_INDEPENDENT)

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/heartbeatConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/heartbeatConfig.cmake"
  INSTALL_DESTINATION "${heartbeat_install_cmakedir}")

install(FILES
  "${PROJECT_BINARY_DIR}/heartbeatConfig.cmake"
  "${PROJECT_BINARY_DIR}/heartbeatConfigVersion.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/FindAsio.cmake"
  "${PROJECT_SOURCE_DIR}/cmake/FindHiredis.cmake"
  DESTINATION "${heartbeat_install_cmakedir}"
  COMPONENT heartbeat_Development)

install(EXPORT heartbeatTargets
  NAMESPACE heartbeat::
  DESTINATION "${heartbeat_install_cmakedir}"
  COMPONENT heartbeat_Development)

include("${PROJECT_SOURCE_DIR}/cmake/pkg-config.cmake")
