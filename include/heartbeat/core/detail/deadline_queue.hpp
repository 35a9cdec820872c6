// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_DETAIL_DEADLINE_QUEUE_HPP
#define HEARTBEAT_CORE_DETAIL_DEADLINE_QUEUE_HPP

#include <algorithm>
#include <cstdint>
#include <vector>

namespace heartbeat::detail {

/// A binary min-heap of (deadline, stamp, slot) entries.
///
/// The registry arms at most one live entry per online peer and lets it go
/// stale when the peer beats again ("lazy re-arming"): a beat only moves the
/// peer's real deadline later, so the old entry still fires no later than
/// the real deadline and is re-armed when it surfaces. See registry.hpp and
/// docs/CORE.md for why this beats a timing wheel here.
template <class TimePoint>
class deadline_queue {
public:
    struct entry {
        TimePoint deadline;
        std::uint64_t stamp; // unique per arming; orders equal deadlines
        std::uint32_t slot;
    };

    bool empty() const noexcept { return heap_.empty(); }
    std::size_t size() const noexcept { return heap_.size(); }
    const entry& top() const noexcept { return heap_.front(); }

    void push(const entry& e)
    {
        heap_.push_back(e);
        std::push_heap(heap_.begin(), heap_.end(), later);
    }

    entry pop() noexcept
    {
        std::pop_heap(heap_.begin(), heap_.end(), later);
        entry e = heap_.back();
        heap_.pop_back();
        return e;
    }

    /// Drops every entry for which `keep` is false, in linear time.
    template <class Pred>
    void retain(Pred keep)
    {
        heap_.erase(std::remove_if(heap_.begin(), heap_.end(),
                                   [&](const entry& e) { return !keep(e); }),
                    heap_.end());
        std::make_heap(heap_.begin(), heap_.end(), later);
    }

    void clear() noexcept { heap_.clear(); }
    void reserve(std::size_t n) { heap_.reserve(n); }

private:
    // std heap algorithms build a max-heap; "later" puts the earliest on top.
    static bool later(const entry& a, const entry& b) noexcept
    {
        if (a.deadline != b.deadline)
            return b.deadline < a.deadline;
        return b.stamp < a.stamp;
    }

    std::vector<entry> heap_;
};

} // namespace heartbeat::detail

#endif
