// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_HPP
#define HEARTBEAT_CORE_HPP

// The I/O-free core: detection policies and the last-seen registry. It
// needs no Asio; include it alone where a program has its own event loop.
#include <heartbeat/core/events.hpp>
#include <heartbeat/core/fixed_misses.hpp>
#include <heartbeat/core/load_governor.hpp>
#include <heartbeat/core/phi_accrual.hpp>
#include <heartbeat/core/policy_traits.hpp>
#include <heartbeat/core/registry.hpp>
#include <heartbeat/version.hpp>

#endif
