// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_REGISTRY_HPP
#define HEARTBEAT_CORE_REGISTRY_HPP

#include <heartbeat/core/detail/deadline_queue.hpp>
#include <heartbeat/core/detail/slot_index.hpp>
#include <heartbeat/core/events.hpp>
#include <heartbeat/core/fixed_misses.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

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

/// The last-seen table: which peers are alive, and since when.
///
/// `registry` records signs of life (`touch`), forgets peers (`remove`),
/// and declares silent peers offline (`expire`). Each state change is
/// reported to an event sink; for any one peer the events strictly alternate
/// online, offline, online, ... with none duplicated and none lost.
///
/// It does no I/O and reads no clock on its own: every mutating call takes
/// `now`, so tests drive it with a fake clock and the Asio layer reads the
/// clock once per I/O completion. The `touch(key)` convenience overloads
/// read `Clock::now()`.
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
/// so the beats waiting in socket buffers can be read first.
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

    struct options {
        /// Settings of the detection policy.
        typename Policy::options detection{};
        /// How late `expire` may run past a deadline before the registry
        /// assumes this process was paused. Zero disables the guard.
        duration pause_threshold = std::chrono::seconds(1);
        /// How long peers that fell due during a pause get to show life.
        duration pause_grace = std::chrono::seconds(1);
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
    };

    /// One peer's record, as queries report it.
    struct peer_info {
        Key key;
        peer_status status;
        time_point last_seen;
        duration interval;            ///< the interval the peer is held to
        std::uint64_t beats;          ///< signs of life recorded
        std::uint64_t offline_episodes; ///< online-to-offline transitions
    };

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
    peer_handle touch(const Key& key, time_point now)
    {
        const std::uint32_t found = lookup(key);
        if (found != npos) {
            const peer_handle h{found, slots_[found].generation};
            touch_slot(found, now);
            return h;
        }
        if (opts_.max_peers != 0 && index_.size() >= opts_.max_peers)
            return {};
        const std::uint32_t i = allocate_slot(key);
        index_.insert(key, i);
        const peer_handle h{i, slots_[i].generation};
        bring_online(i, now);
        return h;
    }

    peer_handle touch(const Key& key) { return touch(key, Clock::now()); }

    /// As `touch(key, now)`, by handle: no hashing.
    /// @returns false (and does nothing) if the handle is stale.
    bool touch(peer_handle h, time_point now)
    {
        if (!live(h))
            return false;
        touch_slot(h.index, now);
        return true;
    }

    bool touch(peer_handle h) { return touch(h, Clock::now()); }

    /// The handle of a tracked key, or an invalid handle.
    peer_handle find(const Key& key) const
    {
        const std::uint32_t i = lookup(key);
        if (i == npos)
            return {};
        return {i, slots_[i].generation};
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

    std::optional<duration> set_interval(peer_handle h, duration announced)
    {
        if (!live(h))
            return std::nullopt;
        slot& s = slots_[h.index];
        const duration held = policy_.set_interval(s.state, announced);
        if (s.status == peer_status::online) {
            const time_point before = s.deadline;
            s.deadline = policy_.offline_at(s.state, s.last_seen);
            s.stamp = ++stamp_;
            if (s.deadline < before)
                rearm_earlier(h.index);
        }
        return held;
    }

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

    bool remove(peer_handle h, offline_reason reason, time_point now)
    {
        if (!live(h))
            return false;
        slot& s = slots_[h.index];
        const bool was_online = s.status == peer_status::online;
        const time_point last_seen = s.last_seen;
        // Keep what the event needs before the slot is recycled.
        std::optional<Key> key;
        if (was_online && sink_)
            key.emplace(std::move(s.key));
        index_.erase(key ? *key : s.key, h.index);
        release_slot(h.index);
        if (was_online) {
            --online_;
            compact_if_sparse();
        }
        if (key)
            emit(*key, transition::offline, reason, now, last_seen);
        return true;
    }

    bool remove(peer_handle h, offline_reason reason = offline_reason::disconnected)
    {
        return remove(h, reason, Clock::now());
    }

    /// Removes every peer, raising offline with `reason` at `now` for each
    /// that was online.
    void clear(offline_reason reason, time_point now)
    {
        std::vector<peer_handle> all;
        all.reserve(index_.size());
        index_.for_each([&](std::uint32_t i) { all.push_back({i, slots_[i].generation}); });
        for (peer_handle h : all)
            remove(h, reason, now);
    }

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
    std::optional<time_point> expire(time_point now)
    {
        if (expiring_)
            return next_deadline();
        expiring_ = true;
        struct reset_flag {
            bool& flag;
            ~reset_flag() { flag = false; }
        } reset{expiring_};

        drop_dead_top();
        const bool paused = !queue_.empty() && queue_.top().deadline <= now
                            && opts_.pause_threshold > duration::zero()
                            && now - queue_.top().deadline > opts_.pause_threshold;
        // Online through now + grace inclusive, like any other deadline.
        const time_point resume_by = now + opts_.pause_grace + duration(1);

        while (!queue_.empty() && queue_.top().deadline <= now) {
            const auto e = queue_.pop();
            slot& s = slots_[e.slot];
            if (!armed_by(s, e))
                continue;
            if (s.deadline != e.deadline || s.stamp != e.stamp) {
                arm(e.slot); // stale: the peer beat since this was armed
                continue;
            }
            if (paused) {
                s.deadline = resume_by;
                arm(e.slot);
                ++pause_deferrals_;
                continue;
            }
            s.status = peer_status::offline;
            s.armed_stamp = 0;
            ++s.offline_episodes;
            --online_;
            if (sink_) {
                const Key key = s.key; // s may move if the sink adds peers
                emit(key, transition::offline, offline_reason::timeout, now,
                     s.last_seen);
            }
        }
        settle_top();
        return next_deadline();
    }

    /// The instant the next `expire` call is due, or nothing if no peer is
    /// online. Exact unless a peer beat since the last `expire` (then it is
    /// early, and that `expire` reports a later one), never late.
    std::optional<time_point> next_deadline()
    {
        settle_top();
        if (queue_.empty())
            return std::nullopt;
        return queue_.top().deadline;
    }

    // ---- queries ------------------------------------------------------

    peer_status status(const Key& key) const
    {
        const std::uint32_t i = lookup(key);
        return i == npos ? peer_status::unknown : slots_[i].status;
    }

    bool is_online(const Key& key) const
    {
        return status(key) == peer_status::online;
    }

    std::optional<time_point> last_seen(const Key& key) const
    {
        const std::uint32_t i = lookup(key);
        if (i == npos)
            return std::nullopt;
        return slots_[i].last_seen;
    }

    std::optional<peer_info> info(const Key& key) const
    {
        const std::uint32_t i = lookup(key);
        if (i == npos)
            return std::nullopt;
        return make_info(slots_[i]);
    }

    std::optional<peer_info> info(peer_handle h) const
    {
        if (!live(h))
            return std::nullopt;
        return make_info(slots_[h.index]);
    }

    /// The suspicion level of an online peer at `now`, for policies that
    /// have one (phi_accrual::phi); nothing for unknown or offline peers.
    template <class P = Policy>
    auto suspicion(const Key& key, time_point now) const
        -> decltype(std::declval<const P&>().phi(std::declval<const typename P::peer_state&>(), now, now),
                    std::optional<double>())
    {
        const std::uint32_t i = lookup(key);
        if (i == npos || slots_[i].status != peer_status::online)
            return std::nullopt;
        const slot& s = slots_[i];
        return policy_.phi(s.state, s.last_seen, now);
    }

    /// Peers tracked, online or offline.
    std::size_t size() const noexcept { return index_.size(); }
    bool empty() const noexcept { return index_.empty(); }
    std::size_t online_count() const noexcept { return online_; }
    std::size_t offline_count() const noexcept { return index_.size() - online_; }

    /// How often the local-pause guard deferred a deadline.
    std::uint64_t pause_deferrals() const noexcept { return pause_deferrals_; }

    /// Entries in the deadline heap, live (one per online peer) and dead
    /// (see options::compaction_slack): for memory accounting.
    std::size_t deadline_entries() const noexcept { return queue_.size(); }

    /// Calls `f(const peer_info&)` for every tracked peer, in no particular
    /// order. `f` must not modify the registry.
    template <class F>
    void for_each(F&& f) const
    {
        for (const slot& s : slots_)
            if (s.status != peer_status::unknown)
                f(make_info(s));
    }

    /// A copy of every tracked peer's record, for dashboards.
    std::vector<peer_info> snapshot() const
    {
        std::vector<peer_info> out;
        out.reserve(index_.size());
        for_each([&](const peer_info& p) { out.push_back(p); });
        return out;
    }

    /// Pre-allocates for `n` peers, so that touches of up to `n` new keys do
    /// not reallocate the tables.
    void reserve(std::size_t n)
    {
        index_.reserve(n);
        slots_.reserve(n);
        queue_.reserve(n);
    }

private:
    struct slot {
        slot(const Key& k, typename Policy::peer_state initial)
            : key(k), state(initial)
        {
        }

        Key key;
        time_point last_seen{};
        time_point deadline{};          // first instant the peer is offline
        std::uint64_t stamp = 0;        // last change; orders equal deadlines
        std::uint64_t armed_stamp = 0;  // stamp of the live queue entry; 0: none
        std::uint64_t beats = 0;
        std::uint64_t offline_episodes = 0;
        typename Policy::peer_state state;
        std::uint32_t generation = 0;
        peer_status status = peer_status::unknown;
    };

    static constexpr std::uint32_t npos = detail::slot_index<Key, Hash, KeyEqual>::npos;

    std::uint32_t lookup(const Key& key) const
    {
        return index_.find(key, [this](std::uint32_t i) -> const Key& { return slots_[i].key; });
    }

    using queue_type = detail::deadline_queue<time_point>;
    using entry = typename queue_type::entry;

    bool live(peer_handle h) const noexcept
    {
        return h.index < slots_.size()
               && slots_[h.index].generation == h.generation
               && slots_[h.index].status != peer_status::unknown;
    }

    // Is `e` the live entry of an online peer (as opposed to left behind by
    // a removal or by an earlier deadline)?
    static bool armed_by(const slot& s, const entry& e) noexcept
    {
        return s.status == peer_status::online && s.armed_stamp == e.stamp;
    }

    std::uint32_t allocate_slot(const Key& key)
    {
        if (!free_.empty()) {
            const std::uint32_t i = free_.back();
            free_.pop_back();
            slots_[i].key = key;
            return i;
        }
        slots_.emplace_back(key, policy_.initial_state());
        return static_cast<std::uint32_t>(slots_.size() - 1);
    }

    void release_slot(std::uint32_t i)
    {
        slot& s = slots_[i];
        s.status = peer_status::unknown;
        s.armed_stamp = 0;
        s.beats = 0;
        s.offline_episodes = 0;
        s.state = policy_.initial_state();
        ++s.generation;
        free_.push_back(i);
    }

    void touch_slot(std::uint32_t i, time_point now)
    {
        slot& s = slots_[i];
        if (s.status != peer_status::online) {
            bring_online(i, now);
            return;
        }
        ++s.beats;
        const time_point previous = s.last_seen;
        if (now > previous) {
            s.last_seen = now;
            policy_.on_beat(s.state, previous, now);
        }
        const time_point before = s.deadline;
        s.deadline = policy_.offline_at(s.state, s.last_seen);
        s.stamp = ++stamp_;
        // Fixed misses never moves a deadline earlier; an adaptive policy
        // may, and then the armed entry would fire too late.
        if (s.deadline < before)
            rearm_earlier(i);
    }

    void bring_online(std::uint32_t i, time_point now)
    {
        slot& s = slots_[i];
        ++s.beats;
        if (s.status == peer_status::unknown || now > s.last_seen)
            s.last_seen = now;
        s.status = peer_status::online;
        policy_.on_online(s.state, s.last_seen);
        s.deadline = policy_.offline_at(s.state, s.last_seen);
        s.stamp = ++stamp_;
        arm(i);
        ++online_;
        if (sink_) {
            const Key key = s.key;
            emit(key, transition::online, offline_reason::none, now, s.last_seen);
        }
    }

    void arm(std::uint32_t i)
    {
        slot& s = slots_[i];
        s.armed_stamp = s.stamp;
        queue_.push({s.deadline, s.stamp, i});
    }

    // The deadline moved earlier than the live entry: arm a new one and let
    // the old one die when it surfaces.
    void rearm_earlier(std::uint32_t i)
    {
        arm(i);
        compact_if_sparse();
    }

    void drop_dead_top() noexcept
    {
        while (!queue_.empty() && !armed_by(slots_[queue_.top().slot], queue_.top()))
            queue_.pop();
    }

    // Re-arm stale entries at the top now, so the deadline reported to the
    // caller's timer is exact and the timer is not woken for nothing.
    void settle_top()
    {
        for (;;) {
            drop_dead_top();
            if (queue_.empty())
                return;
            const entry& e = queue_.top();
            const slot& s = slots_[e.slot];
            if (s.deadline == e.deadline && s.stamp == e.stamp)
                return;
            const std::uint32_t i = queue_.pop().slot;
            arm(i);
        }
    }

    // Removals leave their entries behind; rebuild when they outnumber the
    // live ones by the slack, so the queue's memory stays proportional to
    // online peers. Each online peer has exactly one live entry.
    void compact_if_sparse()
    {
        const std::size_t dead = queue_.size() - std::min(queue_.size(), online_);
        if (dead == 0 || dead < online_ + opts_.compaction_slack)
            return;
        queue_.retain([this](const entry& e) { return armed_by(slots_[e.slot], e); });
    }

    peer_info make_info(const slot& s) const
    {
        return {s.key,  s.status,  s.last_seen, policy_.interval(s.state),
                s.beats, s.offline_episodes};
    }

    void emit(const Key& key, transition kind, offline_reason reason,
              time_point at, time_point last_seen)
    {
        if (sink_)
            sink_(event_type{key, kind, reason, at, last_seen});
    }

    Policy policy_;
    options opts_;
    event_sink sink_;
    detail::slot_index<Key, Hash, KeyEqual> index_;
    std::vector<slot> slots_;
    std::vector<std::uint32_t> free_;
    queue_type queue_;
    std::uint64_t stamp_ = 0;
    std::uint64_t pause_deferrals_ = 0;
    std::size_t online_ = 0;
    bool expiring_ = false;
};

} // namespace heartbeat

#endif
