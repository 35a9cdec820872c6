// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_RTT_TABLE_HPP
#define HEARTBEAT_DETAIL_RTT_TABLE_HPP

#include <chrono>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace heartbeat::detail {

/// The last RTT sample per peer: written on the strand, read by queries
/// from any thread, so it has a lock of its own (the registry's lock is
/// for the hot path).
template <class Key, class Duration = std::chrono::microseconds>
class rtt_table {
public:
    void set(const Key& k, Duration d)
    {
        std::lock_guard<std::mutex> lock(mu_);
        map_[k] = d;
    }

    void erase(const Key& k)
    {
        std::lock_guard<std::mutex> lock(mu_);
        map_.erase(k);
    }

    std::optional<Duration> get(const Key& k) const
    {
        std::lock_guard<std::mutex> lock(mu_);
        const auto it = map_.find(k);
        if (it == map_.end())
            return std::nullopt;
        return it->second;
    }

private:
    mutable std::mutex mu_;
    std::unordered_map<Key, Duration> map_;
};

} // namespace heartbeat::detail

#endif
