// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_SESSION_TABLE_HPP
#define HEARTBEAT_DETAIL_SESSION_TABLE_HPP

#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace heartbeat::detail {

/// A cell per online session, by key, for queries from any thread: opened when
/// a peer comes online, dropped when it is gone. The map has a lock of its
/// own (the registry's is for the hot path); the cells are shared with
/// their sessions, which update them without the lock or a lookup.
template <class Key, class Cell>
class session_table {
public:
    /// Replaces any cell `k` had.
    void open(const Key& k, std::shared_ptr<Cell> cell)
    {
        std::lock_guard<std::mutex> lock(mu_);
        map_[k] = std::move(cell);
    }

    void erase(const Key& k)
    {
        std::lock_guard<std::mutex> lock(mu_);
        map_.erase(k);
    }

    std::shared_ptr<const Cell> find(const Key& k) const
    {
        std::lock_guard<std::mutex> lock(mu_);
        const auto it = map_.find(k);
        if (it == map_.end())
            return nullptr;
        return it->second;
    }

    /// `f(const Cell&)` for each cell, under the lock.
    template <class F>
    void for_each(F&& f) const
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& kv : map_)
            f(static_cast<const Cell&>(*kv.second));
    }

    std::size_t size() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return map_.size();
    }

private:
    mutable std::mutex mu_;
    std::unordered_map<Key, std::shared_ptr<Cell>> map_;
};

} // namespace heartbeat::detail

#endif
