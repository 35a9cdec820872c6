// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CLIENT_HPP
#define HEARTBEAT_CLIENT_HPP

// Kept for compatibility: reconnecting_client now lives in
// <heartbeat/reconnecting_client.hpp>, named after the class. New code
// should include that.

#include <heartbeat/reconnecting_client.hpp>

#endif
