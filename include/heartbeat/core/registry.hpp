// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_REGISTRY_HPP
#define HEARTBEAT_CORE_REGISTRY_HPP

#include <heartbeat/core/detail/deadline_schedule.hpp>
#include <heartbeat/core/detail/peer_table.hpp>
#include <heartbeat/core/events.hpp>
#include <heartbeat/core/fixed_misses.hpp>
#include <heartbeat/core/policy_traits.hpp>
#include <heartbeat/core/registry_types.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace heartbeat {

/// The last-seen table: which peers are alive, and since when.
///
/// `registry` records signs of life (`touch`), forgets peers (`remove`),
/// and declares silent peers offline (`expire`). Each state change is
/// reported to an event sink; for any one peer the events strictly alternate
/// online, offline, online, ... with none duplicated and none lost.
///
/// It does no I/O and reads no clock for a decision: every mutating call
/// takes `now`, so tests drive it with a fake clock and the Asio layer reads
/// the clock once per I/O completion. The `touch(key)` convenience overloads
/// read `Clock::now()`; events read the wall clock for display (below).
///
/// @tparam Key any copyable key with `Hash` and `KeyEqual`.
/// @tparam Clock a steady clock (`std::chrono::steady_clock` by default;
///   never the wall clock: a wall-clock step must not expire every peer).
/// @tparam Policy the detection policy, `fixed_misses<Clock>` by default.
///
/// @par Expiry
/// Deadlines live in a min-heap with lazy re-arming. A beat only moves the
/// peer's real deadline later, so `touch` does not touch the heap at all;
/// the old entry surfaces at its (earlier) time, is found stale, and is
/// pushed again with the real deadline. So `touch` of a known peer is O(1)
/// and allocation-free, `expire` with nothing due is O(1), and a peer that
/// beats steadily costs one O(log n) re-arm per timeout period rather than
/// one per beat. Offline events within one `expire` call come in deadline
/// order; equal deadlines in the order the peers were last touched.
///
/// @par Local-pause guard
/// If this process itself stalled (a debugger, swap, a blocked event loop, a
/// suspended VM), beats could not be read meanwhile, so on wake-up every
/// peer would look silent. When `expire` runs more than
/// `options::pause_threshold` after the earliest deadline it was due to
/// handle, the registry treats it as a local pause: every peer that falls
/// due in that call is given until `now + options::pause_grace` instead,
/// so the beats waiting in socket buffers can be read first. The same guard
/// covers a process that is merely behind: with `options::lag_threshold`
/// set, an `expire` later than that gives the peers due in it their
/// lateness again (once), as beats that came within it may be unread.
///
/// @par Re-entrancy
/// The event sink runs synchronously, after the registry's state reflects
/// the event. From inside it you may call `touch`, `set_interval`,
/// `remove`, `clear` and any query, on any peer. A nested `expire` does
/// nothing and returns `next_deadline()`. The `key` in the event refers to
/// a copy that stays valid for the whole callback, even if the callback
/// removes the peer. Handles returned by a call whose events removed the
/// peer are stale.
///
/// @par Wall-clock time
/// Every event carries `wall_time`, and every record `wall_since`: the
/// event's `at` on the system clock, obtained once per event from
/// `options::wall_clock` (by default from the two clocks' current offset).
/// They are for logs only; the registry decides nothing from them.
///
/// @par Thread safety
/// Distinct objects: safe. Shared objects: unsafe; serialise access (the
/// Asio components run it on a strand).
template <class Key, class Clock = std::chrono::steady_clock,
          class Policy = fixed_misses<Clock>, class Hash = std::hash<Key>,
          class KeyEqual = std::equal_to<Key>>
class registry {
public:
    using key_type = Key;
    using clock_type = Clock;
    using policy_type = Policy;
    using duration = typename Clock::duration;
    using time_point = typename Clock::time_point;
    using event_type = peer_event<Key, time_point>;
    using event_sink = std::function<void(const event_type&)>;
    using options = registry_options<Clock, Policy>;
    using peer_info = registry_peer_info<Key, Clock>;

    registry() : registry(options{}) {}

    explicit registry(const options& opts, event_sink sink = {})
        : policy_(opts.detection), opts_(opts), sink_(std::move(sink))
    {
    }

    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    /// Sets the callable that receives every event. Not from inside a sink.
    void on_event(event_sink sink) { sink_ = std::move(sink); }

    const Policy& policy() const noexcept { return policy_; }
    const options& get_options() const noexcept { return opts_; }

