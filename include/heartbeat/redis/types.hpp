// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_REDIS_TYPES_HPP
#define HEARTBEAT_REDIS_TYPES_HPP

// What the cluster presence components share: where Redis is, what a
// presence record and a cluster event say, and how events travel on the
// pub/sub channel. docs/CLUSTER.md describes the data model.

#include <heartbeat/core/events.hpp>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace heartbeat::redis {

/// Wall-clock time in the cluster: presence records and events carry Unix
/// milliseconds, comparable between gateway hosts (as far as their clocks
/// agree).
using cluster_clock = std::chrono::system_clock;
using cluster_time = std::chrono::time_point<cluster_clock, std::chrono::milliseconds>;

inline cluster_time cluster_now()
{
    return std::chrono::time_point_cast<std::chrono::milliseconds>(cluster_clock::now());
}

/// How to reach Redis, and how long to wait for it.
struct redis_options {
    /// A numeric address: hiredis resolves names with a blocking call.
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    /// Sent with AUTH after each connect when not empty.
    std::string password;
    /// Every key and the event channel start with "{prefix}:"; the braces
    /// keep them in one hash slot. Clusters of gateways that share a prefix
    /// share presence.
    std::string prefix = "heartbeat";
    /// A reply (or a connect) slower than this drops the connection, which
    /// is then made again: a hung Redis is treated like a dead one.
    std::chrono::milliseconds command_timeout{2000};
    /// How often, per command_timeout, the connection checks for a stuck
    /// reply or connect (at least 1): every command_timeout /
    /// watchdog_checks, but not more often than every 10 ms. A hung Redis
    /// is thus dropped within command_timeout * (1 + 1 / watchdog_checks).
    unsigned watchdog_checks = 4;
    /// Reconnection pacing (full jitter): the n-th consecutive attempt
    /// waits a uniformly random time in [0, min(reconnect_max,
    /// reconnect_min * 2^(n-1))]; a connection Redis answers resets n.
    std::chrono::milliseconds reconnect_min{100};
    std::chrono::milliseconds reconnect_max{2000};
};

/// Why a peer went offline cluster-wide: every local reason a gateway's
/// watcher reports (heartbeat::offline_reason, same names and values),
/// plus the cluster's own.
enum class cluster_reason : std::uint8_t {
    none = 0,       ///< not an offline event
    timeout,        ///< as offline_reason::timeout, on the gateway that held the peer
    disconnected,   ///< as offline_reason::disconnected
    left,           ///< as offline_reason::left
    replaced,       ///< as offline_reason::replaced
    protocol_error, ///< as offline_reason::protocol_error
    shutdown,       ///< as offline_reason::shutdown (also: the gateway left the cluster)
    kicked,         ///< as offline_reason::kicked
    // The cluster's own, clear of any local reason the core may add.
    gateway_lost = 64, ///< the gateway holding the peer stopped renewing its lease
    resynced           ///< went offline while its gateway could not reach Redis, and the
                       ///< transition (with its reason) did not fit the bounded queue
};

constexpr std::string_view to_string(cluster_reason r) noexcept
{
    switch (r) {
    case cluster_reason::none: return "none";
    case cluster_reason::timeout: return "timeout";
    case cluster_reason::disconnected: return "disconnected";
    case cluster_reason::left: return "left";
    case cluster_reason::replaced: return "replaced";
    case cluster_reason::protocol_error: return "protocol_error";
    case cluster_reason::shutdown: return "shutdown";
    case cluster_reason::kicked: return "kicked";
    case cluster_reason::gateway_lost: return "gateway_lost";
    case cluster_reason::resynced: return "resynced";
    }
    return "unknown";
}

