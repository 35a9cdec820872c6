// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_PHI_ACCRUAL_HPP
#define HEARTBEAT_CORE_PHI_ACCRUAL_HPP

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

namespace heartbeat {

/// Detection policy: the phi-accrual failure detector (Hayashibara et al.,
/// 2004), as Akka and Cassandra use it.
///
/// Instead of a fixed "N missed beats", each peer's recent inter-arrival
/// times (a bounded window) give a normal distribution; phi(now) says how
/// unlikely it is that the next beat is merely late:
///
///     phi = -log10(P(a beat arrives later than now - last_seen))
///
/// phi = 1 means a 10% chance the peer is just slow, phi = 8 one in 10^8.
/// The peer is offline once phi reaches `threshold`. A steady peer is thus
/// declared dead soon after it stops; a jittery one gets more slack, learned
/// rather than configured.
///
/// The distribution is N(mean + acceptable_pause, max(stddev, min_std_dev)),
/// its tail approximated by the logistic function Akka uses. The registry
/// needs the instant phi crosses the threshold (`offline_at`); that instant
/// is found by solving the approximation's cubic exactly, so expiry stays
/// deadline-driven.
///
/// Memory per peer is fixed: `window` samples of 32 bits, allocated once
/// when the peer is first seen.
template <class Clock = std::chrono::steady_clock>
class phi_accrual {
public:
    using clock_type = Clock;
    using duration = typename Clock::duration;
    using time_point = typename Clock::time_point;

    /// Adaptive, not "N missed beats" (see counts_echoes_v in
    /// core/policy_traits.hpp).
    static constexpr bool counts_misses = false;

    struct options {
        /// phi at which a peer is declared offline.
        double threshold = 8.0;
        /// Inter-arrival samples kept per peer.
        std::size_t window = 1000;
        /// A floor for the standard deviation, so a perfectly regular peer
        /// is not declared dead the instant it is a little late.
        duration min_std_dev = std::chrono::milliseconds(100);
        /// Lateness always forgiven (added to the mean): GC pauses, a busy
        /// event loop.
        duration acceptable_pause = duration::zero();
        /// The interval a peer is told to beat at, unless it announces its
        /// own.
        duration interval = std::chrono::seconds(1);
        /// The inter-arrival time assumed before a peer has beaten (the
        /// window starts as two samples a quarter of it either side). Zero:
        /// the peer's interval.
        duration first_heartbeat_estimate = duration::zero();
        /// Bounds for announced intervals.
        duration min_interval = std::chrono::milliseconds(10);
        duration max_interval = std::chrono::minutes(10);
    };

    /// What the policy keeps per peer: the announced interval and a ring of
    /// inter-arrival times in microseconds, with running sums.
    struct peer_state {
        duration interval{};
        std::vector<std::uint32_t> samples; // ring buffer, capacity == window
        std::size_t head = 0;               // next slot to write
        std::size_t count = 0;
        double sum = 0;    // of the samples in the window, microseconds
        double sum_sq = 0; // of their squares
    };

    phi_accrual() : phi_accrual(options{}) {}

    /// @throws std::invalid_argument for a non-positive threshold, window,
    /// min_std_dev or interval bounds, or a negative acceptable_pause.
    explicit phi_accrual(const options& o) : opts_(o)
    {
        if (!(opts_.threshold > 0) || opts_.window < 2)
            throw std::invalid_argument("heartbeat: phi_accrual needs threshold > 0 and window >= 2");
        if (opts_.min_std_dev <= duration::zero() || opts_.acceptable_pause < duration::zero()
            || opts_.first_heartbeat_estimate < duration::zero())
            throw std::invalid_argument("heartbeat: phi_accrual needs min_std_dev > 0, acceptable_pause >= 0");
        if (opts_.min_interval <= duration::zero() || opts_.max_interval < opts_.min_interval)
            throw std::invalid_argument("heartbeat: need 0 < min_interval <= max_interval");
        opts_.interval = std::clamp(opts_.interval, opts_.min_interval, opts_.max_interval);
        threshold_y_ = solve_threshold_y();
    }

    const options& get_options() const noexcept { return opts_; }

    peer_state initial_state() const
    {
        peer_state s;
        s.interval = opts_.interval;
        return s;
    }

    duration set_interval(peer_state& s, duration announced) const
    {
        s.interval = std::clamp(announced, opts_.min_interval, opts_.max_interval);
        if (s.count <= 2)
            seed(s); // the estimate follows what the peer announced
        return s.interval;
    }

    duration interval(const peer_state& s) const noexcept { return s.interval; }

