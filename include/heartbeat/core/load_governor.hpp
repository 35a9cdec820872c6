// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_LOAD_GOVERNOR_HPP
#define HEARTBEAT_CORE_LOAD_GOVERNOR_HPP

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <stdexcept>

namespace heartbeat {

/// Decides how hard a server may let its peers beat, from how late its own
/// sweeps run: the server's local health, as HashiCorp's Lifeguard keeps
/// it, turned into a slowdown factor and an admission verdict.
///
/// A server with more beats than it carries falls behind: its sweeper runs
/// late, beats wait unread, and a server that then blames its peers drops
/// healthy ones, which reconnect and make the overload worse. The governor
/// sees the lag (each sweep's lateness, `registry::last_lateness`) and
/// answers with
/// - `slowdown()`: a factor from 1 up to `options::max_slowdown` by which
///   the server should stretch its peers' intervals (protocol version 2's
///   renegotiation). It doubles while the smoothed lag stays above
///   `options::overload_lag` (at most once per `options::settle`: the new
///   terms need a beat or two to lower the load), and comes back by
///   `options::step_down` (to 0.8 of itself: a fifth less stretch, a
///   quarter more load) after each `options::calm` of lag below a quarter
///   of the limit. Up fast, down slowly, as congestion control does: the
///   way back must not overshoot into the overload it left. A relapse
///   (a step up within two calm periods of a step down) doubles the calm
///   period, up to 8x, so a load the server only just carries is not
///   probed again and again;
/// - `overloaded()`: the smoothed lag is above `options::overload_lag`, so
///   the server should refuse newcomers (server_full with a retry-after)
///   rather than take on more than it carries.
///
/// The lag is smoothed exponentially with time constant
/// `options::smoothing`, and no one sample weighs more than half however
/// long since the last (sweeps are sparse when few peers beat slowly), so
/// that one late sweep (a burst of handshakes, a page fault) does not slow
/// every peer down. A long calm at no slowdown resets a calm period that
/// relapses had grown.
///
/// Sans-I/O: it reads no clock and owns no timer; tests drive it on a manual
/// clock. Not thread-safe: the watcher uses it on its strand.
template <class Clock = std::chrono::steady_clock>
class load_governor {
public:
    using clock_type = Clock;
    using duration = typename Clock::duration;
    using time_point = typename Clock::time_point;

    struct options {
        /// Smoothed lag above which the server counts itself overloaded.
        duration overload_lag = std::chrono::milliseconds(25);
        /// The most the peers' intervals are stretched; 1 never slows
        /// them down (admission is still refused while overloaded).
        double max_slowdown = 4;
        /// Each step back multiplies the slowdown by this (in (0, 1)).
        double step_down = 0.8;
        /// After a change, the least time before the next step up: the new
        /// terms need a beat or two to lower the load.
        duration settle = std::chrono::seconds(1);
        /// How long the lag must stay below overload_lag / 4 before each
        /// step back (doubled by each relapse, up to 8x).
        duration calm = std::chrono::seconds(5);
        /// Time constant of the lag's exponential smoothing.
        duration smoothing = std::chrono::milliseconds(250);
    };

    load_governor() : load_governor(options{}) {}

    /// @throws std::invalid_argument for max_slowdown under 1, step_down
    /// outside (0, 1), an overload_lag or smoothing that is not positive,
    /// or a negative settle or calm.
    explicit load_governor(const options& o) : opts_(o), calm_(o.calm)
    {
        if (!(o.max_slowdown >= 1) || !(o.step_down > 0 && o.step_down < 1) || o.overload_lag <= duration::zero()
            || o.settle < duration::zero() || o.calm < duration::zero() || o.smoothing <= duration::zero())
            throw std::invalid_argument("heartbeat: load_governor needs max_slowdown >= 1, step_down in (0, 1), "
                                        "overload_lag > 0, smoothing > 0, non-negative periods");
    }

    const options& settings() const noexcept { return opts_; }

    /// One sweep ran `lateness` late at `now` (zero: on time).
    /// @returns true if `slowdown()` changed.
    bool sample(time_point now, duration lateness)
    {
        const double late_us = std::max(0.0, to_us(lateness));
        // From zero, and no sample weighs more than half: one late sweep
        // after a long quiet is not an overload.
        double weight = max_weight;
        if (!started_) {
            started_ = true;
            last_change_ = now;
        }
        else {
            const double dt = std::max(0.0, to_us(now - last_sample_));
            weight = std::min(max_weight, 1.0 - std::exp(-dt / to_us(opts_.smoothing)));
        }
        lag_us_ = (1.0 - weight) * lag_us_ + weight * late_us;
        last_sample_ = now;

        const double limit = to_us(opts_.overload_lag);
        if (lag_us_ > limit) {
            calm_since_.reset();
            if (slowdown_ < opts_.max_slowdown && now - last_change_ >= opts_.settle) {
                if (stepped_down_ && now - last_change_ < 2 * calm_)
                    calm_ = std::min<duration>(calm_ * 2, opts_.calm * 8); // a relapse
                slowdown_ = std::min(opts_.max_slowdown, slowdown_ * 2);
                stepped_down_ = false;
                last_change_ = now;
                return true;
            }
            return false;
        }
        if (lag_us_ > limit / 4) {
            calm_since_.reset();
            return false;
        }
        if (!calm_since_)
            calm_since_ = now;
        if (slowdown_ == 1.0 && now - *calm_since_ >= calm_)
            calm_ = opts_.calm; // calm for a whole period at no slowdown: relapses forgotten
        if (slowdown_ > 1 && now - *calm_since_ >= calm_ && now - last_change_ >= calm_) {
            // Near 1, the last step goes all the way: terms 3% off the
            // configured ones are not worth a renegotiation of their own.
            slowdown_ = slowdown_ * opts_.step_down < 1.05 ? 1.0 : slowdown_ * opts_.step_down;
            stepped_down_ = true;
            last_change_ = now;
            calm_since_ = now;
            return true;
        }
        return false;
    }

    /// The factor to stretch the peers' intervals by: 1 while healthy.
    double slowdown() const noexcept { return slowdown_; }

    /// The calm period the next step back waits for (options::calm, doubled
    /// by each relapse).
    duration calm_period() const noexcept { return calm_; }

    /// The smoothed lag is above `options::overload_lag`: refuse newcomers.
    bool overloaded() const noexcept { return lag_us_ > to_us(opts_.overload_lag); }

    /// The smoothed lag.
    duration lag() const noexcept
    {
        return std::chrono::duration_cast<duration>(std::chrono::duration<double, std::micro>(lag_us_));
    }

private:
    static constexpr double max_weight = 0.5;

    static double to_us(duration d) noexcept { return std::chrono::duration<double, std::micro>(d).count(); }

    options opts_;
    bool started_ = false;
    double lag_us_ = 0;
    time_point last_sample_{};
    time_point last_change_{};
    std::optional<time_point> calm_since_;
    duration calm_;
    double slowdown_ = 1;
    bool stepped_down_ = false; // the last change was a step back
};

} // namespace heartbeat

#endif