namespace detail {
// Every local reason has its namesake here, at the same value: a reason
// added to the core without one fails to compile here rather than
// vanishing from the cluster's events.
constexpr bool mirrors_local_reasons() noexcept
{
    for (int i = 0; i < 64; ++i) {
        const auto local = heartbeat::to_string(static_cast<offline_reason>(i));
        if (local != to_string(static_cast<cluster_reason>(i)))
            return false;
        if (local == "unknown")
            return true;
    }
    return false;
}
static_assert(mirrors_local_reasons(), "redis::cluster_reason must mirror every heartbeat::offline_reason");
} // namespace detail

/// The cluster reason for a local one.
constexpr cluster_reason to_cluster_reason(offline_reason r) noexcept
{
    return static_cast<cluster_reason>(r);
}

/// Where a peer is online.
struct location {
    std::string gateway;
    cluster_time since; ///< when this gateway took it
};

/// A cluster-wide presence change, as published on "{prefix}:events".
struct cluster_event {
    enum class kind : std::uint8_t {
        online,  ///< the peer came online on `gateway`
        offline, ///< the peer is offline everywhere; `gateway` last held it
        moved    ///< the peer is now on `gateway`, it was on `from`; no offline between
    };
    kind type = kind::online;
    std::string peer;
    std::string gateway;
    std::string from;                              ///< moved: the previous gateway
    cluster_reason reason = cluster_reason::none; ///< offline: why
    cluster_time at{};
};

constexpr std::string_view to_string(cluster_event::kind k) noexcept
{
    switch (k) {
    case cluster_event::kind::online: return "online";
    case cluster_event::kind::offline: return "offline";
    case cluster_event::kind::moved: return "moved";
    }
    return "unknown";
}

namespace detail {

inline std::optional<std::int64_t> parse_int(std::string_view s)
{
    std::int64_t v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size())
        return std::nullopt;
    return v;
}

inline std::optional<cluster_reason> parse_reason(std::string_view s)
{
    // Every reason has a name; to_string says "unknown" for other values.
    for (int i = 0; i <= 0xFF; ++i) {
        const auto r = static_cast<cluster_reason>(i);
        if (to_string(r) == s && s != "unknown")
            return r;
    }
    return std::nullopt;
}

// Splits off the text up to the next tab.
inline std::string_view next_field(std::string_view& rest)
{
    const auto tab = rest.find('\t');
    const auto field = rest.substr(0, tab);
    rest = tab == std::string_view::npos ? std::string_view{} : rest.substr(tab + 1);
    return field;
}

/// A presence record's value: "gateway \t since_ms".
inline std::optional<location> parse_location(std::string_view v)
{
    const auto gw = next_field(v);
    const auto since = parse_int(v);
    if (gw.empty() || !since)
        return std::nullopt;
    return location{std::string(gw), cluster_time(std::chrono::milliseconds(*since))};
}

/// An event message: "v1 \t kind \t reason \t gateway \t from \t at_ms \t peer"
/// (the peer last, so it may hold anything). The Lua scripts write it.
inline std::optional<cluster_event> parse_event(std::string_view m)
{
    if (next_field(m) != "v1")
        return std::nullopt;
    cluster_event e;
    const auto kind = next_field(m);
    if (kind == "online")
        e.type = cluster_event::kind::online;
    else if (kind == "offline")
        e.type = cluster_event::kind::offline;
    else if (kind == "moved")
        e.type = cluster_event::kind::moved;
    else
        return std::nullopt;
    const auto reason = parse_reason(next_field(m));
    e.gateway = std::string(next_field(m));
    e.from = std::string(next_field(m));
    const auto at = parse_int(next_field(m));
    if (!reason || !at || e.gateway.empty())
        return std::nullopt;
    e.reason = *reason;
    e.at = cluster_time(std::chrono::milliseconds(*at));
    e.peer = std::string(m);
    return e;
}

inline std::string key(const redis_options& o, std::string_view what)
{
    std::string k;
    k.reserve(o.prefix.size() + what.size() + 3);
    k.append("{").append(o.prefix).append("}:").append(what);
    return k;
}

} // namespace detail
} // namespace heartbeat::redis

#endif
