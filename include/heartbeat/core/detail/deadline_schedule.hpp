// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_DETAIL_DEADLINE_SCHEDULE_HPP
#define HEARTBEAT_CORE_DETAIL_DEADLINE_SCHEDULE_HPP

#include <heartbeat/core/detail/deadline_queue.hpp>
#include <heartbeat/core/events.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace heartbeat::detail {

/// When the registry's peers fall due: the deadline heap with lazy
/// re-arming, and the local-pause guard (docs/CORE.md has the reasons for
/// both).
///
/// It keeps no per-peer state of its own, so that a beat writes only the
/// peer's slot. A slot does not store its deadline either (8 bytes a peer):
/// the caller's `deadline_of(slot)` works it out from the policy state and
/// the last sign of life, which is cheap and exact. The one deadline that
/// cannot be worked out so is the local-pause guard's `now + grace`: a slot
/// so deferred has `deferred` set, and its live entry holds the deadline.
///
/// Fields of `slots[i]` read and written here: `stamp` (set by `restamp`
/// whenever the deadline may have changed), `armed_stamp` (the stamp of the
/// peer's one live heap entry, 0 for none), `deferred` and `status` (only
/// online peers have a live entry).
///
/// Stamps are 32 bits, to keep slots and entries small. When they run out
/// (once per 4 billion changes) the stamps in use are renumbered in their
/// order, which needs fewer than 2^31 online peers.
template <class TimePoint>
class deadline_schedule {
    using queue_type = deadline_queue<TimePoint>;
    using entry = typename queue_type::entry;

public:
    using duration = typename TimePoint::duration;

    /// `last_issued` is the stamp to count up from; tests start near the
    /// end to exercise the renumbering.
    explicit deadline_schedule(std::uint32_t last_issued = 0) noexcept : stamp_(last_issued) {}

    /// Gives slot `i` a new stamp: its deadline was just set, and equal
    /// deadlines fall due in the order they were set.
    template <class Slots>
    void restamp(Slots& slots, std::uint32_t i)
    {
        if (stamp_ == std::numeric_limits<std::uint32_t>::max())
            renumber(slots);
        slots[i].stamp = ++stamp_;
    }

    /// Makes `deadline`, slot `i`'s current one, its live entry; an older
    /// entry of the slot is dead from now on.
    template <class Slots>
    void arm(Slots& slots, std::uint32_t i, TimePoint deadline)
    {
        auto& s = slots[i];
        s.armed_stamp = s.stamp;
        queue_.push({deadline, s.stamp, i});
    }

    /// Slot `i`'s deadline moved from `before` to `after` (it was just
    /// restamped). Arms a new entry if the live one would now fire too late
    /// (an earlier deadline, or one the pause guard had put off, which
    /// `before` does not show).
    ///
    /// @returns whether it armed one (an entry may have died).
    template <class Slots>
    bool moved(Slots& slots, std::uint32_t i, TimePoint before, TimePoint after)
    {
        auto& s = slots[i];
        if (!s.deferred && !(after < before))
            return false;
        s.deferred = false;
        arm(slots, i, after);
        return true;
    }

    // Removals leave their entries behind; rebuild when they outnumber the
    // live ones by the slack, so the queue's memory stays proportional to
    // online peers. Each online peer has exactly one live entry.
    template <class Slots>
    void compact_if_sparse(const Slots& slots, std::size_t online, std::size_t slack)
    {
        const std::size_t dead = queue_.size() - std::min(queue_.size(), online);
        if (dead == 0 || dead < online + slack)
            return;
        drop_dead(slots);
    }

    /// The earliest deadline of an online peer, or nothing.
    template <class Slots, class DeadlineOf>
    std::optional<TimePoint> next_deadline(Slots& slots, DeadlineOf&& deadline_of)
    {
        settle_top(slots, deadline_of);
        if (queue_.empty())
            return std::nullopt;
        return queue_.top().deadline;
    }

    /// How a late `pop_due` treats the peers that fell due while it was
    /// late (the local-pause guard). A zero threshold disables its rule.
    struct lateness_guard {
        duration pause_threshold{}; ///< later than this: a pause, due peers get `pause_grace`
        duration pause_grace{};
        duration lag_threshold{};   ///< later than this, short of a pause: due peers get the lateness again
    };

