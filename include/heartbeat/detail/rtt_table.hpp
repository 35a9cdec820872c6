// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_RTT_TABLE_HPP
#define HEARTBEAT_DETAIL_RTT_TABLE_HPP

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace heartbeat::detail {

/// One peer's round-trip figures, in microseconds (-1: none yet). Its
/// session writes them on the strand with plain atomic stores, per beat,
/// without a lock or a lookup; queries read them from any thread.
struct rtt_cell {
    std::atomic<std::int64_t> smoothed{-1};
    std::atomic<std::int64_t> variation{-1};
    std::atomic<std::int64_t> last{-1};
    std::atomic<std::int64_t> kernel{-1};

    template <class Duration>
    static void store(std::atomic<std::int64_t>& to, const std::optional<Duration>& d) noexcept
    {
        to.store(d ? std::chrono::duration_cast<std::chrono::microseconds>(*d).count() : -1,
                 std::memory_order_relaxed);
    }

    static std::optional<std::chrono::microseconds> load(const std::atomic<std::int64_t>& from) noexcept
    {
        const auto v = from.load(std::memory_order_relaxed);
        if (v < 0)
            return std::nullopt;
        return std::chrono::microseconds(v);
    }
};

/// The RTT cells of online peers by key: opened when a peer comes online,
/// dropped when it goes. The map has a lock of its own (the registry's is
/// for the hot path); the cells are shared with their sessions.
template <class Key>
class rtt_table {
public:
    std::shared_ptr<rtt_cell> open(const Key& k)
    {
        auto cell = std::make_shared<rtt_cell>();
        std::lock_guard<std::mutex> lock(mu_);
        map_[k] = cell;
        return cell;
    }

    void erase(const Key& k)
    {
        std::lock_guard<std::mutex> lock(mu_);
        map_.erase(k);
    }

    std::shared_ptr<const rtt_cell> find(const Key& k) const
    {
        std::lock_guard<std::mutex> lock(mu_);
        const auto it = map_.find(k);
        if (it == map_.end())
            return nullptr;
        return it->second;
    }

private:
    mutable std::mutex mu_;
    std::unordered_map<Key, std::shared_ptr<rtt_cell>> map_;
};

} // namespace heartbeat::detail

#endif
