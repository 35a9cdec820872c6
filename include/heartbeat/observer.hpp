// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_OBSERVER_HPP
#define HEARTBEAT_OBSERVER_HPP

// Kept for compatibility: observer mode's two classes now have a header
// each, <heartbeat/monitor.hpp> and <heartbeat/observer_pulse.hpp>. New
// code should include those.

#include <heartbeat/monitor.hpp>
#include <heartbeat/observer_pulse.hpp>

#endif