    /// Records a sign of life of `key` at `now`.
    ///
    /// The first touch of a key, or the first after it went offline, raises
    /// an online event. A touch of a known key is O(1) and allocates
    /// nothing. A `now` earlier than the peer's last sign of life does not
    /// move it back.
    ///
    /// @returns a handle to the peer, or an invalid handle if the key is new
    /// and `max_peers` are already tracked.
    peer_handle touch(const Key& key, time_point now);

    peer_handle touch(const Key& key) { return touch(key, Clock::now()); }

    /// As `touch(key, now)`, by handle: no hashing.
    /// @returns false (and does nothing) if the handle is stale.
    bool touch(peer_handle h, time_point now)
    {
        if (!table_.live(h))
            return false;
        touch_slot(h.index, now);
        return true;
    }

    bool touch(peer_handle h) { return touch(h, Clock::now()); }

    /// The handle of a tracked key, or an invalid handle.
    peer_handle find(const Key& key) const
    {
        const std::uint32_t i = table_.find(key);
        if (i == npos)
            return {};
        return table_.handle(i);
    }

    /// Sets the beat interval a peer announced. The policy clamps it to its
    /// configured bounds; the peer's deadline moves accordingly (if it moves
    /// earlier, call `next_deadline()` to re-arm your timer).
    ///
    /// @returns the interval the peer is held to, or nothing if the peer is
    /// not tracked.
    std::optional<duration> set_interval(const Key& key, duration announced)
    {
        return set_interval(find(key), announced);
    }

    std::optional<duration> set_interval(peer_handle h, duration announced);

    /// Holds a peer to renegotiated terms: `interval` (clamped, as by
    /// set_interval) and, for a policy that counts misses per peer
    /// (fixed_misses), `misses`. The deadline moves as with set_interval.
    std::optional<duration> set_terms(peer_handle h, duration interval, unsigned misses);

    /// Forgets a peer. If it was online, raises offline with `reason` at
    /// `now` first. Its handle goes stale.
    ///
    /// @returns false if the key was not tracked.
    bool remove(const Key& key, offline_reason reason, time_point now)
    {
        return remove(find(key), reason, now);
    }

    bool remove(const Key& key, offline_reason reason = offline_reason::disconnected)
    {
        return remove(find(key), reason, Clock::now());
    }

    bool remove(peer_handle h, offline_reason reason, time_point now);

    bool remove(peer_handle h, offline_reason reason = offline_reason::disconnected)
    {
        return remove(h, reason, Clock::now());
    }

    /// Removes every peer, raising offline with `reason` at `now` for each
    /// that was online.
    void clear(offline_reason reason, time_point now);

    void clear(offline_reason reason = offline_reason::shutdown)
    {
        clear(reason, Clock::now());
    }

    /// Raises offline(timeout) for every online peer whose deadline is at
    /// or before `now`, earliest first.
    ///
    /// @returns the next instant at which `expire` will have work, or
    /// nothing when no peer is online. A timer should sleep until exactly
    /// then.
    std::optional<time_point> expire(time_point now);

    /// The instant the next `expire` call is due, or nothing if no peer is
    /// online. Exact unless a peer beat since the last `expire` (then it is
    /// early, and that `expire` reports a later one), never late.
    std::optional<time_point> next_deadline()
    {
        return schedule_.next_deadline(table_, deadline_of());
    }

    // ---- queries ------------------------------------------------------

    peer_status status(const Key& key) const
    {
        const std::uint32_t i = table_.find(key);
        return i == npos ? peer_status::unknown : table_[i].status;
    }

    bool is_online(const Key& key) const
    {
        return status(key) == peer_status::online;
    }

    std::optional<time_point> last_seen(const Key& key) const
    {
        const std::uint32_t i = table_.find(key);
        if (i == npos)
            return std::nullopt;
        return table_[i].last_seen;
    }

    std::optional<peer_info> info(const Key& key) const
    {
        const std::uint32_t i = table_.find(key);
        if (i == npos)
            return std::nullopt;
        return make_info(i);
    }

    std::optional<peer_info> info(peer_handle h) const
    {
        if (!table_.live(h))
            return std::nullopt;
        return make_info(h.index);
    }

    /// The suspicion level of an online peer at `now`, for policies that
    /// have one (phi_accrual::phi); nothing for unknown or offline peers.
    template <class P = Policy>
    auto suspicion(const Key& key, time_point now) const
        -> decltype(std::declval<const P&>().phi(std::declval<const typename P::peer_state&>(), now, now),
                    std::optional<double>())
    {
        const std::uint32_t i = table_.find(key);
        if (i == npos || table_[i].status != peer_status::online)
            return std::nullopt;
        const slot& s = table_[i];
        return policy_.phi(s.state, s.last_seen, now);
    }

