// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_CORE_FIXED_MISSES_HPP
#define HEARTBEAT_CORE_FIXED_MISSES_HPP

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stdexcept>

namespace heartbeat {

/// Detection policy: a peer is offline after N missed beats.
///
/// A peer with beat interval I that was last seen at `t` is online while
/// `now - t <= misses * I + grace` and offline from the first clock tick
/// after that. At exactly `misses * I + grace` of silence it is still
/// online.
///
/// Each peer carries its own interval (a peer may announce how often it
/// beats). Announced intervals are clamped to [min_interval, max_interval],
/// so a peer can neither make the server sweep at a kilohertz nor hide for
/// an hour.
///
/// A detection policy is a small value type the registry holds; it keeps
/// per-peer state in `peer_state` and answers one question: when does this
/// peer become offline? docs/CORE.md describes the interface a policy
/// provides, so that other policies (phi-accrual) plug into the same
/// registry.
template <class Clock = std::chrono::steady_clock>
class fixed_misses {
public:
    using clock_type = Clock;
    using duration = typename Clock::duration;
    using time_point = typename Clock::time_point;

    /// This policy is "N missed beats" (see counts_echoes_v in
    /// core/policy_traits.hpp).
    static constexpr bool counts_misses = true;

    struct options {
        /// The interval assumed for a peer that announces none.
        duration interval = std::chrono::seconds(1);
        /// N: how many whole intervals of silence are tolerated.
        unsigned misses = 3;
        /// Extra silence tolerated on top of `misses * interval`, for
        /// network delay and scheduling. Zero adds nothing.
        duration grace = duration::zero();
        /// Bounds for any interval, announced or default.
        duration min_interval = std::chrono::milliseconds(10);
        duration max_interval = std::chrono::minutes(10);
    };

    /// What the policy keeps per peer.
    struct peer_state {
        duration interval;
        std::uint32_t misses = 0; ///< renegotiated for this peer; 0: `options::misses`
    };

    fixed_misses() : fixed_misses(options{}) {}

    /// @throws std::invalid_argument if `misses` is zero, an interval is not
    /// positive, `min_interval > max_interval`, or `grace` is negative.
    explicit fixed_misses(const options& opts) : opts_(opts)
    {
        if (opts_.misses == 0)
            throw std::invalid_argument("heartbeat: misses must be at least 1");
        if (opts_.min_interval <= duration::zero()
            || opts_.max_interval < opts_.min_interval)
            throw std::invalid_argument(
                "heartbeat: need 0 < min_interval <= max_interval");
        if (opts_.grace < duration::zero())
            throw std::invalid_argument("heartbeat: grace must not be negative");
        opts_.interval = clamp(opts_.interval);
    }

    const options& get_options() const noexcept { return opts_; }

    /// The state of a peer that has announced nothing.
    peer_state initial_state() const noexcept { return {opts_.interval, 0}; }

    /// Clamps `announced` into the configured bounds, stores it, and
    /// returns the interval the peer will be held to.
    duration set_interval(peer_state& s, duration announced) const noexcept
    {
        s.interval = clamp(announced);
        return s.interval;
    }

    duration interval(const peer_state& s) const noexcept { return s.interval; }

    /// Holds this peer to `misses` instead of the configured N (terms
    /// renegotiated with it); zero restores N.
    void set_misses(peer_state& s, unsigned misses) const noexcept { s.misses = misses; }

    unsigned misses(const peer_state& s) const noexcept { return s.misses != 0 ? s.misses : opts_.misses; }

    /// The silence tolerated for this peer: misses * interval + grace.
    duration timeout(const peer_state& s) const noexcept
    {
        return s.interval * static_cast<typename duration::rep>(misses(s))
               + opts_.grace;
    }

    /// The first instant at which a peer last seen at `last_seen` counts as
    /// offline.
    time_point offline_at(const peer_state& s,
                          time_point last_seen) const noexcept
    {
        return last_seen + timeout(s) + duration(1);
    }

    /// Called when a peer comes online; nothing to learn for this policy.
    void on_online(peer_state&, time_point) const noexcept {}

    /// Called for each further sign of life of an online peer; this policy
    /// learns nothing from arrival times.
    void on_beat(peer_state&, time_point /*previous*/,
                 time_point /*now*/) const noexcept
    {
    }

private:
    duration clamp(duration d) const noexcept
    {
        return std::clamp(d, opts_.min_interval, opts_.max_interval);
    }

    options opts_;
};

} // namespace heartbeat

#endif
