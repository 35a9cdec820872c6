// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_OBSERVER_HPP
#define HEARTBEAT_OBSERVER_HPP

// Observer mode: liveness for programs that keep their own protocol on the
// socket. They call touch() whenever something arrives and say how a beat
// is written; heartbeat keeps the time.

#include <heartbeat/core/fixed_misses.hpp>
#include <heartbeat/detail/config.hpp>
#include <heartbeat/detail/live_registry.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace heartbeat {

/// Server side of observer mode: a thread-safe last-seen registry with its
/// sweeper. Call `touch(id)` from any thread whenever peer `id` sends
/// anything; `on_offline` fires after N silent intervals.
///
/// @par Thread safety
/// Every public function may be called from any thread. Callbacks run on
/// the monitor's strand, one at a time, in order.
template <class Key, class Policy = fixed_misses<std::chrono::steady_clock>>
class monitor {
public:
    using key_type = Key;
    using clock_type = typename Policy::clock_type;
    using duration = typename clock_type::duration;
    using time_point = typename clock_type::time_point;
    using executor_type = net::strand<net::any_io_executor>;
    using registry_type = registry<Key, clock_type, Policy>;
    using peer_info = typename registry_type::peer_info;
    using options = typename registry_type::options;

    monitor(const net::any_io_executor& ex, const options& opts = {})
        : impl_(std::make_shared<impl>(net::make_strand(ex), opts))
    {
    }

    template <class ExecutionContext,
              class = std::enable_if_t<std::is_convertible_v<ExecutionContext&, net::execution_context&>>>
    explicit monitor(ExecutionContext& ctx, const options& opts = {})
        : monitor(net::any_io_executor(ctx.get_executor()), opts)
    {
    }

    monitor(const monitor&) = delete;
    monitor& operator=(const monitor&) = delete;
    ~monitor() { stop(); }

    executor_type get_executor() const noexcept { return impl_->strand; }

    /// Callbacks; set them before the first touch.
    void on_online(std::function<void(const Key&)> f) { impl_->cb_online = std::move(f); }
    void on_offline(std::function<void(const Key&, offline_reason)> f) { impl_->cb_offline = std::move(f); }

    /// Records a sign of life of `id` now.
    /// @returns false if `id` is new and max_peers are tracked.
    bool touch(const Key& id)
    {
        const bool ok = impl_->table.locked([&](registry_type& r) { return r.touch(id).valid(); });
        impl_->after_change();
        return ok;
    }

    /// The interval `id` announced (clamped); see registry::set_interval.
    std::optional<duration> set_interval(const Key& id, duration d)
    {
        auto held = impl_->table.locked([&](registry_type& r) { return r.set_interval(id, d); });
        impl_->after_change();
        return held;
    }

    /// Forgets `id` (its connection closed): offline with `reason` if it was
    /// online.
    bool remove(const Key& id, offline_reason reason = offline_reason::disconnected)
    {
        const bool known = impl_->table.locked([&](registry_type& r) { return r.remove(id, reason); });
        impl_->after_change();
        return known;
    }

    /// Stops the sweeper; online peers go offline with reason shutdown. No
    /// callback runs after the stop has been carried out on the strand.
    void stop()
    {
        net::dispatch(impl_->strand, [self = impl_] {
            if (self->stopped)
                return;
            self->table.stop();
            self->table.locked([](registry_type& r) { r.clear(offline_reason::shutdown); });
            self->table.deliver();
            self->stopped = true;
            self->cb_online = nullptr;
            self->cb_offline = nullptr;
        });
    }

    bool is_online(const Key& id) const
    {
        return impl_->table.is_online(id);
    }
    std::optional<time_point> last_seen(const Key& id) const
    {
        return impl_->table.last_seen(id);
    }
    std::optional<peer_info> info(const Key& id) const
    {
        return impl_->table.info(id);
    }
    std::vector<peer_info> snapshot() const
    {
        return impl_->table.snapshot();
    }
    std::size_t online_count() const
    {
        return impl_->table.online_count();
    }

private:
    struct impl : std::enable_shared_from_this<impl> {
        impl(const executor_type& s, const options& o) : strand(s), table(strand, o)
        {
            table.set_handler([this](const peer_event<Key, time_point>& e) {
                const Key& key = e.key;
                const transition kind = e.kind;
                const offline_reason reason = e.reason;
                if (stopped)
                    return;
                if (kind == transition::online) {
                    if (cb_online)
                        cb_online(key);
                }
                else if (cb_offline) {
                    cb_offline(key, reason);
                }
            });
            table.start();
        }

