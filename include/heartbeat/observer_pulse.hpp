// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_OBSERVER_PULSE_HPP
#define HEARTBEAT_OBSERVER_PULSE_HPP

// Observer mode, client side: beats through the application's own writer
// and notices a silent server. The server side is monitor.hpp.

#include <heartbeat/detail/config.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

namespace heartbeat {

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
