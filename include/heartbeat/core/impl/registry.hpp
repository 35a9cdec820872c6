// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_IMPL_REGISTRY_HPP
#define HEARTBEAT_CORE_IMPL_REGISTRY_HPP

// The longer member bodies of registry, out of the class so that its
// interface reads in one place.
#include <heartbeat/core/registry.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace heartbeat {

template <class Key, class Clock, class Policy, class Hash, class KeyEqual>
auto registry<Key, Clock, Policy, Hash, KeyEqual>::touch(const Key& key, time_point now)
    -> peer_handle
{
    const std::uint32_t found = table_.find(key);
    if (found != npos) {
        const peer_handle h = table_.handle(found);
        touch_slot(found, now);
        return h;
    }
    if (opts_.max_peers != 0 && table_.size() >= opts_.max_peers)
        return {};
    const std::uint32_t i = table_.insert(key, policy_);
    const peer_handle h = table_.handle(i);
    bring_online(i, now);
    return h;
}

template <class Key, class Clock, class Policy, class Hash, class KeyEqual>
auto registry<Key, Clock, Policy, Hash, KeyEqual>::set_interval(peer_handle h,
                                                                duration announced)
    -> std::optional<duration>
{
    return set_terms(h, announced, 0);
}

template <class Key, class Clock, class Policy, class Hash, class KeyEqual>
auto registry<Key, Clock, Policy, Hash, KeyEqual>::set_terms(peer_handle h, duration interval, unsigned misses)
    -> std::optional<duration>
{
    if (!table_.live(h))
        return std::nullopt;
    slot& s = table_[h.index];
    const time_point before = policy_.offline_at(s.state, s.last_seen);
    const duration held = policy_.set_interval(s.state, interval);
    if constexpr (detail::counts_misses_per_peer<Policy>::value) {
        if (misses != 0)
            policy_.set_misses(s.state, misses);
    }
    if (s.status == peer_status::online) {
        schedule_.restamp(table_, h.index);
        reschedule(h.index, before);
    }
    return held;
}

template <class Key, class Clock, class Policy, class Hash, class KeyEqual>
bool registry<Key, Clock, Policy, Hash, KeyEqual>::remove(peer_handle h, offline_reason reason,
                                                          time_point now)
{
    if (!table_.live(h))
        return false;
    slot& s = table_[h.index];
    const bool was_online = s.status == peer_status::online;
    const time_point last_seen = s.last_seen;
    // Keep what the event needs before the slot is recycled.
    std::optional<Key> key;
    std::chrono::system_clock::time_point wall{};
    if (was_online && sink_) {
        key.emplace(std::move(s.key));
        wall = wall_time(now); // no record to stamp: the slot goes
    }
    table_.erase(h.index, key ? *key : s.key, policy_);
    if (was_online) {
        --online_;
        compact_if_sparse();
    }
    if (key)
        emit(*key, transition::offline, reason, now, last_seen, wall);
    return true;
}

template <class Key, class Clock, class Policy, class Hash, class KeyEqual>
void registry<Key, Clock, Policy, Hash, KeyEqual>::clear(offline_reason reason, time_point now)
{
    std::vector<peer_handle> all;
    all.reserve(table_.size());
    table_.for_each_index([&](std::uint32_t i) { all.push_back(table_.handle(i)); });
    for (peer_handle h : all)
        remove(h, reason, now);
}

template <class Key, class Clock, class Policy, class Hash, class KeyEqual>
auto registry<Key, Clock, Policy, Hash, KeyEqual>::expire(time_point now)
    -> std::optional<time_point>
{
    if (expiring_)
        return next_deadline();
    expiring_ = true;
    struct reset_flag {
        bool& flag;
        ~reset_flag() { flag = false; }
    } reset{expiring_};

    schedule_.pop_due(table_, now, {opts_.pause_threshold, opts_.pause_grace, opts_.lag_threshold}, deadline_of(),
                      [&](std::uint32_t i) {
                          slot& s = table_[i];
                          s.status = peer_status::offline;
                          ++s.offline_episodes;
                          --online_;
                          const auto wall = stamp_transition(i, now);
                          if (sink_) {
                              const Key key = s.key; // s may move if the sink adds peers
                              emit(key, transition::offline, offline_reason::timeout, now,
                                   s.last_seen, wall);
                          }
                      });
    return next_deadline();
}

template <class Key, class Clock, class Policy, class Hash, class KeyEqual>
void registry<Key, Clock, Policy, Hash, KeyEqual>::touch_slot(std::uint32_t i, time_point now)
{
    slot& s = table_[i];
    if (s.status != peer_status::online) {
        bring_online(i, now);
        return;
    }
    ++s.beats;
    const time_point previous = s.last_seen;
    const time_point before = policy_.offline_at(s.state, previous);
    if (now > previous) {
        s.last_seen = now;
        policy_.on_beat(s.state, previous, now);
    }
    schedule_.restamp(table_, i);
    // Fixed misses never moves a deadline earlier; an adaptive policy
    // may, and then the armed entry would fire too late.
    reschedule(i, before);
}

template <class Key, class Clock, class Policy, class Hash, class KeyEqual>
void registry<Key, Clock, Policy, Hash, KeyEqual>::bring_online(std::uint32_t i, time_point now)
{
    slot& s = table_[i];
    ++s.beats;
    if (s.status == peer_status::unknown || now > s.last_seen)
        s.last_seen = now;
    s.status = peer_status::online;
    policy_.on_online(s.state, s.last_seen);
    schedule_.restamp(table_, i);
    schedule_.arm(table_, i, policy_.offline_at(s.state, s.last_seen));
    ++online_;
    const auto wall = stamp_transition(i, now);
    if (sink_) {
        const Key key = s.key;
        emit(key, transition::online, offline_reason::none, now, s.last_seen, wall);
    }
}

} // namespace heartbeat

#endif