    /// Peers tracked, online or offline.
    std::size_t size() const noexcept { return table_.size(); }
    bool empty() const noexcept { return table_.empty(); }
    std::size_t online_count() const noexcept { return online_; }
    std::size_t offline_count() const noexcept { return table_.size() - online_; }

    /// How often the local-pause guard deferred a deadline (a pause, or a
    /// lag past `options::lag_threshold`).
    std::uint64_t pause_deferrals() const noexcept { return schedule_.pause_deferrals(); }

    /// How late the last `expire` ran: its `now` minus the earliest deadline
    /// it had to handle; zero if nothing was due. A sweeper armed for the
    /// next deadline so measures its own event loop's lag.
    duration last_lateness() const noexcept { return schedule_.last_lateness(); }

    /// Entries in the deadline heap, live (one per online peer) and dead
    /// (see options::compaction_slack): for memory accounting.
    std::size_t deadline_entries() const noexcept { return schedule_.size(); }

    /// Calls `f(const peer_info&)` for every tracked peer, in no particular
    /// order. `f` must not modify the registry.
    template <class F>
    void for_each(F&& f) const
    {
        table_.for_each_index([&](std::uint32_t i) { f(make_info(i)); });
    }

    /// A copy of every tracked peer's record, for dashboards.
    std::vector<peer_info> snapshot() const
    {
        std::vector<peer_info> out;
        out.reserve(table_.size());
        for_each([&](const peer_info& p) { out.push_back(p); });
        return out;
    }

    /// Pre-allocates for `n` peers, so that touches of up to `n` new keys do
    /// not reallocate the tables.
    void reserve(std::size_t n)
    {
        table_.reserve(n);
        schedule_.reserve(n);
        wall_since_.reserve(n);
    }

private:
    using table_type = detail::peer_table<Key, time_point, typename Policy::peer_state, Hash, KeyEqual>;
    using slot = typename table_type::slot;

    static constexpr std::uint32_t npos = table_type::npos;

    void touch_slot(std::uint32_t i, time_point now);
    void bring_online(std::uint32_t i, time_point now);

    // When a peer falls due, unless the pause guard put it off: slots keep
    // no deadline of their own.
    auto deadline_of() const
    {
        return [this](const slot& s) { return policy_.offline_at(s.state, s.last_seen); };
    }

    // Slot `i` changed (and was restamped) so that its deadline went from
    // `before` to where the policy now puts it. An entry armed for an earlier
    // deadline leaves the old one to die when it surfaces.
    void reschedule(std::uint32_t i, time_point before)
    {
        const slot& s = table_[i];
        if (schedule_.moved(table_, i, before, policy_.offline_at(s.state, s.last_seen)))
            compact_if_sparse();
    }

    void compact_if_sparse()
    {
        schedule_.compact_if_sparse(table_, online_, opts_.compaction_slack);
    }

    peer_info make_info(std::uint32_t i) const
    {
        const slot& s = table_[i];
        return {s.key,   s.status,           s.last_seen, policy_.interval(s.state),
                s.beats, s.offline_episodes, wall_since_[i]};
    }

    // The wall-clock time of an event at `at`: once per event (the sink and
    // the record share it).
    std::chrono::system_clock::time_point wall_time(time_point at) const
    {
        using sys = std::chrono::system_clock;
        if (opts_.wall_clock)
            return opts_.wall_clock(at);
        return sys::now() - std::chrono::duration_cast<sys::duration>(Clock::now() - at);
    }

    // Slot `i` made a transition at `at`: stamps its record, and returns the
    // stamp for the event.
    std::chrono::system_clock::time_point stamp_transition(std::uint32_t i, time_point at)
    {
        if (i >= wall_since_.size())
            wall_since_.resize(static_cast<std::size_t>(i) + 1);
        return wall_since_[i] = wall_time(at);
    }

    void emit(const Key& key, transition kind, offline_reason reason,
              time_point at, time_point last_seen, std::chrono::system_clock::time_point wall)
    {
        if (sink_)
            sink_(event_type{key, kind, reason, at, last_seen, wall});
    }

    Policy policy_;
    options opts_;
    event_sink sink_;
    table_type table_;
    detail::deadline_schedule<time_point> schedule_;
    // wall_since of each slot, by slot number: kept beside the table (the
    // slots hold only what detection needs); grows with the table.
    std::vector<std::chrono::system_clock::time_point> wall_since_;
    std::size_t online_ = 0;
    bool expiring_ = false;
};

} // namespace heartbeat

#include <heartbeat/core/impl/registry.hpp>

#endif