        // A change may have brought a peer online (its deadline may come
        // before the armed one) or raised events: settle both on the strand.
        void after_change()
        {
            if (!table.has_pending())
                return;
            net::dispatch(strand, [self = this->shared_from_this()] {
                self->table.deliver();
                self->table.rearm();
            });
        }

        executor_type strand;
        detail::live_registry<Key, Policy, executor_type> table;
        std::function<void(const Key&)> cb_online;
        std::function<void(const Key&, offline_reason)> cb_offline;
        bool stopped = false;
    };

    std::shared_ptr<impl> impl_;
};

/// Client side of observer mode: beats through the application's own
/// writer and declares the server lost when nothing has arrived for
/// `misses` intervals.
///
/// Call `touch()` whenever anything arrives from the server. Every
/// `interval` the pulse calls `write_beat()` (your code writes a ping in
/// your protocol), unless something was written and something received in
/// the last interval and `beat_only_when_idle` is set. After `misses *
/// interval` without a touch, `on_lost` fires once and the observer stops.
///
/// @par Thread safety
/// `touch()` may be called from any thread. The other functions and the
/// callbacks belong to the observer's strand.
template <class Clock = std::chrono::steady_clock>
class observer_pulse {
public:
    using duration = typename Clock::duration;
    using time_point = typename Clock::time_point;
    using executor_type = net::strand<net::any_io_executor>;

    struct options {
        duration interval = std::chrono::seconds(1);
        unsigned misses = 3;
        bool beat_only_when_idle = false;
    };

    observer_pulse(const net::any_io_executor& ex, const options& opts)
        : s_(std::make_shared<state>(net::make_strand(ex), opts))
    {
    }

    observer_pulse(const observer_pulse&) = delete;
    observer_pulse& operator=(const observer_pulse&) = delete;
    ~observer_pulse() { stop(); }

    executor_type get_executor() const noexcept { return s_->strand; }

    /// Starts beating: `write_beat` is called on the strand every interval;
    /// `on_lost` once, when the server has been silent too long.
    void start(std::function<void()> write_beat, std::function<void()> on_lost)
    {
        net::dispatch(s_->strand, [s = s_, w = std::move(write_beat), l = std::move(on_lost)]() mutable {
            s->write_beat = std::move(w);
            s->on_lost = std::move(l);
            s->running = true;
            s->last_heard = Clock::now().time_since_epoch().count();
            s->tick();
        });
    }

    /// A sign of life from the server. Any thread; lock-free.
    void touch() noexcept { s_->last_heard.store(Clock::now().time_since_epoch().count()); }

    /// Tells the observer the application wrote something (for
    /// beat_only_when_idle). Any thread.
    void wrote() noexcept { s_->wrote_since_tick.store(true); }

    void stop()
    {
        net::dispatch(s_->strand, [s = s_] {
            s->running = false;
            s->timer.cancel();
            s->write_beat = nullptr;
            s->on_lost = nullptr;
        });
    }

    /// When the server was last heard from.
    time_point last_heard() const noexcept { return time_point(duration(s_->last_heard.load())); }

private:
    struct state : std::enable_shared_from_this<state> {
        state(const executor_type& ex, const options& o) : strand(ex), opts(o), timer(strand) {}

        executor_type strand;
        options opts;
        net::basic_waitable_timer<Clock, net::wait_traits<Clock>, executor_type> timer;
        std::function<void()> write_beat;
        std::function<void()> on_lost;
        std::atomic<typename duration::rep> last_heard{0};
        std::atomic<bool> wrote_since_tick{false};
        typename duration::rep heard_at_last_tick = 0;
        time_point next_beat{};
        bool running = false;

        void tick()
        {
            const time_point now = Clock::now();
            const time_point heard{duration(last_heard.load())};
            if (now - heard > opts.interval * static_cast<typename duration::rep>(opts.misses)) {
                running = false;
                if (auto lost = std::move(on_lost))
                    lost();
                return;
            }
            if (now >= next_beat) {
                const bool heard_recently = last_heard.load() != heard_at_last_tick;
                heard_at_last_tick = last_heard.load();
                const bool wrote_recently = wrote_since_tick.exchange(false);
                if (!(opts.beat_only_when_idle && heard_recently && wrote_recently) && write_beat)
                    write_beat();
                next_beat = now + opts.interval;
            }
            // Wake at the next beat, or exactly when silence would become
            // too long, whichever is first.
            const time_point deadline =
                heard + opts.interval * static_cast<typename duration::rep>(opts.misses) + duration(1);
            timer.expires_at(std::min(next_beat, deadline));
            timer.async_wait([self = this->shared_from_this()](const error_code& ec) {
                if (!ec && self->running)
                    self->tick();
            });
        }
    };

    std::shared_ptr<state> s_;
};

} // namespace heartbeat

#endif