    /// A new online episode: the history restarts from the estimate (the
    /// old one described a connection that is gone).
    void on_online(peer_state& s, time_point) const { seed(s); }

    /// Learns one inter-arrival time.
    void on_beat(peer_state& s, time_point previous, time_point now) const
    {
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - previous).count();
        push(s, static_cast<std::uint32_t>(std::clamp<long long>(us, 0, std::numeric_limits<std::uint32_t>::max())));
    }

    double mean_us(const peer_state& s) const noexcept { return s.count ? s.sum / static_cast<double>(s.count) : 0; }

    double std_dev_us(const peer_state& s) const noexcept
    {
        if (s.count == 0)
            return min_std_us();
        const double m = mean_us(s);
        const double var = std::max(0.0, s.sum_sq / static_cast<double>(s.count) - m * m);
        return std::max(std::sqrt(var), min_std_us());
    }

    /// The suspicion level of a peer last seen at `last_seen`, at `now`.
    double phi(const peer_state& s, time_point last_seen, time_point now) const
    {
        const double t = std::chrono::duration<double, std::micro>(now - last_seen).count();
        const double mean = mean_us(s) + pause_us();
        const double y = (t - mean) / std_dev_us(s);
        const double e = std::exp(-y * (1.5976 + 0.070566 * y * y));
        if (t > mean)
            return -std::log10(e / (1.0 + e));
        return -std::log10(1.0 - 1.0 / (1.0 + e));
    }

    /// The first instant at which phi reaches the threshold.
    time_point offline_at(const peer_state& s, time_point last_seen) const
    {
        const double us = mean_us(s) + pause_us() + threshold_y_ * std_dev_us(s);
        const auto ticks = std::chrono::duration_cast<duration>(std::chrono::duration<double, std::micro>(us));
        // Round up, so that phi(offline_at) >= threshold.
        return last_seen + ticks + duration(1);
    }

private:
    double min_std_us() const noexcept
    {
        return std::chrono::duration<double, std::micro>(opts_.min_std_dev).count();
    }
    double pause_us() const noexcept { return std::chrono::duration<double, std::micro>(opts_.acceptable_pause).count(); }

    // y at which the logistic tail equals 10^-threshold: solve
    // 0.070566 y^3 + 1.5976 y = ln((1 - p) / p), p = 10^-threshold, by
    // Cardano's formula (one real root: the cubic is increasing).
    double solve_threshold_y() const noexcept
    {
        if (opts_.threshold <= std::log10(2.0))
            return 0; // phi at the mean is already log10(2)
        const double p = std::pow(10.0, -opts_.threshold);
        const double k = std::log1p(-p) - std::log(p);
        const double a = 1.5976 / 0.070566;
        const double b = -k / 0.070566;
        const double d = std::sqrt(b * b / 4 + a * a * a / 27);
        return std::cbrt(-b / 2 + d) + std::cbrt(-b / 2 - d);
    }

    void seed(peer_state& s) const
    {
        // Akka's bootstrap: two samples one estimated deviation (a quarter
        // of the interval) either side of the interval.
        s.samples.assign(opts_.window, 0);
        s.head = s.count = 0;
        s.sum = s.sum_sq = 0;
        const duration estimate =
            opts_.first_heartbeat_estimate > duration::zero() ? opts_.first_heartbeat_estimate : s.interval;
        const double mean = std::chrono::duration<double, std::micro>(estimate).count();
        const double dev = mean / 4;
        push(s, static_cast<std::uint32_t>(mean - dev));
        push(s, static_cast<std::uint32_t>(mean + dev));
    }

    void push(peer_state& s, std::uint32_t us) const
    {
        if (s.samples.size() != opts_.window)
            s.samples.assign(opts_.window, 0);
        if (s.count == opts_.window) {
            const double old = s.samples[s.head];
            s.sum -= old;
            s.sum_sq -= old * old;
        }
        else {
            ++s.count;
        }
        s.samples[s.head] = us;
        s.sum += us;
        s.sum_sq += static_cast<double>(us) * us;
        s.head = (s.head + 1) % opts_.window;
        if (s.head == 0) {
            // Once per lap, recompute the sums from the samples, so the
            // rounding of many add-subtract steps cannot accumulate.
            s.sum = s.sum_sq = 0;
            for (std::size_t i = 0; i < s.count; ++i) {
                s.sum += s.samples[i];
                s.sum_sq += static_cast<double>(s.samples[i]) * s.samples[i];
            }
        }
    }

    options opts_;
    // Worked out once: offline_at runs on every beat, and the registry asks
    // it again for the deadline before the beat and when an entry surfaces.
    double threshold_y_ = 0;
};

} // namespace heartbeat

#endif
