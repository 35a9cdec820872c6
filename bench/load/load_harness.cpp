// The load harness: separate processes on loopback. A server process (our
// watcher, the floor, the textbook baseline, ZeroMQ, or our WebSocket
// watcher in ping mode), client processes holding N connections beating
// every I, and victim processes, each one connection, stopped with SIGSTOP
// (socket left open) at a random phase.
//
//   load_harness [--kinds heartbeat,floor,baseline,zmq,websocket-ping,...] [--base baseline]
//                [--connections 9000] [--interval-ms 1000] [--misses 3]
//                [--warmup-s 5] [--window-s 10] [--victims 10] [--seed 1]
//                [--batch-us 2000] [--clients-per-process 9000] [--peer PATH] [--json results.jsonl]
//
// The floor (tests/faults/floor_server.hpp) is the least a TCP heartbeat
// server can cost: every run that has it prints each kind's CPU per beat
// as a ratio to it. A kind may carry modifiers: `+batched` batches the
// server's wake-ups (heartbeat, floor: at most one per --batch-us),
// `+io-context` runs the watcher on heartbeat::tcp_socket,
// `+single-threaded` sets its single_threaded option, `+no-governor`
// runs server and clients without the overload rules (lag guards,
// slowdown, refusals, spread retry-after): the behaviour before them.
//
// For each kind, in the same run: server CPU seconds per second (user+sys
// from /proc over the steady window), the clients' too, server RSS at the
// end of the window, beats per second and server CPU per beat, healthy
// peers dropped (any offline event for a non-victim), and detection
// latency of the victims measured two ways: last beat received -> offline
// (the server's own record), and SIGSTOP -> offline. Ratios are against
// the kind named by --base measured in the same run.
//
// A beat: over TCP, a frame the server received (its frames_received(),
// all BEATs once every peer is online; ZeroMQ reports none). In
// websocket-ping (Boost.Asio builds only), a ping the clients answered:
// the server pings each peer every I (probe_interval = I), the clients are
// plain Beast WebSocket clients that only read and count the pings they
// read, and Beast writes a pong for each.
#include "../../tests/support/child_process.hpp"

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

namespace {

using heartbeat_test::child_process;
using heartbeat_test::fields;
using heartbeat_test::starts_with;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct settings {
    std::vector<std::string> kinds{"heartbeat", "floor", "baseline", "zmq"};
    std::string base = "baseline"; // the kind the ratios are against
    long connections = 9000;
    long interval_ms = 1000;
    long misses = 3;
    long warmup_s = 5;
    long window_s = 10;
    long victims = 10;
    unsigned seed = 1;
    long batch_us = 2000; // the +batched kinds' wake-up period
    long per_process = 9000; // TCP clients per client process (ZeroMQ: at most 2,000)
    std::string peer = HEARTBEAT_PEER; // the TCP kinds' program (another build's, to compare two)
    std::string json;
};

struct result {
    std::string kind;
    bool ok = false;
    bool skipped = false; // the kind is not built here
    std::string failure;
    double cpu_per_s = 0;
    double clients_cpu_per_s = 0; // every client process, summed
    double rss_mib = 0;
    double frames_per_s = 0; // beats per second (see the top of this file)
    long healthy_dropped = 0;
    long undetected = 0; // victims never reported offline within N*I + 10 s
    long unconnected = 0; // victims the server did not take within 30 s (left out of the timings)
    long early = 0;      // victims reported offline before their SIGSTOP (also counted as healthy dropped)
    // The watcher's overload figures (its stats lines), when it prints them.
    bool has_overload_figures = false;
    double online_min_pct = -1;  // the fewest peers online in a stats line after the warm-up, % of connections
    double slowdown_max = 1;     // the most the watcher stretched the intervals
    double lag_max_ms = 0;       // its smoothed lag at the worst
    long refused = 0;            // connections refused (server_full while overloaded, among others)
    long deferrals = 0;          // deadlines its pause and lag guards deferred
    long over_stretched_budget = 0; // victims detected later than N x I x slowdown + 50 ms after their last beat
    std::vector<std::pair<long long, long long>> victim_offline; // (offline at, last seen), ns
    std::vector<double> from_last_seen_ms; // offline.at - last_seen
    std::vector<double> from_stop_ms;      // offline.at - SIGSTOP
};

long long now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
}

