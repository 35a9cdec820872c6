// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_SWEEPER_HPP
#define HEARTBEAT_SWEEPER_HPP

#include <heartbeat/detail/config.hpp>

#include <memory>
#include <optional>
#include <type_traits>

namespace heartbeat {

/// Drives a registry's expiry from an Asio timer.
///
/// The timer sleeps until the registry's next deadline, calls
/// `expire(Clock::now())`, and sleeps again until the deadline that call
/// returns; with no peer online it does not wake at all. It is the timer
/// half of the server side; use it directly in observer mode, where the
/// program reads its own sockets and calls `registry::touch`.
///
/// @tparam Registry a `heartbeat::registry` specialisation.
/// @tparam Executor the executor the timer runs on. The registry and this
///   sweeper must be used from one thread or strand at a time.
/// @tparam WaitTraits Asio wait traits for the registry's clock; the
///   default suits real clocks.
///
/// @par Thread safety
/// Distinct objects: safe. Shared objects: unsafe; call from the executor's
/// thread or strand.
template <class Registry, class Executor = net::any_io_executor,
          class WaitTraits = net::wait_traits<typename Registry::clock_type>>
class sweeper {
public:
    using registry_type = Registry;
    using clock_type = typename Registry::clock_type;
    using time_point = typename Registry::time_point;
    using executor_type = Executor;
    using timer_type = net::basic_waitable_timer<clock_type, WaitTraits, Executor>;

    sweeper(const Executor& ex, Registry& reg)
        : state_(std::make_shared<state>(ex, reg))
    {
    }

    template <class ExecutionContext,
              class = std::enable_if_t<std::is_convertible_v<
                  ExecutionContext&, net::execution_context&>>>
    sweeper(ExecutionContext& ctx, Registry& reg)
        : sweeper(Executor(ctx.get_executor()), reg)
    {
    }

    sweeper(const sweeper&) = delete;
    sweeper& operator=(const sweeper&) = delete;

    /// Stops sweeping; a pending wait completes as aborted and does nothing.
    ~sweeper() { stop(); }

    executor_type get_executor() const { return state_->timer.get_executor(); }

    /// Starts sweeping: arms the timer for the registry's next deadline.
    void start()
    {
        state_->running = true;
        rearm();
    }

    /// Stops sweeping. No `expire` call happens after this returns (on the
    /// sweeper's executor).
    void stop()
    {
        state_->running = false;
        state_->armed_at.reset();
        ++state_->generation;
        state_->timer.cancel();
    }

    bool running() const noexcept { return state_->running; }

    /// Tells the sweeper that the registry's next deadline may have moved
    /// earlier: call it after a touch brings a peer online or after an
    /// interval shrinks. Cheap when nothing changed.
    void rearm() { state::rearm(state_); }

    /// When the timer is due to fire, if it is armed.
    std::optional<time_point> armed_at() const { return state_->armed_at; }

private:
    struct state {
        state(const Executor& ex, Registry& r) : timer(ex), reg(&r) {}

        timer_type timer;
        Registry* reg;
        std::optional<time_point> armed_at;
        unsigned long generation = 0;
        bool running = false;

        static void rearm(const std::shared_ptr<state>& self)
        {
            if (!self->running)
                return;
            const auto next = self->reg->next_deadline();
            if (!next) {
                if (self->armed_at) {
                    self->armed_at.reset();
                    ++self->generation;
                    self->timer.cancel();
                }
                return;
            }
            if (self->armed_at && *self->armed_at <= *next)
                return;
            arm(self, *next);
        }

        static void arm(const std::shared_ptr<state>& self, time_point at)
        {
            self->armed_at = at;
            const unsigned long gen = ++self->generation;
            self->timer.expires_at(at);
            // The handler owns the state, so a sweeper destroyed mid-wait
            // leaves it a valid (stopped) object to look at.
            self->timer.async_wait([self, gen](const error_code& ec) {
                if (ec || gen != self->generation || !self->running)
                    return;
                self->armed_at.reset();
                const auto next = self->reg->expire(clock_type::now());
                // A sink may have stopped or re-armed us meanwhile.
                if (next && self->running
                    && (!self->armed_at || *next < *self->armed_at))
                    arm(self, *next);
            });
        }
    };

    std::shared_ptr<state> state_;
};

} // namespace heartbeat

#endif
