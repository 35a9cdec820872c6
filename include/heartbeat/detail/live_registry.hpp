// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_DETAIL_LIVE_REGISTRY_HPP
#define HEARTBEAT_DETAIL_LIVE_REGISTRY_HPP

#include <heartbeat/core/registry.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/sweeper.hpp>

#include <chrono>
#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace heartbeat::detail {

/// A registry shared between a strand and other threads: the piece the
/// watcher and the monitor have in common.
///
/// - Mutations and queries run under a mutex (`locked`), so any thread may
///   query and the monitor may touch from any thread.
/// - Events are queued under that mutex and handed to the event handler by
///   `deliver()`, on the strand, outside the lock and in registry order, so
///   handlers may call back in.
/// - A sweeper on the strand expires peers at their deadlines.
template <class Key, class Policy, class Executor>
class live_registry {
public:
    using clock_type = typename Policy::clock_type;
    using time_point = typename clock_type::time_point;
    using duration = typename clock_type::duration;
    using registry_type = registry<Key, clock_type, Policy>;
    using event_type = peer_event<Key, time_point>;
    using event_handler = std::function<void(const event_type&)>;

    live_registry(const Executor& strand, const typename registry_type::options& opts)
        : reg_(opts), sweeper_(strand, *this)
    {
        reg_.on_event([this](const typename registry_type::event_type& e) {
            // The event's wall time travels with it, as the registry worked
            // it out: every handler sees the same one.
            pending_.push_back({e.key, e.kind, e.reason, e.at, e.last_seen, e.wall_time});
            has_pending_.store(true, std::memory_order_release);
        });
    }

    live_registry(const live_registry&) = delete;
    live_registry& operator=(const live_registry&) = delete;

    /// Called on the strand for every event, in order.
    void set_handler(event_handler h) { handler_ = std::move(h); }

    /// Runs `f(registry&)` under the lock and returns what it returns.
    template <class F>
    decltype(auto) locked(F&& f)
    {
        std::lock_guard<std::mutex> lock(mu_);
        return std::forward<F>(f)(reg_);
    }

    template <class F>
    decltype(auto) locked(F&& f) const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return std::forward<F>(f)(static_cast<const registry_type&>(reg_));
    }

    // Queries, for any thread.
    bool is_online(const Key& id) const
    {
        return locked([&](const registry_type& r) { return r.is_online(id); });
    }
    std::optional<time_point> last_seen(const Key& id) const
    {
        return locked([&](const registry_type& r) { return r.last_seen(id); });
    }
    std::optional<typename registry_type::peer_info> info(const Key& id) const
    {
        return locked([&](const registry_type& r) { return r.info(id); });
    }
    std::vector<typename registry_type::peer_info> snapshot() const
    {
        return locked([](const registry_type& r) { return r.snapshot(); });
    }
    std::size_t online_count() const
    {
        return locked([](const registry_type& r) { return r.online_count(); });
    }

    /// True if events wait for `deliver()`.
    bool has_pending() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return !pending_.empty();
    }

    /// On the strand: hands queued events to the handler.
    void deliver()
    {
        // A handler that causes more events (a callback that kicks a peer)
        // must not deliver them ahead of the rest of this batch: the loop
        // below picks them up in order.
        // The flag spares a lock per beat when there are no events. A change
        // made on another thread (a monitor's touch) reaches deliver()
        // through a dispatch to the strand, which makes its flag visible.
        if (delivering_ || !has_pending_.load(std::memory_order_acquire))
            return;
        delivering_ = true;
        struct reset {
            bool& flag;
            ~reset() { flag = false; }
        } guard{delivering_};
        for (;;) {
            std::vector<pending_event> batch;
            {
                std::lock_guard<std::mutex> lock(mu_);
                has_pending_.store(false, std::memory_order_relaxed);
                if (pending_.empty())
                    return;
                batch.swap(pending_);
            }
            for (const auto& ev : batch)
                if (handler_)
                    handler_(event_type{ev.key, ev.kind, ev.reason, ev.at, ev.last_seen, ev.wall_time});
        }
    }

    /// On the strand: start or stop expiring peers.
    void start() { sweeper_.start(); }
    void stop() { sweeper_.stop(); }

    /// On the strand, after a peer came online or an interval shrank.
    void rearm() { sweeper_.rearm(); }

    // ---- what the sweeper drives ------------------------------------------

    std::optional<time_point> expire(time_point now)
    {
        std::optional<time_point> next;
        duration late{};
        {
            std::lock_guard<std::mutex> lock(mu_);
            next = reg_.expire(now);
            late = reg_.last_lateness();
        }
        deliver();
        if (swept_)
            swept_(now, late);
        return next;
    }

    /// Called on the strand after every sweep, with its time and lateness
    /// (registry::last_lateness): the owner's measure of its own lag.
    void on_swept(std::function<void(time_point, duration)> f) { swept_ = std::move(f); }

    std::optional<time_point> next_deadline()
    {
        std::lock_guard<std::mutex> lock(mu_);
        return reg_.next_deadline();
    }

private:
    struct pending_event {
        Key key;
        transition kind;
        offline_reason reason;
        time_point at;
        time_point last_seen;
        std::chrono::system_clock::time_point wall_time;
    };

    mutable std::mutex mu_;
    registry_type reg_;
    std::vector<pending_event> pending_;
    event_handler handler_;
    std::function<void(time_point, duration)> swept_;
    bool delivering_ = false; // on the strand only
    std::atomic<bool> has_pending_{false}; // written under mu_
    sweeper<live_registry, Executor> sweeper_;
};

} // namespace heartbeat::detail

#endif
