// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_SESSION_DETAIL_RTT_ESTIMATOR_HPP
#define HEARTBEAT_SESSION_DETAIL_RTT_ESTIMATOR_HPP

#include <chrono>
#include <cstdint>
#include <optional>

namespace heartbeat::detail {

/// A smoothed round-trip time and its variation, as TCP keeps them
/// (RFC 6298): srtt += gain * (sample - srtt), rttvar += (|sample - srtt| -
/// rttvar) / 4. One per session, on either side.
template <class Duration>
class rtt_estimator {
public:
    explicit rtt_estimator(double gain = 0.125) noexcept : gain_(gain) {}

    void add(Duration sample) noexcept
    {
        last_ = sample;
        ++samples_;
        if (!srtt_) {
            srtt_ = sample;
            var_ = sample / 2;
            return;
        }
        const Duration deviation = sample > *srtt_ ? sample - *srtt_ : *srtt_ - sample;
        var_ += std::chrono::duration_cast<Duration>((deviation - var_) * 0.25);
        *srtt_ += std::chrono::duration_cast<Duration>((sample - *srtt_) * gain_);
    }

    std::optional<Duration> last() const noexcept { return last_; }
    std::optional<Duration> smoothed() const noexcept { return srtt_; }
    /// The mean deviation; nothing before the first sample.
    std::optional<Duration> variation() const noexcept
    {
        if (!srtt_)
            return std::nullopt;
        return var_;
    }
    std::uint64_t samples() const noexcept { return samples_; }

private:
    double gain_;
    std::optional<Duration> last_;
    std::optional<Duration> srtt_;
    Duration var_{};
    std::uint64_t samples_ = 0;
};

} // namespace heartbeat::detail

#endif
