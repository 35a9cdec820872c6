// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_CONFIG_HPP
#define HEARTBEAT_DETAIL_CONFIG_HPP

// Chooses the Asio flavour for the whole library, and says whether it
// supports C++20 coroutines (HEARTBEAT_HAS_CO_AWAIT: Asio decides, from the
// compiler and standard library). The switch is set on the
// CMake target (HEARTBEAT_USE_BOOST_ASIO=ON) or by the user on the command
// line, never here: every translation unit of a program must agree.
#if defined(HEARTBEAT_USE_BOOST_ASIO)
// Boost 1.74's awaitable.hpp uses std::exchange without including it.
#include <utility>
#include <boost/asio.hpp>
#include <boost/system/error_code.hpp>
#if defined(BOOST_ASIO_HAS_CO_AWAIT)
#define HEARTBEAT_HAS_CO_AWAIT 1
#endif
namespace heartbeat {
namespace net = ::boost::asio;
using error_code = ::boost::system::error_code;
using system_error = ::boost::system::system_error;
} // namespace heartbeat
#else
// A standard header first: Asio 1.22 picks aligned_alloc/free or plain
// operator new/delete for its handler memory from a libstdc++ macro it does
// not include itself, so a translation unit that reaches <asio.hpp> before
// any standard header allocates one way and, through another unit's copy of
// the same inline function, frees the other (ASan: alloc-dealloc-mismatch).
#include <cstddef>
#include <system_error>
#include <asio.hpp>
#if defined(ASIO_HAS_CO_AWAIT)
#define HEARTBEAT_HAS_CO_AWAIT 1
#endif
namespace heartbeat {
namespace net = ::asio;
using error_code = ::std::error_code;
using system_error = ::std::system_error;
} // namespace heartbeat
#endif

#endif
