// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_HEARTBEAT_HPP
#define HEARTBEAT_HEARTBEAT_HPP

// The whole library: the I/O-free core, the wire protocol and the Asio
// components.
#include <heartbeat/core.hpp>
#include <heartbeat/error.hpp>
#include <heartbeat/io_loop.hpp>
#include <heartbeat/keepalive.hpp>
#include <heartbeat/monitor.hpp>
#include <heartbeat/observer_pulse.hpp>
#include <heartbeat/pulse.hpp>
#include <heartbeat/reconnecting_client.hpp>
#include <heartbeat/sweeper.hpp>
#include <heartbeat/watcher.hpp>
#include <heartbeat/wire/decoder.hpp>
#include <heartbeat/wire/frame.hpp>

#endif
