// The core registry and its sweeper on a real clock, without sockets: the
// pattern for a program that reads its own sockets (see also observer_mode).
//
// Twelve simulated peers beat into one registry. Some keep beating, one
// falls silent, one leaves, one goes quiet and comes back, one announces a
// slow interval. The sweeper sleeps until the next deadline and the
// registry reports every transition. The program ends by itself.
//
//   registry_demo          about 6 seconds, 200 ms beats
//   registry_demo --fast   the same script at 1/4 of the time scale (for tests)
#include <heartbeat/heartbeat.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;
using peer_registry = heartbeat::registry<std::string>;

struct script_step {
    const char* peer;
    const char* what;   // "silent", "leave", "return", "slow"
    int at_beats;       // when, in beat intervals from the start
};

// Who does what, and when (in beat intervals).
const script_step script[] = {
    {"sensor-03", "silent", 5},   // stops beating; its socket "stays open"
    {"gateway-b", "leave", 9},    // says goodbye
    {"sensor-07", "silent", 8},   // goes quiet ...
    {"sensor-07", "return", 18},  // ... and comes back
    {"archiver", "slow", 3},      // announces a 4x longer interval
};

class simulated_peer {
public:
    simulated_peer(heartbeat::net::io_context& io, peer_registry& reg,
                   heartbeat::sweeper<peer_registry>& sweeper, std::string name, ms interval)
        : timer_(io), reg_(reg), sweeper_(sweeper), name_(std::move(name)), interval_(interval)
    {
    }

    void start() { beat(); }
    void go_silent() { beating_ = false; timer_.cancel(); }
    void come_back() { beating_ = true; beat(); }
    void slow_down(int factor)
    {
        interval_ *= factor;
        const auto held = reg_.set_interval(name_, interval_);
        std::printf("           %-10s announces %lld ms beats (held to %lld ms)\n", name_.c_str(),
                    static_cast<long long>(interval_.count()),
                    static_cast<long long>(std::chrono::duration_cast<ms>(*held).count()));
    }
    void leave()
    {
        go_silent();
        reg_.remove(name_, heartbeat::offline_reason::left);
    }

private:
    void beat()
    {
        if (!beating_)
            return;
        reg_.touch(name_, clock_type::now());
        sweeper_.rearm();  // a peer coming online may be due sooner
        timer_.expires_after(interval_);
        timer_.async_wait([this](const heartbeat::error_code& ec) {
            if (!ec)
                beat();
        });
    }

    heartbeat::net::steady_timer timer_;
    peer_registry& reg_;
    heartbeat::sweeper<peer_registry>& sweeper_;
    std::string name_;
    ms interval_;
    bool beating_ = true;
};

} // namespace

int main(int argc, char** argv)
{
    const bool fast = argc > 1 && std::strcmp(argv[1], "--fast") == 0;
    const ms interval(fast ? 50 : 200);
    const int total_beats = 30;

    heartbeat::net::io_context io;
    peer_registry::options opts;
    opts.detection.interval = interval;
    opts.detection.misses = 3;
    opts.detection.min_interval = ms(10);
    opts.detection.max_interval = interval * 10;
    peer_registry reg(opts);
    heartbeat::sweeper<peer_registry> sweeper(io, reg);

    const auto start = clock_type::now();
    auto since_start = [&](clock_type::time_point t) {
        return static_cast<long long>(std::chrono::duration_cast<ms>(t - start).count());
    };
    reg.on_event([&](const peer_registry::event_type& e) {
        if (e.kind == heartbeat::transition::online) {
            std::printf("%6lld ms  %-10s online\n", since_start(e.at), e.key.c_str());
            return;
        }
        std::printf("%6lld ms  %-10s offline (%s), last seen %lld ms before\n", since_start(e.at),
                    e.key.c_str(), std::string(heartbeat::to_string(e.reason)).c_str(),
                    static_cast<long long>(std::chrono::duration_cast<ms>(e.at - e.last_seen).count()));
    });

    std::printf("heartbeat %d.%d.%d registry demo: 12 peers, %lld ms beats, offline after 3 missed\n\n",
                HEARTBEAT_VERSION_MAJOR, HEARTBEAT_VERSION_MINOR, HEARTBEAT_VERSION_PATCH,
                static_cast<long long>(interval.count()));

    const char* names[] = {"gateway-a", "gateway-b", "sensor-01", "sensor-02", "sensor-03", "sensor-04",
                           "sensor-05", "sensor-06", "sensor-07", "sensor-08", "archiver",  "console"};
    std::vector<std::unique_ptr<simulated_peer>> peers;
    auto find = [&](const char* name) -> simulated_peer& {
        for (std::size_t i = 0; i < peers.size(); ++i)
            if (std::strcmp(names[i], name) == 0)
                return *peers[i];
        std::abort();
    };
    for (const char* name : names) {
        peers.push_back(std::make_unique<simulated_peer>(io, reg, sweeper, name, interval));
        peers.back()->start();
    }
    sweeper.start();

    // The script runs on its own timers.
    std::vector<std::unique_ptr<heartbeat::net::steady_timer>> script_timers;
    for (const auto& step : script) {
        auto& t = *script_timers.emplace_back(std::make_unique<heartbeat::net::steady_timer>(io));
        t.expires_at(start + interval * step.at_beats);
        t.async_wait([&, step](const heartbeat::error_code& ec) {
            if (ec)
                return;
            simulated_peer& p = find(step.peer);
            if (std::strcmp(step.what, "silent") == 0) {
                std::printf("%6lld ms  %-10s stops beating\n", since_start(clock_type::now()), step.peer);
                p.go_silent();
            }
            else if (std::strcmp(step.what, "return") == 0)
                p.come_back();
            else if (std::strcmp(step.what, "slow") == 0)
                p.slow_down(4);
            else
                p.leave();
        });
    }

    heartbeat::net::steady_timer finish(io);
    finish.expires_at(start + interval * total_beats);
    finish.async_wait([&](const heartbeat::error_code&) {
        sweeper.stop();
        for (auto& p : peers)
            p->go_silent();
        io.stop();
    });
    io.run();

    std::printf("\n%-10s %-8s %14s %7s %9s\n", "peer", "state", "last seen (ms)", "beats", "episodes");
    auto table = reg.snapshot();
    std::sort(table.begin(), table.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    const auto now = clock_type::now();
    for (const auto& p : table)
        std::printf("%-10s %-8s %14lld %7llu %9llu\n", p.key.c_str(),
                    std::string(heartbeat::to_string(p.status)).c_str(),
                    static_cast<long long>(std::chrono::duration_cast<ms>(now - p.last_seen).count()),
                    static_cast<unsigned long long>(p.beats),
                    static_cast<unsigned long long>(p.offline_episodes));
    std::printf("\n%zu tracked, %zu online, %zu offline\n", reg.size(), reg.online_count(), reg.offline_count());

    // The script's outcome, checked so the demo doubles as a smoke test.
    const bool ok = reg.size() == 11 && reg.online_count() == 10 && !reg.is_online("sensor-03")
                    && reg.is_online("sensor-07") && reg.info("sensor-07")->offline_episodes == 1;
    std::printf("%s\n", ok ? "demo finished as scripted" : "demo did NOT go as scripted");
    return ok ? 0 : 1;
}
