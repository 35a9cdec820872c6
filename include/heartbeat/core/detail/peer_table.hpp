// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_DETAIL_PEER_TABLE_HPP
#define HEARTBEAT_CORE_DETAIL_PEER_TABLE_HPP

#include <heartbeat/core/detail/slot_index.hpp>
#include <heartbeat/core/events.hpp>
#include <heartbeat/core/registry_types.hpp>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace heartbeat::detail {

/// The registry's peer records, found by key through a slot_index.
///
/// Slots live in one vector and are recycled through a free list, so churn
/// reuses memory instead of growing it and a slot number stays valid for a
/// peer's whole life (the deadline heap refers to peers by it). A slot's
/// generation goes up each time it is freed, which is what lets a
/// peer_handle that outlived its peer be detected.
template <class Key, class TimePoint, class PeerState, class Hash, class KeyEqual>
class peer_table {
public:
    // Ordered to leave no padding between fields: with a 64-bit key and
    // fixed_misses on 64-bit time it is 64 bytes. No deadline: it follows
    // from `state` and `last_seen` (deadline_schedule.hpp).
    struct slot_fields {
        slot_fields(const Key& k, PeerState initial)
            : key(k), state(initial)
        {
        }

        Key key;
        TimePoint last_seen{};
        PeerState state;
        std::uint64_t beats = 0;
        std::uint64_t offline_episodes = 0;
        std::uint32_t stamp = 0;        // last change; orders equal deadlines
        std::uint32_t armed_stamp = 0;  // stamp of the live queue entry; 0: none
        std::uint32_t generation = 0;
        peer_status status = peer_status::unknown;
        bool deferred = false;          // the pause guard set the live entry's deadline
    };

    // A slot that divides a cache line is aligned to its size, so that a
    // touch reads one line, not two; a larger one is left as it is (the
    // padding would cost more than the second line).
    static constexpr std::size_t cache_line = 64;
    static constexpr std::size_t slot_alignment =
        sizeof(slot_fields) <= cache_line && cache_line % sizeof(slot_fields) == 0
            ? sizeof(slot_fields)
            : alignof(slot_fields);

    struct alignas(slot_alignment) slot : slot_fields {
        using slot_fields::slot_fields;
    };

    static constexpr std::uint32_t npos = slot_index<Key, Hash, KeyEqual>::npos;

    /// Peers tracked, online or offline.
    std::size_t size() const noexcept { return index_.size(); }
    bool empty() const noexcept { return index_.empty(); }

    slot& operator[](std::uint32_t i) noexcept { return slots_[i]; }
    const slot& operator[](std::uint32_t i) const noexcept { return slots_[i]; }

    /// The slot of `key`, or npos.
    std::uint32_t find(const Key& key) const
    {
        return index_.find(key, [this](std::uint32_t i) -> const Key& { return slots_[i].key; });
    }

    peer_handle handle(std::uint32_t i) const noexcept { return {i, slots_[i].generation}; }

    bool live(peer_handle h) const noexcept
    {
        return h.index < slots_.size()
               && slots_[h.index].generation == h.generation
               && slots_[h.index].status != peer_status::unknown;
    }

    /// Gives `key`, not yet tracked, a slot with status unknown; a new
    /// slot starts from `policy.initial_state()` (a recycled one was reset
    /// to it when freed).
    template <class Policy>
    std::uint32_t insert(const Key& key, const Policy& policy)
    {
        const std::uint32_t i = allocate(key, policy);
        index_.insert(key, i);
        return i;
    }

    /// Forgets the peer in slot `i`. `key` is its key: the slot's own, or
    /// a copy the caller moved out of it to outlive the slot's reuse.
    template <class Policy>
    void erase(std::uint32_t i, const Key& key, const Policy& policy)
    {
        index_.erase(key, i);
        slot& s = slots_[i];
        s.status = peer_status::unknown;
        s.armed_stamp = 0;
        s.deferred = false;
        s.beats = 0;
        s.offline_episodes = 0;
        s.state = policy.initial_state();
        ++s.generation;
        free_.push_back(i);
    }

    /// Calls `f(std::uint32_t slot_number)` for every tracked peer, in the
    /// key index's order.
    template <class F>
    void for_each_index(F&& f) const
    {
        index_.for_each(std::forward<F>(f));
    }

    /// Calls `f(const slot&)` for every tracked peer, in slot order.
    template <class F>
    void for_each(F&& f) const
    {
        for (const slot& s : slots_)
            if (s.status != peer_status::unknown)
                f(s);
    }

    void reserve(std::size_t n)
    {
        index_.reserve(n);
        slots_.reserve(n);
    }

private:
    template <class Policy>
    std::uint32_t allocate(const Key& key, const Policy& policy)
    {
        if (!free_.empty()) {
            const std::uint32_t i = free_.back();
            free_.pop_back();
            slots_[i].key = key;
            return i;
        }
        slots_.emplace_back(key, policy.initial_state());
        return static_cast<std::uint32_t>(slots_.size() - 1);
    }

    slot_index<Key, Hash, KeyEqual> index_;
    std::vector<slot> slots_;
    std::vector<std::uint32_t> free_;
};

} // namespace heartbeat::detail

#endif