    /// Takes out every entry due at or before `now`, re-arming those whose
    /// peer beat since, and calls `on_due(slot_number)` for each peer whose
    /// real deadline passed, earliest first, its live entry already gone.
    ///
    /// The call's lateness is `now` minus the earliest due deadline. If it
    /// is more than `guard.pause_threshold`, this process was paused: every
    /// peer due is given until `now + pause_grace` inclusive instead, and
    /// none is passed to `on_due`. If it is only more than
    /// `guard.lag_threshold`, this process is behind (a busy event loop):
    /// beats that came within the lateness may still wait unread, so every
    /// peer due is given until `now + min(lateness, pause_grace)`. Either
    /// rule defers a deadline once: a deferred peer still silent when its
    /// deferral ends is passed to `on_due`, however late that call is, so
    /// under a lasting lag detection is late by about twice the lag, never
    /// indefinitely.
    ///
    /// `on_due` may arm, add and remove peers: nothing is held across it.
    template <class Slots, class DeadlineOf, class OnDue>
    void pop_due(Slots& slots, TimePoint now, const lateness_guard& guard, DeadlineOf&& deadline_of,
                 OnDue&& on_due)
    {
        drop_dead_top(slots);
        last_lateness_ = {};
        if (queue_.empty() || now < queue_.top().deadline)
            return;
        const auto late = now - queue_.top().deadline;
        last_lateness_ = late;
        const bool paused = guard.pause_threshold > duration::zero() && late > guard.pause_threshold;
        const bool behind = !paused && guard.lag_threshold > duration::zero() && late > guard.lag_threshold;
        // Online through the deferral's end inclusive, like any other deadline.
        const TimePoint resume_by = now + (paused ? guard.pause_grace : std::min(late, guard.pause_grace)) + duration(1);

        while (!queue_.empty() && queue_.top().deadline <= now) {
            const auto e = queue_.pop();
            auto& s = slots[e.slot];
            if (!armed_by(s, e))
                continue;
            if (const TimePoint real = deadline(s, e, deadline_of); !current(s, e, real)) {
                arm(slots, e.slot, real); // stale: the peer beat since this was armed
                continue;
            }
            if ((paused || behind) && !s.deferred) {
                s.deferred = true;
                arm(slots, e.slot, resume_by);
                ++pause_deferrals_;
                continue;
            }
            s.armed_stamp = 0;
            s.deferred = false;
            on_due(e.slot);
        }
    }

    /// The last `pop_due`'s lateness: zero if nothing was due.
    duration last_lateness() const noexcept { return last_lateness_; }

    /// Entries in the heap, live and dead.
    std::size_t size() const noexcept { return queue_.size(); }

    /// How often the local-pause guard deferred a deadline.
    std::uint64_t pause_deferrals() const noexcept { return pause_deferrals_; }

    void reserve(std::size_t n) { queue_.reserve(n); }

private:
    // Is `e` the live entry of an online peer (as opposed to left behind by
    // a removal or by an earlier deadline)?
    template <class Slot>
    static bool armed_by(const Slot& s, const entry& e) noexcept
    {
        return s.status == peer_status::online && s.armed_stamp == e.stamp;
    }

    // The real deadline of the peer whose live entry is `e`. A deferral is
    // undone by the peer's next change, which arms afresh (`moved`).
    template <class Slot, class DeadlineOf>
    static TimePoint deadline(const Slot& s, const entry& e, DeadlineOf& deadline_of)
    {
        return s.deferred ? e.deadline : deadline_of(s);
    }

    // Does live entry `e` still say when its peer falls due, and in which
    // turn among equal deadlines? A change that left the deadline where it
    // was still moves the peer behind those changed before it.
    template <class Slot>
    static bool current(const Slot& s, const entry& e, TimePoint real) noexcept
    {
        return real == e.deadline && s.stamp == e.stamp;
    }

    template <class Slots>
    void drop_dead(const Slots& slots)
    {
        queue_.retain([&slots](const entry& e) { return armed_by(slots[e.slot], e); });
    }

    template <class Slots>
    void drop_dead_top(const Slots& slots) noexcept
    {
        while (!queue_.empty() && !armed_by(slots[queue_.top().slot], queue_.top()))
            queue_.pop();
    }

    // Re-arm stale entries at the top now, so the deadline reported to the
    // caller's timer is exact and the timer is not woken for nothing.
    template <class Slots, class DeadlineOf>
    void settle_top(Slots& slots, DeadlineOf& deadline_of)
    {
        for (;;) {
            drop_dead_top(slots);
            if (queue_.empty())
                return;
            const entry& e = queue_.top();
            const auto& s = slots[e.slot];
            const TimePoint real = deadline(s, e, deadline_of);
            if (current(s, e, real))
                return;
            const std::uint32_t i = queue_.pop().slot;
            arm(slots, i, real);
        }
    }

    // The stamps ran out: number the ones in use 1, 2, ... in their order.
    // Those are each online peer's stamp and its live entry's (dead entries
    // go first); offline peers' stamps are set afresh when they come back.
    template <class Slots>
    void renumber(Slots& slots)
    {
        drop_dead(slots);
        std::vector<std::uint32_t> in_use;
        in_use.reserve(2 * queue_.size());
        queue_.relabel([&](const entry& e) {
            in_use.push_back(e.stamp);
            in_use.push_back(slots[e.slot].stamp);
        });
        std::sort(in_use.begin(), in_use.end());
        in_use.erase(std::unique(in_use.begin(), in_use.end()), in_use.end());
        const auto rank = [&in_use](std::uint32_t stamp) {
            const auto at = std::lower_bound(in_use.begin(), in_use.end(), stamp);
            return static_cast<std::uint32_t>(at - in_use.begin()) + 1;
        };
        queue_.relabel([&](entry& e) {
            auto& s = slots[e.slot];
            s.stamp = rank(s.stamp);
            s.armed_stamp = e.stamp = rank(e.stamp);
        });
        stamp_ = static_cast<std::uint32_t>(in_use.size());
    }

    queue_type queue_;
    std::uint32_t stamp_;
    std::uint64_t pause_deferrals_ = 0;
    duration last_lateness_{};
};

} // namespace heartbeat::detail

#endif
