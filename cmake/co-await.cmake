# heartbeat_check_co_await(): whether C++20 coroutines work here, i.e. the
# Asio in use turns co_await on for this compiler and standard library, so
# that <heartbeat/detail/config.hpp> defines HEARTBEAT_HAS_CO_AWAIT. Where it
# does not, the coroutine example and the use_awaitable tests build as
# stubs; a status line says so and why (once per configure). The answer is
# cached in HEARTBEAT_CO_AWAIT_WORKS.
include_guard(GLOBAL)
include(CheckCXXSourceCompiles)
include(CMakePushCheckState)

function(heartbeat_check_co_await)
  if(NOT "cxx_std_20" IN_LIST CMAKE_CXX_COMPILE_FEATURES)
    return()
  endif()
  cmake_push_check_state(RESET)
  set(CMAKE_CXX_STANDARD 20)
  set(CMAKE_CXX_STANDARD_REQUIRED ON)
  set(CMAKE_REQUIRED_INCLUDES "${PROJECT_SOURCE_DIR}/include")
  if(HEARTBEAT_USE_BOOST_ASIO)
    set(CMAKE_REQUIRED_DEFINITIONS -DHEARTBEAT_USE_BOOST_ASIO=1)
    set(CMAKE_REQUIRED_LIBRARIES Boost::headers)
  else()
    set(CMAKE_REQUIRED_LIBRARIES Asio::Asio)
  endif()
  set(CMAKE_REQUIRED_QUIET ON)
  check_cxx_source_compiles([[
#include <heartbeat/detail/config.hpp>
#if !defined(HEARTBEAT_HAS_CO_AWAIT)
#error "no co_await"
#endif
int main() { return 0; }
]] HEARTBEAT_CO_AWAIT_WORKS)
  cmake_pop_check_state()

  get_property(told GLOBAL PROPERTY heartbeat_co_await_told)
  if(HEARTBEAT_CO_AWAIT_WORKS OR told)
    return()
  endif()
  set_property(GLOBAL PROPERTY heartbeat_co_await_told TRUE)
  if(HEARTBEAT_USE_BOOST_ASIO)
    set(asio "Boost.Asio")
  else()
    set(asio "Asio")
  endif()
  set(why "")
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    set(why " (under clang it looks for <experimental/coroutine>, which libstdc++ does not have)")
  endif()
  message(STATUS "heartbeat: ${asio} turns co_await off for ${CMAKE_CXX_COMPILER_ID} "
                 "${CMAKE_CXX_COMPILER_VERSION} with this standard library${why}, so use_awaitable is "
                 "unavailable: the coroutine_client example and the use_awaitable tests build as stubs "
                 "that say so. Callbacks and use_future work; for coroutines use g++ 11 or later, or clang "
                 "with libc++ (-stdlib=libc++).")
endfunction()
