// Measures heartbeat::redis against a running redis-server (scripts/bench.sh
// cluster starts one): what a burst of transitions costs, how long a resync
// of a whole gateway takes, how fast a query answers, and how long after a
// gateway's death its peers are offline everywhere.
//
//   cluster_bench [--redis-port P] [--peers N] [--rounds R] [--reap-batch B] [--quick]
//
// The port defaults to $HEARTBEAT_REDIS_PORT (scripts/with-redis.sh sets it),
// else 6379.
// Everything runs in this process on one io thread (gateways, directory);
// Redis is the only other party. Medians over R rounds.
#include <heartbeat/redis.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace net = heartbeat::net;
namespace hr = heartbeat::redis;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

double ms_since(steady::time_point t) { return std::chrono::duration<double, std::milli>(steady::now() - t).count(); }

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

template <class Pred>
bool wait_until(Pred pred, steady::duration timeout = 60s)
{
    const auto end = steady::now() + timeout;
    while (!pred()) {
        if (steady::now() > end)
            return false;
        std::this_thread::sleep_for(200us);
    }
    return true;
}

struct bench {
    unsigned short port;
    net::io_context io{1};
    net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(io);
    std::thread thread{[this] { io.run(); }};
    std::unique_ptr<hr::directory> dir;
    std::atomic<std::size_t> offline_events{0};

    explicit bench(unsigned short p) : port(p)
    {
        hr::directory::options o;
        o.redis.port = port;
        dir = std::make_unique<hr::directory>(io, o);
        dir->on_event([this](const hr::cluster_event& e) {
            if (e.type == hr::cluster_event::kind::offline)
                ++offline_events;
        });
        dir->start();
        if (!wait_until([&] { return dir->connected(); }, 10s)) {
            std::fprintf(stderr, "no Redis on 127.0.0.1:%u\n", static_cast<unsigned>(port));
            std::exit(1);
        }
    }

    ~bench()
    {
        dir->stop();
        work.reset();
        thread.join();
    }

    /// A gateway with the library's defaults, adjusted by `tune`.
    std::unique_ptr<hr::gateway> gateway(const std::string& name,
                                         const std::function<void(hr::gateway::options&)>& tune = {})
    {
        hr::gateway::options o;
        o.name = name;
        o.redis.port = port;
        if (tune)
            tune(o);
        return std::make_unique<hr::gateway>(io, o);
    }

    std::size_t count() { return dir->async_online_count(net::use_future).get(); }

    /// Brings a new gateway up and times `ids` going online through it,
    /// then offline; leaves it stopped. The gateway is handed to `between`
    /// while the peers are online.
    template <class Between>
    void bursts(std::unique_ptr<hr::gateway> g, const std::vector<std::string>& ids, std::vector<double>& on,
                std::vector<double>& off, Between between)
    {
        g->start();
        wait_until([&] { return g->stats().connected && g->stats().resyncs > 0 && count() == 0; });
        auto t = steady::now();
        for (const auto& id : ids)
            g->peer_online(id);
        wait_until([&] { return g->stats().queued == 0 && count() == ids.size(); });
        on.push_back(ms_since(t));
        between();
        t = steady::now();
        for (const auto& id : ids)
            g->peer_offline(id, heartbeat::offline_reason::left);
        wait_until([&] { return g->stats().queued == 0 && count() == 0; });
        off.push_back(ms_since(t));
        stop(*g);
    }

    void stop(hr::gateway& g) { g.async_stop(net::use_future).get(); }
};

// Query round trips, one after another, each issued from the last one's
// completion handler (on the io thread: no thread hop in the measurement);
// the baseline is hiredis's blocking API doing the same HEXISTS on its own
// connection, in the same run.
void measure_queries(bench& b, const std::vector<std::string>& ids, std::vector<double>& query_us,
                     std::vector<double>& blocking_us)
{
    const std::size_t peers = ids.size();
    const int queries = 2000;
    {
        std::promise<void> done;
        int left = queries;
        std::function<void()> next = [&] {
            b.dir->async_is_online(ids[static_cast<std::size_t>(left) % peers], [&](heartbeat::error_code, bool) {
                if (--left == 0)
                    done.set_value();
                else
                    next();
            });
        };
        const auto t = steady::now();
        net::post(b.io, next);
        done.get_future().wait();
        query_us.push_back(ms_since(t) * 1000.0 / queries);
    }
    {
        redisContext* c = redisConnect("127.0.0.1", b.port);
        const std::string key = "{heartbeat}:presence";
        const auto t = steady::now();
        for (int q = 0; q < queries; ++q) {
            auto* reply = static_cast<redisReply*>(redisCommand(
                c, "HEXISTS %b %b", key.data(), key.size(), ids[static_cast<std::size_t>(q) % peers].data(),
                ids[static_cast<std::size_t>(q) % peers].size()));
            freeReplyObject(reply);
        }
        blocking_us.push_back(ms_since(t) * 1000.0 / queries);
        redisFree(c);
    }
}

