// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_REDIS_DETAIL_GATEWAY_SCRIPTS_HPP
#define HEARTBEAT_REDIS_DETAIL_GATEWAY_SCRIPTS_HPP

// How a gateway runs its scripts: the bodies (prelude included), which of
// them a connection preloads, and the EVAL / EVALSHA command for one call.
// No I/O: the gateway sends what this builds.

#include <heartbeat/redis/detail/reply.hpp>
#include <heartbeat/redis/detail/scripts.hpp>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <vector>

namespace heartbeat::redis::detail {

class gateway_scripts {
public:
    // Indices into the bodies, and into the connection's preloaded scripts.
    // leave is last and never preloaded: it is sent whole, so a Redis that
    // forgot the scripts cannot turn a clean leave into a lease that has to
    // run out.
    enum which : std::size_t { online, offline, tick, resync, leave };

    gateway_scripts(std::string prefix, std::string gateway) : prefix_(std::move(prefix)), gateway_(std::move(gateway))
    {
    }

    /// The bodies a connection loads (SCRIPT LOAD), in `which` order.
    std::vector<std::string> preloaded() const { return std::vector<std::string>(bodies_, bodies_ + leave); }

    /// The command that runs script `w`: EVALSHA when the connection loaded
    /// it (`sha` not empty), else EVAL with the whole body. Its ARGV: the
    /// prefix, this gateway's name, then `rest` (each script's list is in
    /// scripts.hpp).
    std::vector<std::string> command(which w, const std::string& sha, std::initializer_list<std::string> rest) const
    {
        std::vector<std::string> args;
        args.reserve(5 + rest.size());
        if (sha.empty())
            args = {"EVAL", bodies_[w], "0", prefix_, gateway_};
        else
            args = {"EVALSHA", sha, "0", prefix_, gateway_};
        args.insert(args.end(), rest);
        return args;
    }

    /// Redis lost its script cache since the connection loaded them
    /// (SCRIPT FLUSH, a failover): this reply is NOSCRIPT.
    static bool forgotten(const reply& r)
    {
        return r.type == reply::kind::error && r.str.rfind("NOSCRIPT", 0) == 0;
    }

private:
    static std::string with_prelude(const char* body) { return std::string(scripts::prelude) + body; }

    std::string prefix_;
    std::string gateway_;
    const std::string bodies_[5] = {with_prelude(scripts::online), with_prelude(scripts::offline),
                                    with_prelude(scripts::tick), with_prelude(scripts::resync),
                                    with_prelude(scripts::leave)};
};

} // namespace heartbeat::redis::detail

#endif
