// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_REDIS_HPP
#define HEARTBEAT_REDIS_HPP

// Cluster presence on Redis (CMake target heartbeat::redis, which links
// hiredis): gateway publishes a watcher's transitions and holds a lease,
// directory answers queries and relays cluster events. docs/CLUSTER.md.

#include <heartbeat/redis/directory.hpp>
#include <heartbeat/redis/gateway.hpp>
#include <heartbeat/redis/types.hpp>

#endif
