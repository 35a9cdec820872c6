// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_REGISTRY_TYPES_HPP
#define HEARTBEAT_CORE_REGISTRY_TYPES_HPP

// What the registry hands out and takes in, apart from events (events.hpp):
// kept apart from the class so the detail headers that store and schedule
// peers can name them without the whole registry.
#include <heartbeat/core/events.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>

namespace heartbeat {

/// A cheap reference to a peer's record, for callers that touch the same
/// peer often (a session). It goes stale when the peer is removed; every
/// function taking a handle checks that, so a stale handle is harmless.
struct peer_handle {
    static constexpr std::uint32_t npos = std::numeric_limits<std::uint32_t>::max();

    std::uint32_t index = npos;
    std::uint32_t generation = 0;

    constexpr bool valid() const noexcept { return index != npos; }
    constexpr explicit operator bool() const noexcept { return valid(); }
    friend constexpr bool operator==(peer_handle a, peer_handle b) noexcept
    {
        return a.index == b.index && a.generation == b.generation;
    }
    friend constexpr bool operator!=(peer_handle a, peer_handle b) noexcept
    {
        return !(a == b);
    }
};

/// The settings of a `registry<Key, Clock, Policy>`; spelled
/// `registry<...>::options`.
template <class Clock, class Policy>
struct registry_options {
    /// Settings of the detection policy.
    typename Policy::options detection{};
    /// How late `expire` may run past a deadline before the registry
    /// assumes this process was paused. Zero disables the guard.
    typename Clock::duration pause_threshold = std::chrono::seconds(1);
    /// How long peers that fell due during a pause get to show life.
    typename Clock::duration pause_grace = std::chrono::seconds(1);
    /// How late `expire` may run past a deadline, short of a pause, before
    /// the registry counts itself behind (an event loop with more work than
    /// it keeps up with): the peers due in such a call get that lateness
    /// again, at most `pause_grace`, to show life, once per deadline, as
    /// their beats may wait unread. Detection is then late by up to about
    /// twice the lag, instead of healthy peers dropped. Zero (the default
    /// here; the watcher sets it) disables the rule.
    typename Clock::duration lag_threshold = Clock::duration::zero();
    /// The most peers tracked at once; zero means no limit. A touch of
    /// a new key beyond it is refused (an invalid handle is returned).
    std::size_t max_peers = 0;
    /// Removals (and deadlines an adaptive policy moved earlier) leave
    /// dead entries in the deadline heap, dropped when they surface. The
    /// heap is rebuilt without them, in one O(n) pass, once the dead
    /// entries number at least the online peers plus this slack; so
    /// its memory stays within about twice the online peers plus the
    /// slack. Larger: fewer rebuilds under churn; zero: rebuild as soon
    /// as the dead outnumber the live.
    std::size_t compaction_slack = 1024;
    /// Where the wall-clock time of events (`peer_event::wall_time`,
    /// `peer_info::wall_since`) comes from: given an event's `at`, on
    /// `Clock`, it returns that instant on the system clock. It is called
    /// once per event, when the registry raises it, and never for a
    /// decision: detection runs on `Clock` alone, so a wall-clock step
    /// changes the timestamps in logs and nothing else.
    ///
    /// Empty (the default): `system_clock::now() - (Clock::now() - at)`,
    /// both clocks read once per event. The current offset is used, not
    /// one captured at start-up, so the timestamps agree with the rest of
    /// the machine's logs after NTP corrections and suspends. Tests on a
    /// manual clock set a function of `at` alone (say, a fixed epoch plus
    /// `at.time_since_epoch()`): then wall times are deterministic, and
    /// the difference of two events' wall times is the difference of
    /// their `at`.
    std::function<std::chrono::system_clock::time_point(typename Clock::time_point at)> wall_clock{};
};

/// One peer's record, as queries report it; spelled
/// `registry<...>::peer_info`.
template <class Key, class Clock>
struct registry_peer_info {
    Key key;
    peer_status status;
    typename Clock::time_point last_seen;
    typename Clock::duration interval; ///< the interval the peer is held to
    std::uint64_t beats;               ///< signs of life recorded
    std::uint64_t offline_episodes;    ///< online-to-offline transitions
    /// When the peer entered its current status, on the wall clock: the
    /// `wall_time` of the event that put it there (the same value, not
    /// worked out again). For display only.
    std::chrono::system_clock::time_point wall_since;
};

} // namespace heartbeat

#endif
