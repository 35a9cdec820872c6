# pkg-config files, for builds that do not use CMake (Meson, Make, scripts):
# heartbeat.pc, and heartbeat-redis.pc / heartbeat-tls.pc /
# heartbeat-websocket.pc beside it when those components are installed.
#
# They go to share/pkgconfig, not lib/pkgconfig: the library is headers only
# and its flags are the same on every architecture (the CMake package is
# likewise in share/ with an ARCH_INDEPENDENT version file), and pkg-config
# searches <prefix>/share/pkgconfig by default. The prefix is written
# relative to the .pc file (${pcfiledir}), so an install made with
# `cmake --install --prefix`, or moved afterwards, still points at itself.

set(heartbeat_install_pkgconfigdir "${CMAKE_INSTALL_DATADIR}/pkgconfig"
    CACHE STRING "Where heartbeat's pkg-config files are installed")
mark_as_advanced(heartbeat_install_pkgconfigdir)

if(IS_ABSOLUTE "${heartbeat_install_pkgconfigdir}")
  set(HEARTBEAT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _hb_pc_up "/${heartbeat_install_pkgconfigdir}" "/")
  string(REGEX REPLACE "/$" "" _hb_pc_up "${_hb_pc_up}")
  set(HEARTBEAT_PC_PREFIX "\${pcfiledir}/${_hb_pc_up}")
  unset(_hb_pc_up)
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(HEARTBEAT_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(HEARTBEAT_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()

# Debian ships no asio.pc or boost.pc to require, so heartbeat.pc carries
# what the CMake targets would have added: the flavour's define (FindAsio's
# ASIO_STANDALONE, or HEARTBEAT_USE_BOOST_ASIO=1) and the Asio or Boost
# include directory when the compiler would not search it anyway.
if(HEARTBEAT_USE_BOOST_ASIO)
  set(HEARTBEAT_PC_FLAVOUR "Boost.Asio")
  set(HEARTBEAT_PC_CFLAGS " -DHEARTBEAT_USE_BOOST_ASIO=1")
  set(_hb_pc_dirs ${Boost_INCLUDE_DIRS})
else()
  set(HEARTBEAT_PC_FLAVOUR "standalone Asio")
  set(HEARTBEAT_PC_CFLAGS " -DASIO_STANDALONE")
  set(_hb_pc_dirs ${Asio_INCLUDE_DIR})
endif()
foreach(_hb_pc_dir IN LISTS _hb_pc_dirs)
  if(NOT _hb_pc_dir IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
    string(APPEND HEARTBEAT_PC_CFLAGS " -I${_hb_pc_dir}")
  endif()
endforeach()
unset(_hb_pc_dirs)
unset(_hb_pc_dir)

set(_hb_pc_files heartbeat)
if(HEARTBEAT_HAS_REDIS)
  list(APPEND _hb_pc_files heartbeat-redis)
endif()
if(HEARTBEAT_HAS_TLS)
  list(APPEND _hb_pc_files heartbeat-tls)
endif()
if(HEARTBEAT_HAS_WEBSOCKET)
  list(APPEND _hb_pc_files heartbeat-websocket)
endif()
foreach(_hb_pc IN LISTS _hb_pc_files)
  configure_file("${PROJECT_SOURCE_DIR}/cmake/${_hb_pc}.pc.in" "${PROJECT_BINARY_DIR}/pkgconfig/${_hb_pc}.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/pkgconfig/${_hb_pc}.pc"
          DESTINATION "${heartbeat_install_pkgconfigdir}"
          COMPONENT heartbeat_Development)
endforeach()
unset(_hb_pc_files)
unset(_hb_pc)
