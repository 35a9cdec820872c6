# Options. Developer targets default to ON only when heartbeat is the
# top-level project, so a consumer's add_subdirectory() builds nothing extra.

if(CMAKE_VERSION VERSION_LESS 3.21)
  string(COMPARE EQUAL "${CMAKE_SOURCE_DIR}" "${PROJECT_SOURCE_DIR}" PROJECT_IS_TOP_LEVEL)
endif()

include(GNUInstallDirs)

option(HEARTBEAT_USE_BOOST_ASIO "Use Boost.Asio instead of standalone Asio" OFF)

# The tests need Catch2 v2; installing a header-only library must not. So
# they default to ON only at top level with Catch2 present, and an explicit
# ON without Catch2 stops the configuration (CMakeLists.txt says so).
set(_heartbeat_tests_default OFF)
if(PROJECT_IS_TOP_LEVEL OR HEARTBEAT_BUILD_TESTS)
  find_package(Catch2 2 QUIET)
  if(PROJECT_IS_TOP_LEVEL AND Catch2_FOUND)
    set(_heartbeat_tests_default ON)
  endif()
endif()
option(HEARTBEAT_BUILD_TESTS "Build heartbeat's tests (needs Catch2 v2; default: ON at top level when Catch2 is found)"
       "${_heartbeat_tests_default}")
unset(_heartbeat_tests_default)
option(HEARTBEAT_BUILD_EXAMPLES "Build heartbeat's examples" "${PROJECT_IS_TOP_LEVEL}")
option(HEARTBEAT_BUILD_BENCHMARKS "Build heartbeat's benchmarks and measurement tools" "${PROJECT_IS_TOP_LEVEL}")
set(HEARTBEAT_WITH_REDIS AUTO CACHE STRING "Build heartbeat::redis (cluster presence; needs hiredis): AUTO, ON or OFF")
set_property(CACHE HEARTBEAT_WITH_REDIS PROPERTY STRINGS AUTO ON OFF)
set(HEARTBEAT_WITH_TLS AUTO CACHE STRING "Build heartbeat::tls (heartbeat over TLS; needs OpenSSL): AUTO, ON or OFF")
set_property(CACHE HEARTBEAT_WITH_TLS PROPERTY STRINGS AUTO ON OFF)
set(HEARTBEAT_WITH_WEBSOCKET AUTO CACHE STRING
    "Build heartbeat::websocket (browsers; needs Boost.Beast, so HEARTBEAT_USE_BOOST_ASIO=ON): AUTO, ON or OFF")
set_property(CACHE HEARTBEAT_WITH_WEBSOCKET PROPERTY STRINGS AUTO ON OFF)
# Which tests a build makes: "all"; "sanitized" (no compile-only header
# checks: the asan and tsan presets, where they find nothing new); "boost"
# (only what differs under Boost.Asio: the header checks, heartbeat::websocket
# and its browser and JavaScript tests, cluster presence, the consumers:
# the boost preset, after the standalone builds ran everything else).
set(HEARTBEAT_TEST_SET all CACHE STRING "Which tests to build: all, sanitized or boost")
set_property(CACHE HEARTBEAT_TEST_SET PROPERTY STRINGS all sanitized boost)
option(HEARTBEAT_BUILD_FUZZERS "Build the libFuzzer targets (clang)" OFF)
option(HEARTBEAT_WARNINGS_AS_ERRORS "Treat warnings in heartbeat's own targets as errors" OFF)

set(heartbeat_warning_guard "")
if(NOT PROJECT_IS_TOP_LEVEL)
  option(HEARTBEAT_INCLUDES_WITH_SYSTEM
         "Use SYSTEM for heartbeat's include directory in a parent project" ON)
  mark_as_advanced(HEARTBEAT_INCLUDES_WITH_SYSTEM)
  if(HEARTBEAT_INCLUDES_WITH_SYSTEM)
    set(heartbeat_warning_guard SYSTEM)
  endif()
endif()
