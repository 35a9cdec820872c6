// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_DETAIL_DEADLINE_QUEUE_HPP
#define HEARTBEAT_CORE_DETAIL_DEADLINE_QUEUE_HPP

#include <algorithm>
#include <cstdint>
#include <vector>

namespace heartbeat::detail {

/// A 4-ary min-heap of (deadline, stamp, slot) entries.
///
/// The registry arms at most one live entry per online peer and lets it go
/// stale when the peer beats again ("lazy re-arming"): a beat only moves the
/// peer's real deadline later, so the old entry still fires no later than
/// the real deadline and is re-armed when it surfaces. deadline_schedule.hpp
/// does that; docs/CORE.md says why this beats a timing wheel here.
template <class TimePoint>
class deadline_queue {
public:
    struct entry {
        TimePoint deadline;
        std::uint32_t stamp; // unique per arming; orders equal deadlines
        std::uint32_t slot;
    };

    bool empty() const noexcept { return heap_.empty(); }
    std::size_t size() const noexcept { return heap_.size(); }
    const entry& top() const noexcept { return heap_.front(); }

    void push(const entry& e)
    {
        heap_.push_back(e);
        sift_up(heap_.size() - 1);
    }

    entry pop() noexcept
    {
        const entry top = heap_.front();
        const entry last = heap_.back();
        heap_.pop_back();
        if (!heap_.empty())
            sift_down(0, last);
        return top;
    }

    /// Drops every entry for which `keep` is false, in linear time.
    template <class Pred>
    void retain(Pred keep)
    {
        heap_.erase(std::remove_if(heap_.begin(), heap_.end(),
                                   [&](const entry& e) { return !keep(e); }),
                    heap_.end());
        for (std::size_t i = heap_.size() / arity + 1; i-- > 0;)
            if (i < heap_.size())
                sift_down(i, heap_[i]);
    }

    /// Lets `f(entry&)` rewrite every entry's stamp. The new stamps must
    /// keep the old ones' order, so that the heap stays a heap.
    template <class F>
    void relabel(F&& f)
    {
        for (entry& e : heap_)
            f(e);
    }

    void clear() noexcept { heap_.clear(); }
    void reserve(std::size_t n) { heap_.reserve(n); }

private:
    // Four children per node: half the depth of a binary heap, and a
    // node's children sit next to each other in memory, so a pop touches
    // about half as many cache lines (it is what expire() pays per due peer).
    static constexpr std::size_t arity = 4;

    static bool earlier(const entry& a, const entry& b) noexcept
    {
        if (a.deadline != b.deadline)
            return a.deadline < b.deadline;
        return a.stamp < b.stamp;
    }

    void sift_up(std::size_t i) noexcept
    {
        const entry e = heap_[i];
        while (i > 0) {
            const std::size_t parent = (i - 1) / arity;
            if (!earlier(e, heap_[parent]))
                break;
            heap_[i] = heap_[parent];
            i = parent;
        }
        heap_[i] = e;
    }

    // Places `e` at or below `i`, moving earlier children up.
    void sift_down(std::size_t i, const entry e) noexcept
    {
        const std::size_t n = heap_.size();
        for (;;) {
            const std::size_t first = arity * i + 1;
            if (first >= n)
                break;
            std::size_t best = first;
            const std::size_t end = std::min(first + arity, n);
            for (std::size_t c = first + 1; c < end; ++c)
                if (earlier(heap_[c], heap_[best]))
                    best = c;
            if (!earlier(heap_[best], e))
                break;
            heap_[i] = heap_[best];
            i = best;
        }
        heap_[i] = e;
    }

    std::vector<entry> heap_;
};

} // namespace heartbeat::detail

#endif
