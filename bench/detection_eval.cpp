// Replays generated beat traces through both detection policies and writes
// detection time against false alarms, as CSV (docs/DETECTION.md).
//
//   detection_eval [--quick] > detection.csv
//
// Each scenario is a behaviour before a crash: "steady" (1 s beats, 10 ms
// jitter), "jittery" (200 ms jitter), "heavy-jitter" (350 ms), "pauses"
// (steady, but 1% of the gaps are 2-5 intervals long: GC, swap, a blocked
// loop). Every simulated peer
// beats for a while and then crashes at a known time. A false alarm is an
// offline event while the peer was alive; the detection time is from its
// last beat to offline. All on a manual clock: the run is exact and
// repeatable (fixed seeds).
#include <heartbeat/core.hpp>
#include <heartbeat/testing/manual_clock.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using clock_type = heartbeat::testing::manual_clock;
using duration = clock_type::duration;
using time_point = clock_type::time_point;
using namespace std::chrono_literals;

struct scenario {
    const char* name;
    double jitter_ms;      // standard deviation of the gap
    double pause_chance;   // probability that a gap is a long pause
};

// Inter-arrival gaps of one peer before it crashes.
std::vector<duration> make_trace(const scenario& sc, int beats, std::mt19937_64& rng)
{
    std::normal_distribution<double> jitter(0, sc.jitter_ms);
    std::uniform_real_distribution<double> coin(0, 1);
    std::uniform_real_distribution<double> pause_len(2, 5);
    std::vector<duration> gaps;
    gaps.reserve(static_cast<std::size_t>(beats));
    for (int i = 0; i < beats; ++i) {
        double ms = 1000 + jitter(rng);
        if (coin(rng) < sc.pause_chance)
            ms = 1000 * pause_len(rng);
        gaps.push_back(std::chrono::microseconds(static_cast<long long>(std::max(ms, 50.0) * 1000)));
    }
    return gaps;
}

struct outcome {
    long false_alarms = 0;
    long beats = 0;
    std::vector<double> detection_ms;
};

// Feeds one trace through a registry: before each beat lands, expire() runs
// at the instant just before it, so any deadline that passed while the peer
// was alive shows as a false alarm. After the last beat the peer is dead:
// its detection time is the next deadline minus that beat.
template <class Policy>
void replay(const typename Policy::options& settings, const std::vector<duration>& gaps, outcome& out)
{
    using registry = heartbeat::registry<int, clock_type, Policy>;
    typename registry::options o;
    o.detection = settings;
    o.pause_threshold = duration::zero();  // a replay has no local stalls
    registry reg(o);
    reg.on_event([&](const typename registry::event_type& e) {
        if (e.kind == heartbeat::transition::offline)
            ++out.false_alarms;
    });
    time_point t(1h);
    reg.touch(1, t);
    for (const duration gap : gaps) {
        t += gap;
        reg.expire(t - 1ns);
        reg.touch(1, t);
        ++out.beats;
    }
    const auto deadline = reg.next_deadline();
    out.detection_ms.push_back(std::chrono::duration<double, std::milli>(*deadline - t).count());
}

double percentile(std::vector<double> v, double p)
{
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

template <class Policy>
void report(const char* scenario_name, const char* policy_name, const std::string& setting,
            const typename Policy::options& settings, const std::vector<std::vector<duration>>& traces)
{
    outcome out;
    for (const auto& trace : traces)
        replay<Policy>(settings, trace, out);
    double mean = 0;
    for (double d : out.detection_ms)
        mean += d;
    mean /= static_cast<double>(out.detection_ms.size());
    std::printf("%s,%s,%s,%.3f,%.1f,%.1f\n", scenario_name, policy_name, setting.c_str(),
                1000.0 * static_cast<double>(out.false_alarms) / static_cast<double>(out.beats), mean,
                percentile(out.detection_ms, 0.99));
}

} // namespace

int main(int argc, char** argv)
{
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    const int peers = quick ? 5 : 100;
    const int beats = quick ? 200 : 2000;
    const scenario scenarios[] = {{"steady", 10, 0}, {"jittery", 200, 0}, {"heavy-jitter", 350, 0}, {"pauses", 10, 0.01}};

    std::printf("scenario,policy,setting,false_alarms_per_1000_beats,mean_detection_ms,p99_detection_ms\n");
    for (const auto& sc : scenarios) {
        std::mt19937_64 rng(2004);  // the same traces for every policy
        std::vector<std::vector<duration>> traces;
        for (int p = 0; p < peers; ++p)
            traces.push_back(make_trace(sc, beats, rng));

        for (unsigned n : {2u, 3u, 4u, 5u, 6u, 8u}) {
            heartbeat::fixed_misses<clock_type>::options o;
            o.interval = 1s;
            o.misses = n;
            report<heartbeat::fixed_misses<clock_type>>(sc.name, "fixed_misses", "N=" + std::to_string(n), o,
                                                        traces);
        }
        for (double threshold : {1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 16.0}) {
            heartbeat::phi_accrual<clock_type>::options o;
            o.interval = 1s;
            o.threshold = threshold;
            o.window = 1000;
            o.min_std_dev = 100ms;
            char name[32];
            std::snprintf(name, sizeof name, "phi=%g", threshold);
            report<heartbeat::phi_accrual<clock_type>>(sc.name, "phi_accrual", name, o, traces);
        }
        for (auto pause : {1s, 3s}) {
            heartbeat::phi_accrual<clock_type>::options o;
            o.interval = 1s;
            o.threshold = 8;
            o.min_std_dev = 100ms;
            o.acceptable_pause = pause;
            report<heartbeat::phi_accrual<clock_type>>(
                sc.name, "phi_accrual", "phi=8+pause" + std::to_string(pause.count()) + "s", o, traces);
        }
    }
    return 0;
}
