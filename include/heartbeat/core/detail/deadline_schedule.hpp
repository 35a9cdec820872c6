// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_DETAIL_DEADLINE_SCHEDULE_HPP
#define HEARTBEAT_CORE_DETAIL_DEADLINE_SCHEDULE_HPP

#include <heartbeat/core/detail/deadline_queue.hpp>
#include <heartbeat/core/events.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace heartbeat::detail {

/// When the registry's peers fall due: the deadline heap with lazy
/// re-arming, and the local-pause guard (docs/CORE.md has the reasons for
/// both).
///
/// It keeps no per-peer state of its own, so that a beat writes only the
/// peer's slot: it reads and writes four fields of `slots[i]`, for a slot
/// number i: `deadline` (the first instant the peer is offline), `stamp`
/// (from `next_stamp()` whenever the deadline is set), `armed_stamp` (the
/// stamp of the peer's one live heap entry, 0 for none) and `status` (only
/// online peers have a live entry).
template <class TimePoint>
class deadline_schedule {
    using queue_type = deadline_queue<TimePoint>;
    using entry = typename queue_type::entry;

public:
    /// A stamp for a deadline just set. Increasing, so that equal
    /// deadlines fall due in the order they were set.
    std::uint64_t next_stamp() noexcept { return ++stamp_; }

    /// Makes slot `i`'s current deadline its live entry; an older entry of
    /// the slot is dead from now on.
    template <class Slots>
    void arm(Slots& slots, std::uint32_t i)
    {
        auto& s = slots[i];
        s.armed_stamp = s.stamp;
        queue_.push({s.deadline, s.stamp, i});
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
        queue_.retain([&slots](const entry& e) { return armed_by(slots[e.slot], e); });
    }

    /// The earliest deadline of an online peer, or nothing.
    template <class Slots>
    std::optional<TimePoint> next_deadline(Slots& slots)
    {
        settle_top(slots);
        if (queue_.empty())
            return std::nullopt;
        return queue_.top().deadline;
    }

    /// Takes out every entry due at or before `now`, re-arming those whose
    /// peer beat since, and calls `on_due(slot_number)` for each peer whose
    /// real deadline passed, earliest first, its live entry already gone.
    /// If `now` is more than `pause_threshold` (when above zero) past the
    /// earliest due deadline, this process was paused: every peer due is
    /// given until `now + pause_grace` inclusive instead, and none is
    /// passed to `on_due`.
    ///
    /// `on_due` may arm, add and remove peers: nothing is held across it.
    template <class Slots, class Duration, class OnDue>
    void pop_due(Slots& slots, TimePoint now, Duration pause_threshold,
                 Duration pause_grace, OnDue&& on_due)
    {
        drop_dead_top(slots);
        const bool paused = !queue_.empty() && queue_.top().deadline <= now
                            && pause_threshold > Duration::zero()
                            && now - queue_.top().deadline > pause_threshold;
        // Online through now + grace inclusive, like any other deadline.
        const TimePoint resume_by = now + pause_grace + Duration(1);

        while (!queue_.empty() && queue_.top().deadline <= now) {
            const auto e = queue_.pop();
            auto& s = slots[e.slot];
            if (!armed_by(s, e))
                continue;
            if (s.deadline != e.deadline || s.stamp != e.stamp) {
                arm(slots, e.slot); // stale: the peer beat since this was armed
                continue;
            }
            if (paused) {
                s.deadline = resume_by;
                arm(slots, e.slot);
                ++pause_deferrals_;
                continue;
            }
            s.armed_stamp = 0;
            on_due(e.slot);
        }
    }

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

    template <class Slots>
    void drop_dead_top(const Slots& slots) noexcept
    {
        while (!queue_.empty() && !armed_by(slots[queue_.top().slot], queue_.top()))
            queue_.pop();
    }

    // Re-arm stale entries at the top now, so the deadline reported to the
    // caller's timer is exact and the timer is not woken for nothing.
    template <class Slots>
    void settle_top(Slots& slots)
    {
        for (;;) {
            drop_dead_top(slots);
            if (queue_.empty())
                return;
            const entry& e = queue_.top();
            const auto& s = slots[e.slot];
            if (s.deadline == e.deadline && s.stamp == e.stamp)
                return;
            const std::uint32_t i = queue_.pop().slot;
            arm(slots, i);
        }
    }

    queue_type queue_;
    std::uint64_t stamp_ = 0;
    std::uint64_t pause_deferrals_ = 0;
};

} // namespace heartbeat::detail

#endif