double cpu_seconds(pid_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    std::istringstream rest(all.substr(all.rfind(')') + 2));
    std::vector<std::string> f;
    for (std::string w; rest >> w;)
        f.push_back(w);
    if (f.size() < 13)
        return 0;
    const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
    return (std::stod(f[11]) + std::stod(f[12])) / ticks;
}

double rss_mib(pid_t pid)
{
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stod(line.substr(6)) / 1024.0;
    return 0;
}

/// The latest `stats <count> <t>` line of a process: the count and its time.
struct count_at {
    double count = 0;
    double t_ns = 0;
};
std::optional<count_at> last_stats(const child_process& p)
{
    const auto lines = p.lines();
    for (auto it = lines.rbegin(); it != lines.rend(); ++it)
        if (starts_with(*it, "stats")) {
            const auto f = fields(*it);
            return count_at{std::stod(f.at(1)), std::stod(f.at(2))};
        }
    return std::nullopt;
}

/// The rate between two stats lines, over their own timestamps (they are
/// printed once a second, not when the window opens and closes).
double rate(const std::optional<count_at>& a, const std::optional<count_at>& b)
{
    if (!a || !b || b->t_ns <= a->t_ns)
        return 0;
    return (b->count - a->count) / ((b->t_ns - a->t_ns) / 1e9);
}

double percentile(std::vector<double> v, double p)
{
    // Nearest rank: the smallest value with at least p of the samples at or
    // below it.
    std::sort(v.begin(), v.end());
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::min(std::max<std::size_t>(rank, 1), v.size()) - 1];
}

/// The processor, as /proc/cpuinfo names it (these machines change).
std::string cpu_model()
{
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("model name", 0) == 0)
            return line.substr(line.find(':') + 2);
    return "unknown";
}

std::string program(const settings& cfg, const std::string& kind)
{
    if (kind == "zmq")
        return HEARTBEAT_ZMQ_PEER;
    if (kind == "websocket-ping")
        return HEARTBEAT_WS_PEER;
    return cfg.peer;
}

bool websocket_kind(const std::string& kind) { return kind == "websocket-ping"; }

/// A kind is a server and modifiers: `heartbeat+batched`.
bool has_modifier(const std::string& kind, const std::string& modifier)
{
    return kind.find("+" + modifier) != std::string::npos;
}

/// The server's --kind: the kind without its modifiers.
std::string server_kind(const std::string& kind)
{
    if (websocket_kind(kind))
        return "websocket";
    return kind.substr(0, kind.find('+'));
}

/// "p50 / p99 / max", or n/a when nothing was measured.
std::string percentiles(const std::vector<double>& v)
{
    if (v.empty())
        return "n/a";
    char text[96];
    std::snprintf(text, sizeof text, "%.1f / %.1f / %.1f", percentile(v, 0.5), percentile(v, 0.99),
                  percentile(v, 1.0));
    return text;
}

/// A client process's command line: `count` connections named from `id`.
std::vector<std::string> client_argv(const settings& cfg, const std::string& kind, const std::string& port,
                                     const std::string& id, long count, bool stats)
{
    std::vector<std::string> argv = {program(cfg, kind), "clients", "--port", port, "--id", id, "--count",
                                     std::to_string(count), "--interval-ms", std::to_string(cfg.interval_ms),
                                     "--misses", std::to_string(cfg.misses), "--quiet", "1"};
    if (has_modifier(kind, "no-governor"))
        argv.insert(argv.end(), {"--overload", "0"});
    if (websocket_kind(kind)) {
        argv.insert(argv.end(), {"--kind", "websocket"});
        if (stats) // the clients count the pings they answer
            argv.insert(argv.end(), {"--stats-ms", "1000"});
    }
    return argv;
}

