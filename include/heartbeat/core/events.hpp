// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_EVENTS_HPP
#define HEARTBEAT_CORE_EVENTS_HPP

#include <chrono>
#include <cstdint>
#include <string_view>

namespace heartbeat {

/// Where a peer stands in the registry.
enum class peer_status : std::uint8_t {
    unknown, ///< never seen, or removed
    online,  ///< heard from within its deadline
    offline  ///< timed out; the record is kept until removed or touched again
};

/// Why a peer went offline.
enum class offline_reason : std::uint8_t {
    none = 0,       ///< not an offline event
    timeout,        ///< the detector's deadline passed without a sign of life
    disconnected,   ///< the transport closed or failed
    left,           ///< the peer said goodbye
    replaced,       ///< a newer session claimed the same id
    protocol_error, ///< the peer sent something the protocol forbids
    shutdown,       ///< the local side is stopping
    kicked          ///< the application ended the peer's session (watcher::kick)
};
// Components above the core that have reasons of their own keep them in
// their own enum (cluster presence: redis::cluster_reason, which mirrors
// these values and adds gateway_lost and resynced).

/// The kind of a registry event.
enum class transition : std::uint8_t { online, offline };

/// A printable name, for logs.
constexpr std::string_view to_string(offline_reason r) noexcept
{
    switch (r) {
    case offline_reason::none: return "none";
    case offline_reason::timeout: return "timeout";
    case offline_reason::disconnected: return "disconnected";
    case offline_reason::left: return "left";
    case offline_reason::replaced: return "replaced";
    case offline_reason::protocol_error: return "protocol_error";
    case offline_reason::shutdown: return "shutdown";
    case offline_reason::kicked: return "kicked";
    }
    return "unknown";
}

constexpr std::string_view to_string(peer_status s) noexcept
{
    switch (s) {
    case peer_status::unknown: return "unknown";
    case peer_status::online: return "online";
    case peer_status::offline: return "offline";
    }
    return "invalid";
}

constexpr std::string_view to_string(transition t) noexcept
{
    return t == transition::online ? "online" : "offline";
}

/// One state change of one peer, delivered to the registry's event sink.
///
/// For a given peer, events strictly alternate online, offline, online, ...
/// The key reference is valid only for the duration of the callback.
///
/// `at` and `last_seen` are on the registry's (steady) clock: compare and
/// subtract those. `wall_time` is `at` on the wall clock, for logs and
/// displays only: it is worked out once, when the registry raises the
/// event (see `registry_options::wall_clock`), so every observer of one
/// event sees the same value, and nothing in heartbeat decides anything
/// from it.
template <class Key, class TimePoint>
struct peer_event {
    const Key& key;
    transition kind;
    offline_reason reason; ///< offline_reason::none for online events
    TimePoint at;          ///< the `now` of the call that caused the event
    TimePoint last_seen;   ///< the peer's last sign of life
    std::chrono::system_clock::time_point wall_time; ///< `at` on the wall clock, for display
};

} // namespace heartbeat

#endif