// Death of a gateway holding `ids`, reaped by a survivor in batches of
// `reap_batch`: the time from the victim's last renewal (it is stopped
// right after one) to the last offline event, and meanwhile the longest
// round trip of a blocking PING on a connection of its own: how long
// Redis stopped serving everyone else while it ran the reaping scripts.
// Returns false if some offline events never arrived (the directory's
// subscription dropped while Redis was stalled: pub/sub is at most once).
bool measure_death(bench& b, const std::vector<std::string>& ids, std::size_t reap_batch, std::vector<double>& reap,
                   std::vector<double>& stall)
{
    const auto short_lease = [&](hr::gateway::options& o) {
        o.lease_ttl = 1000ms;
        o.lease_refresh = 250ms;
        o.reap_batch = reap_batch;
        o.max_queued = ids.size() + 1; // replayed, never a resync still running when the victim dies
    };
    auto survivor = b.gateway("bench-survivor", short_lease);
    auto victim = b.gateway("bench-victim", short_lease);
    survivor->start();
    victim->start();
    for (const auto& id : ids)
        victim->peer_online(id);
    wait_until([&] { return victim->stats().queued == 0 && b.count() == ids.size(); });
    b.offline_events = 0;
    std::atomic<bool> reaped{false};
    double longest = 0;
    std::thread probe([&] {
        redisContext* c = redisConnect("127.0.0.1", b.port);
        while (!reaped) {
            const auto t = steady::now();
            freeReplyObject(redisCommand(c, "PING"));
            longest = std::max(longest, ms_since(t));
        }
        redisFree(c);
    });
    victim.reset(); // abrupt: no leave, the lease runs out
    const auto t = steady::now();
    const bool all_heard = wait_until([&] { return b.offline_events == ids.size(); }, 30s);
    reap.push_back(ms_since(t));
    reaped = true;
    probe.join();
    stall.push_back(longest);
    wait_until([&] { return b.count() == 0; });
    b.stop(*survivor);
    return all_heard;
}

} // namespace

int main(int argc, char** argv)
{
    const char* env_port = std::getenv("HEARTBEAT_REDIS_PORT");
    unsigned short port = static_cast<unsigned short>(env_port ? std::atoi(env_port) : 6379);
    std::size_t peers = 10'000;
    int rounds = 5;
    std::size_t reap_batch = 1'000;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--redis-port") == 0 && i + 1 < argc)
            port = static_cast<unsigned short>(std::atoi(argv[++i]));
        else if (std::strcmp(argv[i], "--peers") == 0 && i + 1 < argc)
            peers = std::strtoul(argv[++i], nullptr, 10);
        else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--reap-batch") == 0 && i + 1 < argc)
            reap_batch = std::strtoul(argv[++i], nullptr, 10);
        else if (std::strcmp(argv[i], "--quick") == 0)
            peers = 200, rounds = 1;
    }
    bench b(port);
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < peers; ++i)
        ids.push_back("peer-" + std::to_string(i));

    std::vector<double> online_burst, offline_burst, online_whole, offline_whole, resync, query_us, blocking_us,
        reap_whole, stall_whole, reap_batched, stall_batched;
    int lost_whole = 0, lost_batched = 0; // rounds whose offline events did not all arrive
    for (int r = 0; r < rounds; ++r) {
        // The same bursts with every script sent whole (EVAL), the baseline
        // for EVALSHA in the same run.
        b.bursts(b.gateway("bench-eval", [](hr::gateway::options& o) { o.cache_scripts = false; }), ids,
                 online_whole, offline_whole, [] {});

        // A burst of N online transitions, then N offline, through a
        // connected gateway, with the query round trips between them.
        b.bursts(b.gateway("bench-a"), ids, online_burst, offline_burst,
                 [&] { measure_queries(b, ids, query_us, blocking_us); });

        // A resync: a gateway that comes up already holding N peers writes
        // them out in one script.
        auto s = b.gateway("bench-resync");
        for (const auto& id : ids)
            s->peer_online(id);
        wait_until([&] { return s->stats().queued == peers; }, 10s);
        auto t = steady::now();
        s->start();
        wait_until([&] { return b.count() == peers; });
        resync.push_back(ms_since(t));
        b.stop(*s);

        // Death of a gateway holding N peers, reaped in one script (the
        // baseline) and in batches.
        lost_whole += measure_death(b, ids, peers, reap_whole, stall_whole) ? 0 : 1;
        lost_batched += measure_death(b, ids, reap_batch, reap_batched, stall_batched) ? 0 : 1;
    }

    std::printf("cluster_bench: %zu peers, %d rounds, Redis on 127.0.0.1:%u (medians)\n", peers, rounds,
                static_cast<unsigned>(port));
    std::printf("  online burst   %8.1f ms  (%.0f transitions/s)\n", median(online_burst),
                peers / median(online_burst) * 1000.0);
    std::printf("  offline burst  %8.1f ms  (%.0f transitions/s)\n", median(offline_burst),
                peers / median(offline_burst) * 1000.0);
    std::printf("  scripts sent whole (EVAL, cache_scripts = false): online %.1f ms, offline %.1f ms; "
                "EVALSHA takes %.2f / %.2f of that\n",
                median(online_whole), median(offline_whole), median(online_burst) / median(online_whole),
                median(offline_burst) / median(offline_whole));
    std::printf("  resync         %8.1f ms  (%.2f us per peer)\n", median(resync), median(resync) * 1000.0 / peers);
    std::printf("  is_online      %8.1f us  per query, one at a time (blocking hiredis HEXISTS: %.1f us, ratio %.2f)\n",
                median(query_us), median(blocking_us), median(query_us) / median(blocking_us));
    std::printf("  gateway death  %8.1f ms  to the last offline event (lease 1000 ms, refresh 250 ms), reaped in "
                "batches of %zu; Redis's longest stall meanwhile %.1f ms\n",
                median(reap_batched), reap_batch, median(stall_batched));
    std::printf("                 %8.1f ms  reaped in one script (reap_batch = %zu); longest stall %.1f ms\n",
                median(reap_whole), peers, median(stall_whole));
    if (lost_whole + lost_batched > 0)
        std::printf("  offline events lost (the directory's subscription dropped during a stall) in %d of %d rounds "
                    "in batches, %d of %d in one script: those rounds' times are the 30 s wait\n",
                    lost_batched, rounds, lost_whole, rounds);
}