result run_kind(const settings& cfg, const std::string& kind)
{
    result r;
    r.kind = kind;
    if (program(cfg, kind).empty()) {
        r.failure = websocket_kind(kind) ? "not built (heartbeat::websocket needs a Boost.Asio build)"
                                         : "not built (ZeroMQ not found)";
        r.skipped = true;
        return r;
    }
    const std::string interval = std::to_string(cfg.interval_ms);
    const std::string misses = std::to_string(cfg.misses);
    std::vector<std::string> server_argv = {program(cfg, kind), "server", "--interval-ms", interval, "--misses", misses,
                                            "--stats-ms", "1000"};
    if (kind != "zmq")
        server_argv.insert(server_argv.end(), {"--kind", server_kind(kind)});
    if (has_modifier(kind, "batched"))
        server_argv.insert(server_argv.end(), {"--batch-us", std::to_string(cfg.batch_us)});
    if (has_modifier(kind, "io-context"))
        server_argv.insert(server_argv.end(), {"--socket", "io-context"});
    if (has_modifier(kind, "single-threaded"))
        server_argv.insert(server_argv.end(), {"--single-threaded", "1"});
    if (has_modifier(kind, "no-governor"))
        server_argv.insert(server_argv.end(), {"--overload", "0"});
    child_process server(server_argv);
    const auto ready = server.wait_for("ready", 10s);
    if (!ready) {
        r.failure = "server did not start";
        return r;
    }
    const std::string port = fields(*ready).at(1);

    // At most --clients-per-process connections per client process (9,000
    // by default and at most: the open-file limit; fewer spread the clients'
    // own work over the cores, so that they outpace the server).
    // ZeroMQ clients: at most 2,000, each process with two I/O threads
    // (zmq_peer's default), so that the clients are not what limits the
    // server.
    const long per_process = kind == "zmq" ? std::min(2000L, cfg.per_process) : cfg.per_process;
    std::vector<std::unique_ptr<child_process>> clients;
    for (long done = 0, j = 0; done < cfg.connections; ++j) {
        const long n = std::min(per_process, cfg.connections - done);
        clients.push_back(
            std::make_unique<child_process>(client_argv(cfg, kind, port, "c" + std::to_string(j) + "-", n, true)));
        done += n;
    }
    for (auto& c : clients)
        if (!c->wait_for("all-connected", 180s)) {
            r.failure = "clients did not connect";
            return r;
        }
    // Every connection must be online at the server, too.
    if (!server.wait_line([](const std::string& l) { return starts_with(l, "online"); }, 120s,
                          static_cast<int>(cfg.connections) - 1)) {
        r.failure = "server did not see every connection";
        return r;
    }

    // Who counts the beats: the server (frames received), or in ping mode
    // the clients (pings answered).
    std::vector<const child_process*> counters;
    if (websocket_kind(kind))
        for (const auto& c : clients)
            counters.push_back(c.get());
    else
        counters.push_back(&server);
    auto clients_cpu = [&] {
        double s = 0;
        for (const auto& c : clients)
            s += cpu_seconds(c->pid());
        return s;
    };

    std::this_thread::sleep_for(std::chrono::seconds(cfg.warmup_s));
    const long long measured_from = now_ns();
    std::vector<std::optional<count_at>> beats0;
    for (const auto* c : counters)
        beats0.push_back(last_stats(*c));
    const double cpu0 = cpu_seconds(server.pid());
    const double clients_cpu0 = clients_cpu();
    const auto t0 = steady::now();
    std::this_thread::sleep_for(std::chrono::seconds(cfg.window_s));
    const double cpu1 = cpu_seconds(server.pid());
    const double clients_cpu1 = clients_cpu();
    const auto t1 = steady::now();
    const double seconds = std::chrono::duration<double>(t1 - t0).count();
    r.cpu_per_s = (cpu1 - cpu0) / seconds;
    r.clients_cpu_per_s = (clients_cpu1 - clients_cpu0) / seconds;
    r.rss_mib = rss_mib(server.pid());
    for (std::size_t i = 0; i < counters.size(); ++i)
        r.frames_per_s += rate(beats0[i], last_stats(*counters[i]));

    // Victims: connect, then each is frozen at a random phase of its beat.
    std::mt19937 rng(cfg.seed);
    std::uniform_int_distribution<long> phase(0, cfg.interval_ms - 1);
    std::vector<std::unique_ptr<child_process>> victims;
    std::vector<long long> stopped_at;
    std::vector<bool> connected;
    for (long v = 0; v < cfg.victims; ++v) {
        victims.push_back(
            std::make_unique<child_process>(client_argv(cfg, kind, port, "victim" + std::to_string(v), 1, false)));
        // A victim the server does not take within 30 s (a reconnection
        // storm, a server refusing newcomers) is left out of the timings.
        const bool taken = victims.back()->wait_for("all-connected", 30s).has_value();
        r.unconnected += taken ? 0 : 1;
        connected.push_back(taken);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2 * cfg.interval_ms));
    for (auto& v : victims) {
        std::this_thread::sleep_for(std::chrono::milliseconds(phase(rng)));
        stopped_at.push_back(now_ns());
        v->signal(SIGSTOP);
    }
    // Every victim has until N*I + 10 s after the last stop, all told.
    const auto deadline = steady::now() + std::chrono::milliseconds(cfg.interval_ms * cfg.misses) + 10s;
    for (long v = 0; v < cfg.victims; ++v) {
        if (!connected[static_cast<std::size_t>(v)])
            continue;
        const auto left = std::max<steady::duration>(deadline - steady::now(), 0s);
        // An offline logged before the stop dropped a healthy peer: it is
        // no detection, and the victim's next offline is the one to time.
        const std::string name = "offline victim" + std::to_string(v);
        const long long stopped = stopped_at[static_cast<std::size_t>(v)];
        const auto off = server.wait_line(
            [&](const std::string& l) { return starts_with(l, name) && std::stoll(fields(l).at(3)) >= stopped; },
            left);
        if (!off) {
            ++r.undetected;
            continue;
        }
        const auto f = fields(*off);
        const long long at = std::stoll(f.at(3));
        const long long last_seen = std::stoll(f.at(4));
        if (last_seen != 0) { // ZeroMQ does not tell
            r.from_last_seen_ms.push_back(static_cast<double>(at - last_seen) / 1e6);
            r.victim_offline.emplace_back(at, last_seen);
        }
        r.from_stop_ms.push_back(static_cast<double>(at - stopped_at[static_cast<std::size_t>(v)]) / 1e6);
    }
    // The overload figures: stats lines with the watcher's extra fields.
    struct overload_sample {
        long long t;
        double slowdown;
    };
    std::vector<overload_sample> slowdowns;
    for (const auto& l : server.lines()) {
        if (!starts_with(l, "stats"))
            continue;
        const auto f = fields(l);
        if (f.size() < 8)
            continue;
        r.has_overload_figures = true;
        const long long t = std::stoll(f.at(2));
        const double slowdown = std::stod(f.at(4));
        slowdowns.push_back({t, slowdown});
        r.slowdown_max = std::max(r.slowdown_max, slowdown);
        r.lag_max_ms = std::max(r.lag_max_ms, std::stod(f.at(5)) / 1e3);
        r.refused = std::stol(f.at(6));
        r.deferrals = std::stol(f.at(7));
        if (t >= measured_from) {
            const double pct = 100.0 * std::stod(f.at(3)) / static_cast<double>(cfg.connections);
            r.online_min_pct = r.online_min_pct < 0 ? pct : std::min(r.online_min_pct, pct);
        }
    }
    // A victim's budget: N x the interval it was held to + 50 ms. That is
    // the largest slowdown in force between its last beat and its offline:
    // a frozen peer never acknowledges shorter terms, so it stays held to
    // the longer ones. (The stats lines come once a second: the one before
    // the last beat says what was in force then.)
    for (std::size_t v = 0; v < r.victim_offline.size(); ++v) {
        const auto [at, last_seen] = r.victim_offline[v];
        double factor = 1;
        for (const auto& s : slowdowns)
            if (s.t <= last_seen)
                factor = s.slowdown;
        for (const auto& s : slowdowns)
            if (s.t > last_seen && s.t <= at)
                factor = std::max(factor, s.slowdown);
        const double budget_ms = static_cast<double>(cfg.misses * cfg.interval_ms) * factor + 50.0;
        if (static_cast<double>(at - last_seen) / 1e6 > budget_ms)
            ++r.over_stretched_budget;
    }
    for (const auto& l : server.lines()) {
        if (!starts_with(l, "offline"))
            continue;
        const auto f = fields(l);
        if (f.at(1).rfind("victim", 0) != 0) {
            ++r.healthy_dropped;
            continue;
        }
        const auto v = static_cast<std::size_t>(std::stol(f.at(1).substr(6)));
        if (v < stopped_at.size() && std::stoll(f.at(3)) < stopped_at[v]) {
            ++r.healthy_dropped;
            ++r.early;
        }
    }
    r.ok = true;
    return r;
}

} // namespace

