// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_VERSION_HPP
#define HEARTBEAT_VERSION_HPP

// The single source of the version: CMakeLists.txt reads these lines.
#define HEARTBEAT_VERSION_MAJOR 0
#define HEARTBEAT_VERSION_MINOR 1
#define HEARTBEAT_VERSION_PATCH 0

/// MAJOR * 10000 + MINOR * 100 + PATCH, for preprocessor comparisons.
#define HEARTBEAT_VERSION                                                      \
    (HEARTBEAT_VERSION_MAJOR * 10000 + HEARTBEAT_VERSION_MINOR * 100           \
     + HEARTBEAT_VERSION_PATCH)

#endif