int main(int argc, char** argv)
{
    settings cfg;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--kinds") {
            cfg.kinds.clear();
            std::stringstream in(v);
            for (std::string kind; std::getline(in, kind, ',');)
                cfg.kinds.push_back(kind);
        }
        else if (k == "--base") cfg.base = v;
        else if (k == "--connections") cfg.connections = std::stol(v);
        else if (k == "--interval-ms") cfg.interval_ms = std::stol(v);
        else if (k == "--misses") cfg.misses = std::stol(v);
        else if (k == "--warmup-s") cfg.warmup_s = std::stol(v);
        else if (k == "--window-s") cfg.window_s = std::stol(v);
        else if (k == "--victims") cfg.victims = std::stol(v);
        else if (k == "--seed") cfg.seed = static_cast<unsigned>(std::stoul(v));
        else if (k == "--batch-us") cfg.batch_us = std::stol(v);
        else if (k == "--clients-per-process") cfg.per_process = std::max(1L, std::min(9000L, std::stol(v)));
        else if (k == "--peer") cfg.peer = v;
        else if (k == "--json") cfg.json = v;
        else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            return 2;
        }
    }
    std::printf("machine: %s, %u CPUs online\n", cpu_model().c_str(), std::thread::hardware_concurrency());
    std::printf("load: %ld connections, I = %ld ms, N = %ld, %ld victims, window %ld s after %ld s warm-up\n",
                cfg.connections, cfg.interval_ms, cfg.misses, cfg.victims, cfg.window_s, cfg.warmup_s);
    std::vector<result> results;
    for (const auto& kind : cfg.kinds) {
        results.push_back(run_kind(cfg, kind));
        const auto& r = results.back();
        if (!r.ok)
            std::printf("%-10s FAILED: %s\n", kind.c_str(), r.failure.c_str());
        std::fflush(stdout);
    }
    const result* base = nullptr;
    const result* floor = nullptr;
    for (const auto& r : results) {
        if (r.kind == cfg.base && r.ok)
            base = &r;
        if (r.kind == "floor" && r.ok)
            floor = &r;
    }
    auto per_beat_ratio = [](const result& r, const result* to) -> std::string {
        if (!to || to->cpu_per_s <= 0 || to->frames_per_s <= 0 || r.frames_per_s <= 0)
            return "-";
        char text[32];
        std::snprintf(text, sizeof text, "%.2f", (r.cpu_per_s / r.frames_per_s) / (to->cpu_per_s / to->frames_per_s));
        return text;
    };

    const char* b = cfg.base.c_str();
    std::printf("\n| kind | CPU-s/s | RSS MiB | beats/s | us CPU per beat | CPU per beat vs floor | clients CPU-s/s "
                "| healthy dropped | victims undetected | last beat -> offline p50 / p99 / max ms "
                "| stop -> offline p50 / p99 / max ms | CPU vs %s | CPU per beat vs %s | RSS vs %s |\n"
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
                b, b, b);
    std::ofstream json;
    if (!cfg.json.empty())
        json.open(cfg.json, std::ios::app);
    for (const auto& r : results) {
        if (!r.ok)
            continue;
        char ratio_cpu[32] = "-", ratio_rss[32] = "-", per_beat[32] = "-";
        if (base && base->cpu_per_s > 0)
            std::snprintf(ratio_cpu, sizeof ratio_cpu, "%.2f", r.cpu_per_s / base->cpu_per_s);
        if (r.frames_per_s > 0)
            std::snprintf(per_beat, sizeof per_beat, "%.2f", 1e6 * r.cpu_per_s / r.frames_per_s);
        if (base && base->rss_mib > 0)
            std::snprintf(ratio_rss, sizeof ratio_rss, "%.2f", r.rss_mib / base->rss_mib);
        const auto& a = r.from_last_seen_ms;
        const auto& s = r.from_stop_ms;
        std::string dropped = std::to_string(r.healthy_dropped);
        if (r.early > 0)
            dropped += " (" + std::to_string(r.early) + " victims before their stop)";
        std::string undetected = std::to_string(r.undetected) + " of " + std::to_string(cfg.victims);
        if (r.unconnected > 0)
            undetected += " (" + std::to_string(r.unconnected) + " never connected)";
        std::printf("| %s | %.4f | %.1f | %.0f | %s | %s | %.4f | %s | %s | %s | %s | %s | %s | %s |\n",
                    r.kind.c_str(), r.cpu_per_s, r.rss_mib, r.frames_per_s, per_beat, per_beat_ratio(r, floor).c_str(),
                    r.clients_cpu_per_s, dropped.c_str(), undetected.c_str(), percentiles(a).c_str(),
                    percentiles(s).c_str(), ratio_cpu, per_beat_ratio(r, base).c_str(), ratio_rss);
        if (json) {
            json << "{\"kind\":\"" << r.kind << "\",\"connections\":" << cfg.connections
                 << ",\"interval_ms\":" << cfg.interval_ms << ",\"misses\":" << cfg.misses
                 << ",\"cpu_per_s\":" << r.cpu_per_s << ",\"clients_cpu_per_s\":" << r.clients_cpu_per_s
                 << ",\"rss_mib\":" << r.rss_mib
                 << ",\"frames_per_s\":" << r.frames_per_s << ",\"healthy_dropped\":" << r.healthy_dropped
                 << ",\"undetected\":" << r.undetected << ",\"unconnected\":" << r.unconnected << ",\"early\":" << r.early << ",\"victims\":" << cfg.victims
                 << ",\"online_min_pct\":" << r.online_min_pct << ",\"slowdown_max\":" << r.slowdown_max
                 << ",\"lag_max_ms\":" << r.lag_max_ms << ",\"refused\":" << r.refused
                 << ",\"deferrals\":" << r.deferrals << ",\"over_stretched_budget\":" << r.over_stretched_budget
                 << ",\"last_seen_to_offline_ms\":[";
            for (std::size_t i = 0; i < a.size(); ++i)
                json << (i ? "," : "") << a[i];
            json << "],\"stop_to_offline_ms\":[";
            for (std::size_t i = 0; i < s.size(); ++i)
                json << (i ? "," : "") << s[i];
            json << "]}\n";
        }
    }
    // Overload: what the watcher did about its own lag (heartbeat kinds).
    bool any_overload = false;
    for (const auto& r : results)
        any_overload = any_overload || (r.ok && r.has_overload_figures);
    if (any_overload) {
        std::printf("\n| kind | beats/s | healthy dropped | fewest online after warm-up | slowdown at most "
                    "| lag at most ms | refused | deferrals | victims over N x I x slowdown + 50 ms |\n"
                    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for (const auto& r : results)
            if (r.ok && r.has_overload_figures)
                std::printf("| %s | %.0f | %ld | %.1f%% | %.2fx | %.1f | %ld | %ld | %ld of %zu |\n", r.kind.c_str(),
                            r.frames_per_s, r.healthy_dropped, r.online_min_pct, r.slowdown_max, r.lag_max_ms,
                            r.refused, r.deferrals, r.over_stretched_budget, r.victim_offline.size());
    }
    bool all_ok = true;
    for (const auto& r : results)
        all_ok = all_ok && (r.ok || r.skipped);
    return all_ok ? 0 : 1;
}
