// Cluster presence on a real redis-server (started here on a loopback
// port): gateway processes (examples/cluster_gateway.cpp) with client
// processes (tests/faults/peer.cpp) beating into them, a directory in this
// process observing, and in-process gateways behind a forwarder the test
// cuts to make Redis unreachable for one gateway only.
#include "../support/child_process.hpp"
#include "../support/eventually.hpp"
#include "../support/tcp_forwarder.hpp"
#include "redis_server.hpp"

#include <heartbeat/redis.hpp>
#include <heartbeat/watcher.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <thread>

using namespace std::chrono_literals;
using heartbeat::offline_reason;
using heartbeat_test::child_process;
using heartbeat_test::eventually;
using heartbeat_test::fields;
using heartbeat_test::redis_server;
using heartbeat_test::tcp_forwarder;
namespace hr = heartbeat::redis;
namespace net = heartbeat::net;
using kind = hr::cluster_event::kind;
using steady = std::chrono::steady_clock;

namespace {

const std::string peer_program = HEARTBEAT_PEER_PATH;
const std::string gateway_program = HEARTBEAT_GATEWAY_PATH;

// Leases are short so a dead gateway is reaped quickly: offline within
// lease + refresh = 1.25 s of its death (plus the bounds' slack).
constexpr auto lease = 1000ms;
constexpr auto refresh = 250ms;
// How long the cases wait for Redis and the gateways to settle.
constexpr auto settle = 10s;

bool have_redis()
{
    if (redis_server::binary())
        return true;
    WARN("redis-server is not installed (scripts/install-deps.sh test installs it): skipped");
    return false;
}

/// Every cluster event the directory heard, for the main thread to inspect.
class event_log {
public:
    void add(const hr::cluster_event& e)
    {
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(e);
        cv_.notify_all();
    }

    template <class Pred>
    std::optional<hr::cluster_event> wait(Pred pred, steady::duration timeout = 10s)
    {
        std::unique_lock<std::mutex> lock(mu_);
        std::optional<hr::cluster_event> found;
        cv_.wait_for(lock, timeout, [&] {
            for (const auto& e : events_)
                if (pred(e)) {
                    found = e;
                    return true;
                }
            return false;
        });
        return found;
    }

    std::optional<hr::cluster_event> wait(kind k, const std::string& peer, steady::duration timeout = 10s)
    {
        return wait([&](const hr::cluster_event& e) { return e.type == k && e.peer == peer; }, timeout);
    }

    std::vector<hr::cluster_event> about(const std::string& peer) const
    {
        std::lock_guard<std::mutex> lock(mu_);
        std::vector<hr::cluster_event> out;
        for (const auto& e : events_)
            if (e.peer == peer)
                out.push_back(e);
        return out;
    }

    std::size_t count(kind k) const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return static_cast<std::size_t>(
            std::count_if(events_.begin(), events_.end(), [&](const hr::cluster_event& e) { return e.type == k; }));
    }

    std::vector<hr::cluster_event> all() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return events_;
    }

private:
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<hr::cluster_event> events_;
};

/// A directory (and, for the in-process cases, gateways) on an io thread.
class observer {
public:
    explicit observer(unsigned short redis_port) : work_(net::make_work_guard(io_))
    {
        hr::directory::options o;
        o.redis.port = redis_port;
        o.redis.reconnect_min = 20ms;
        o.redis.reconnect_max = 100ms;
        o.redis.command_timeout = 1s;
        dir_ = std::make_unique<hr::directory>(io_, o);
        dir_->on_event([this](const hr::cluster_event& e) { log.add(e); });
        dir_->start();
        // Two threads: the components' strands must keep them correct (TSan).
        for (auto& t : threads_)
            t = std::thread([this] { io_.run(); });
        REQUIRE(wait_connected());
    }

    ~observer()
    {
        gateways_.clear(); // each halts on its strand
        dir_->stop();
        dir_.reset();
        work_.reset();
        // Everything winds down by itself (timers cancelled, connections
        // freed); stop() is only the fallback if something does not.
        const auto end = steady::now() + 5s;
        while (!io_.stopped() && steady::now() < end)
            std::this_thread::sleep_for(1ms);
        CHECK(io_.stopped());
        io_.stop();
        for (auto& t : threads_)
            t.join();
    }

    bool wait_connected(steady::duration timeout = 10s)
    {
        const auto end = steady::now() + timeout;
        while (!dir_->connected() && steady::now() < end)
            std::this_thread::sleep_for(5ms);
        return dir_->connected();
    }

    hr::directory& directory() { return *dir_; }
    net::io_context& io() { return io_; }

    std::size_t online_count() { return dir_->async_online_count(net::use_future).get(); }
    std::optional<hr::location> locate(const std::string& peer)
    {
        return dir_->async_locate(peer, net::use_future).get();
    }
    bool is_online(const std::string& peer) { return dir_->async_is_online(peer, net::use_future).get(); }

    /// Peer -> gateway, for every online peer.
    std::map<std::string, std::string> snapshot()
    {
        std::map<std::string, std::string> out;
        for (auto& [peer, where] : dir_->async_snapshot(net::use_future).get())
            out[peer] = where.gateway;
        return out;
    }

    /// Polls the snapshot until it equals `want`.
    bool converges_to(const std::map<std::string, std::string>& want, steady::duration timeout = 10s)
    {
        const auto end = steady::now() + timeout;
        for (;;) {
            try {
                if (snapshot() == want)
                    return true;
            } catch (const heartbeat::system_error&) {
                // not connected yet
            }
            if (steady::now() > end)
                return false;
            std::this_thread::sleep_for(20ms);
        }
    }

    /// An in-process gateway on this io thread; `tune` adjusts the test's
    /// options before it starts.
    hr::gateway& add_gateway(const std::string& name, unsigned short redis_port,
                             const std::function<void(hr::gateway::options&)>& tune = {})
    {
        hr::gateway::options o;
        o.name = name;
        o.redis.port = redis_port;
        o.redis.reconnect_min = 20ms;
        o.redis.reconnect_max = 100ms;
        o.redis.command_timeout = 1s;
        o.lease_ttl = lease;
        o.lease_refresh = refresh;
        o.max_queued = 1000;
        if (tune)
            tune(o);
        gateways_.push_back(std::make_unique<hr::gateway>(io_, o));
        gateways_.back()->start();
        return *gateways_.back();
    }

    /// Destroys in-process gateways without a leave, as a crash would: all
    /// of them, or just `g`.
    void remove_gateways() { gateways_.clear(); }
    void remove_gateway(const hr::gateway& g)
    {
        gateways_.erase(std::remove_if(gateways_.begin(), gateways_.end(), [&](const auto& p) { return p.get() == &g; }),
                        gateways_.end());
    }

    event_log log;

private:
    net::io_context io_{2};
    net::executor_work_guard<net::io_context::executor_type> work_;
    std::unique_ptr<hr::directory> dir_;
    std::vector<std::unique_ptr<hr::gateway>> gateways_;
    std::thread threads_[2];
};

/// A blocking hiredis connection of the test's own, to reconfigure Redis.
class redis_admin {
public:
    explicit redis_admin(unsigned short port) : context_(redisConnect("127.0.0.1", port), &redisFree)
    {
        REQUIRE(context_);
        REQUIRE(context_->err == 0);
    }

    void run(const char* command) { freeReplyObject(redisCommand(context_.get(), command)); }

    /// Runs a command given word by word; an array reply's integers come
    /// back (scripts answer with those), anything else as nothing.
    std::vector<long long> run(const std::vector<std::string>& args)
    {
        std::vector<const char*> argv;
        std::vector<std::size_t> lengths;
        for (const auto& a : args) {
            argv.push_back(a.data());
            lengths.push_back(a.size());
        }
        auto* r = static_cast<redisReply*>(
            redisCommandArgv(context_.get(), static_cast<int>(args.size()), argv.data(), lengths.data()));
        std::vector<long long> out;
        if (r && r->type == REDIS_REPLY_ARRAY)
            for (std::size_t i = 0; i < r->elements; ++i)
                out.push_back(r->element[i]->integer);
        freeReplyObject(r);
        return out;
    }

    /// Gateway `gw`'s resync, as incarnation `token` sends it before its
    /// first resync is answered (asking for gateway_lost), holding `held`.
    std::vector<long long> resync(const std::string& gw, const std::string& token,
                                  std::initializer_list<std::string> held)
    {
        const auto now = now_ms();
        std::vector<std::string> rest{token, "60000", now, "gateway_lost"};
        for (const auto& id : held) {
            rest.push_back(id);
            rest.push_back(now);
        }
        return run_script(hr::detail::scripts::resync, gw, rest);
    }

    /// Gateway `gw`'s renewal, reaping at most `batch` peers.
    std::vector<long long> tick(const std::string& gw, const std::string& token, std::size_t batch)
    {
        return run_script(hr::detail::scripts::tick, gw, {token, "60000", now_ms(), std::to_string(batch)});
    }

private:
    std::vector<long long> run_script(const char* body, const std::string& gw, const std::vector<std::string>& rest)
    {
        std::vector<std::string> args{"EVAL", std::string(hr::detail::scripts::prelude) + body, "0", "heartbeat", gw};
        args.insert(args.end(), rest.begin(), rest.end());
        return run(args);
    }

    static std::string now_ms() { return std::to_string(hr::cluster_now().time_since_epoch().count()); }

    std::unique_ptr<redisContext, decltype(&redisFree)> context_;
};

/// A gateway process and the port its watcher listens on.
struct gateway_process {
    gateway_process(const std::string& gateway_name, unsigned short redis_port)
        : name(gateway_name), process({gateway_program, "--name", gateway_name, "--redis-port", std::to_string(redis_port),
                               "--interval-ms", "100", "--lease-ms", std::to_string(lease.count()),
                               "--refresh-ms", std::to_string(refresh.count())})
    {
        const auto line = process.wait_line(
            [](const std::string& l) { return heartbeat_test::starts_with(l, "listening"); }, 10s);
        REQUIRE(line);
        port = fields(*line).at(1);
    }

    /// Waits until the gateway's own watcher has `peer` online.
    bool has_online(const std::string& peer, steady::duration timeout = 10s)
    {
        const auto want = name + ": online " + peer;
        return process.wait_line([&](const std::string& l) { return l == want; }, timeout).has_value();
    }

    std::string name;
    child_process process;
    std::string port;
};

/// `count` reconnecting clients "<id>0".."<id><count-1>" (just "<id>" when
/// count is 1) beating every 100 ms.
std::unique_ptr<child_process> clients(const gateway_process& g, const std::string& id, int count = 1)
{
    return std::make_unique<child_process>(std::vector<std::string>{
        peer_program, "clients", "--port", g.port, "--id", id, "--count", std::to_string(count), "--interval-ms",
        "100"});
}

} // namespace

TEST_CASE("gateways publish presence, and a directory answers queries and hears events", "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    gateway_process a("A", redis.port());
    gateway_process b("B", redis.port());
    auto on_a = clients(a, "a", 3);
    auto on_b = clients(b, "b", 2);

    const std::map<std::string, std::string> want{{"a0", "A"}, {"a1", "A"}, {"a2", "A"}, {"b0", "B"}, {"b1", "B"}};
    REQUIRE(obs.converges_to(want));
    CHECK(obs.online_count() == 5);
    CHECK(obs.is_online("a1"));
    CHECK_FALSE(obs.is_online("nobody"));
    const auto where = obs.locate("b1");
    REQUIRE(where);
    CHECK(where->gateway == "B");
    CHECK(hr::cluster_now() - where->since < 60s);
    CHECK_FALSE(obs.locate("nobody"));
    for (const auto& [peer, gw] : want) {
        const auto ev = obs.log.wait(kind::online, peer);
        REQUIRE(ev);
        CHECK(ev->gateway == gw);
        CHECK(obs.log.about(peer).size() == 1);
    }

    // A clean departure: the peer leaves, then a gateway shuts down.
    on_b->signal(SIGTERM); // the clients say GOODBYE
    const auto left = obs.log.wait(kind::offline, "b0");
    REQUIRE(left);
    CHECK(left->reason == hr::cluster_reason::left);
    CHECK(left->gateway == "B");
    a.process.signal(SIGTERM);
    const auto shut = obs.log.wait(kind::offline, "a0");
    REQUIRE(shut);
    CHECK(shut->reason == hr::cluster_reason::shutdown);
    REQUIRE(obs.converges_to({}));
}

TEST_CASE("a gateway killed with SIGKILL: exactly one survivor takes its peers offline (gateway_lost) "
          "within lease + refresh",
          "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    gateway_process a("A", redis.port());
    gateway_process b("B", redis.port());
    gateway_process c("C", redis.port());
    auto on_a = clients(a, "a", 4);
    auto on_b = clients(b, "b", 2);
    auto on_c = clients(c, "c", 2);
    REQUIRE(obs.converges_to({{"a0", "A"}, {"a1", "A"}, {"a2", "A"}, {"a3", "A"}, {"b0", "B"}, {"b1", "B"},
                              {"c0", "C"}, {"c1", "C"}}));

    const auto killed_at = steady::now();
    a.process.kill();
    for (const char* peer : {"a0", "a1", "a2", "a3"}) {
        const auto off = obs.log.wait(kind::offline, peer, 10s);
        REQUIRE(off);
        CHECK(off->reason == hr::cluster_reason::gateway_lost);
        CHECK(off->gateway == "A");
    }
    const auto took = steady::now() - killed_at;
    INFO("all of A's peers offline " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                                     << " ms after the kill");
    CHECK(took <= lease + refresh + 1500ms); // slack for a loaded machine
    REQUIRE(obs.converges_to({{"b0", "B"}, {"b1", "B"}, {"c0", "C"}, {"c1", "C"}}));

    // Exactly one survivor reaped: one offline per peer, no matter that two
    // gateways were renewing (and reaping) all along.
    std::this_thread::sleep_for(3 * refresh);
    for (const char* peer : {"a0", "a1", "a2", "a3"})
        CHECK(obs.log.about(peer).size() == 2); // online, offline
    for (const char* peer : {"b0", "b1", "c0", "c1"})
        CHECK(obs.log.about(peer).size() == 1); // online, untouched
}

TEST_CASE("a peer that moves between gateways is never offline in the cluster", "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    gateway_process a("A", redis.port());
    gateway_process b("B", redis.port());

    SECTION("the old connection drops after the new one is up")
    {
        auto old_session = clients(a, "m");
        REQUIRE(obs.log.wait(kind::online, "m"));
        auto new_session = clients(b, "m");
        const auto moved = obs.log.wait(kind::moved, "m");
        REQUIRE(moved);
        CHECK(moved->gateway == "B");
        CHECK(moved->from == "A");
        old_session->kill(); // A sees the disconnect and lets go: a no-op
        REQUIRE(a.process.wait_line([](const std::string& l) { return l.rfind("A: offline m", 0) == 0; }, 10s));
        std::this_thread::sleep_for(3 * refresh);
        CHECK(obs.locate("m")->gateway == "B");
        for (const auto& e : obs.log.about("m"))
            CHECK(e.type != kind::offline);
    }
    SECTION("the owner lets go while another gateway still holds a session: the record moves there")
    {
        auto first = clients(a, "m");
        REQUIRE(obs.log.wait(kind::online, "m"));
        auto second = clients(b, "m");
        REQUIRE(obs.log.wait(kind::moved, "m"));
        second->kill(); // B, the owner now, lets go; A still holds m0
        const auto back = obs.log.wait(
            [](const hr::cluster_event& e) { return e.peer == "m" && e.type == kind::moved && e.gateway == "A"; });
        REQUIRE(back);
        CHECK(back->from == "B");
        CHECK(obs.locate("m")->gateway == "A");
        for (const auto& e : obs.log.about("m"))
            CHECK(e.type != kind::offline);
    }
}

TEST_CASE("Redis restarted mid-run: local watchers carry on and presence is rebuilt from them", "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis; // no persistence: the restart loses everything
    gateway_process a("A", redis.port());
    gateway_process b("B", redis.port());
    auto stay_a = clients(a, "sa", 2);
    auto leave_a = clients(a, "la");
    auto stay_b = clients(b, "sb", 2);
    {
        observer obs(redis.port());
        REQUIRE(obs.converges_to({{"sa0", "A"}, {"sa1", "A"}, {"la", "A"}, {"sb0", "B"}, {"sb1", "B"}}));
    }

    redis.kill();
    leave_a->kill();                 // goes offline while Redis is away
    auto join_b = clients(b, "jb"); // comes online while Redis is away
    REQUIRE(a.process.wait_line([](const std::string& l) { return l.rfind("A: offline la", 0) == 0; }, 10s));
    REQUIRE(b.has_online("jb"));
    std::this_thread::sleep_for(500ms);
    redis.start();

    observer obs(redis.port());
    REQUIRE(obs.converges_to({{"sa0", "A"}, {"sa1", "A"}, {"sb0", "B"}, {"sb1", "B"}, {"jb", "B"}}));
    // The gateways' own watchers never noticed: nobody healthy went offline.
    for (auto* g : {&a, &b})
        for (const auto& l : g->process.lines())
            CHECK((l.find("offline") == std::string::npos || l.find("offline la") != std::string::npos));
}

TEST_CASE("a gateway cut off from Redis queues its transitions and replays them in order", "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    tcp_forwarder link(redis.port());
    auto& g = obs.add_gateway("G", link.port());
    g.peer_online("x");
    g.peer_online("y");
    REQUIRE(obs.converges_to({{"x", "G"}, {"y", "G"}}));
    REQUIRE(eventually([&] { return g.stats().queued == 0 && g.stats().connected; }, settle));

    link.cut();
    REQUIRE(eventually([&] { return !g.stats().connected; }, settle));
    g.peer_offline("x", offline_reason::left);
    g.peer_online("z");
    g.peer_offline("y", offline_reason::timeout);
    g.peer_online("x");
    REQUIRE(eventually([&] { return g.stats().queued == 4; }, settle));
    CHECK(obs.snapshot() == std::map<std::string, std::string>{{"x", "G"}, {"y", "G"}}); // nothing reached Redis

    link.restore(); // well within the lease: no one reaped G
    REQUIRE(obs.converges_to({{"x", "G"}, {"z", "G"}}));
    REQUIRE(eventually([&] { return g.stats().queued == 0; }, settle));
    CHECK(g.stats().replayed >= 4);
    CHECK(g.stats().resyncs == 1); // only the first connection's

    // Every transition made it out, in the order it happened (after the
    // first connection's write-out of x and y, in no particular order).
    REQUIRE(eventually([&] { return obs.log.all().size() >= 6; }, settle));
    std::vector<std::string> seen;
    for (const auto& e : obs.log.all())
        seen.push_back(std::string(to_string(e.type)) + " " + e.peer
                       + (e.type == kind::offline ? " " + std::string(to_string(e.reason)) : ""));
    REQUIRE(seen.size() == 6);
    CHECK(std::set<std::string>(seen.begin(), seen.begin() + 2) == std::set<std::string>{"online x", "online y"});
    CHECK(std::vector<std::string>(seen.begin() + 2, seen.end())
          == std::vector<std::string>{"offline x left", "online z", "offline y timeout", "online x"});
}

TEST_CASE("a gateway whose queue overflowed while cut off resynchronises from its own view", "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    tcp_forwarder link(redis.port());
    auto& g = obs.add_gateway("G", link.port(), [](auto& o) { o.max_queued = 3; });
    g.peer_online("keep");
    g.peer_online("lose");
    REQUIRE(obs.converges_to({{"keep", "G"}, {"lose", "G"}}));
    REQUIRE(eventually([&] { return g.stats().queued == 0 && g.stats().connected; }, settle));
    // Redis has run the first resync, but its reply may still be on the way
    // through the forwarder. A cut before it arrives leaves the gateway
    // unsure the resync ran; should the lease also run out while cut off
    // (a slow sanitizer run), its next resync could not tell its own peers
    // from an earlier incarnation's and would say gateway_lost. Renewals go
    // out behind it on the same connection: after three the reply is in.
    std::this_thread::sleep_for(3 * refresh);

    link.cut();
    REQUIRE(eventually([&] { return !g.stats().connected; }, settle));
    for (int i = 0; i < 5; ++i) // churn that overflows a 3-slot queue
        g.peer_online("new" + std::to_string(i));
    g.peer_offline("new0", offline_reason::left);
    g.peer_offline("lose", offline_reason::timeout);
    REQUIRE(eventually([&] { return g.stats().overflowed > 0; }, settle));

    link.restore();
    REQUIRE(obs.converges_to({{"keep", "G"}, {"new1", "G"}, {"new2", "G"}, {"new3", "G"}, {"new4", "G"}}));
    CHECK(g.stats().resyncs == 2);
    const auto lost = obs.log.wait(kind::offline, "lose");
    REQUIRE(lost);
    CHECK(lost->reason == hr::cluster_reason::resynced); // its real reason did not fit the queue
    CHECK(obs.log.about("new0").empty());             // came and went unseen: nothing to tell
    CHECK(obs.log.about("keep").size() == 1);         // online once, never disturbed
}

TEST_CASE("a gateway cut off for longer than its lease is reaped, then rejoins with its peers", "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    tcp_forwarder link(redis.port());
    auto& cut_off = obs.add_gateway("G1", link.port());
    auto& survivor = obs.add_gateway("G2", redis.port());
    cut_off.peer_online("p");
    survivor.peer_online("q");
    REQUIRE(obs.converges_to({{"p", "G1"}, {"q", "G2"}}));

    link.cut();
    const auto off = obs.log.wait(kind::offline, "p", lease + refresh + 5s);
    REQUIRE(off);
    CHECK(off->reason == hr::cluster_reason::gateway_lost);
    CHECK(eventually([&] { return survivor.stats().reaped == 1; }, settle));

    link.restore();
    REQUIRE(obs.converges_to({{"p", "G1"}, {"q", "G2"}}));
    CHECK(cut_off.stats().lease_lost >= 1);
    // online, offline(gateway_lost), online again (events trail the state a little)
    CHECK(eventually([&] { return obs.log.about("p").size() == 3; }, settle));
    CHECK(obs.log.about("q").size() == 1);
}

TEST_CASE("a resync whose reply was lost: the next one releases the same incarnation's peers as resynced, "
          "and a new incarnation releases them as gateway_lost",
          "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    redis_admin admin(redis.port());
    // Each resync asks for gateway_lost, as a gateway's does until its
    // first one is answered.
    admin.resync("G", "incarnation-1", {"kept", "dropped"});
    REQUIRE(obs.converges_to({{"kept", "G"}, {"dropped", "G"}}));

    admin.resync("G", "incarnation-1", {"kept"}); // the same incarnation, its first reply lost
    const auto dropped = obs.log.wait(kind::offline, "dropped");
    REQUIRE(dropped);
    CHECK(dropped->reason == hr::cluster_reason::resynced);

    admin.resync("G", "incarnation-2", {}); // a restart: the previous incarnation's peers
    const auto kept = obs.log.wait(kind::offline, "kept");
    REQUIRE(kept);
    CHECK(kept->reason == hr::cluster_reason::gateway_lost);
    CHECK(obs.snapshot().empty());
}

TEST_CASE("a dead gateway is reaped in batches: each renewal releases at most its batch, "
          "every peer once, and the gateway leaves the set with its last peer",
          "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    redis_admin admin(redis.port());
    admin.resync("D", "dead", {"p1", "p2", "p3", "p4", "p5"});
    admin.run({"DEL", "{heartbeat}:lease:D"}); // its lease ran out
    admin.resync("S", "survivor", {});
    REQUIRE(obs.converges_to({{"p1", "D"}, {"p2", "D"}, {"p3", "D"}, {"p4", "D"}, {"p5", "D"}}));

    // {lease held, gateways reaped, more to reap}
    CHECK(admin.tick("S", "survivor", 2) == std::vector<long long>{1, 0, 1});
    CHECK(obs.snapshot().size() == 3);
    CHECK(admin.tick("S", "survivor", 2) == std::vector<long long>{1, 0, 1});
    CHECK(obs.snapshot().size() == 1);
    CHECK(admin.tick("S", "survivor", 2) == std::vector<long long>{1, 1, 0});
    CHECK(obs.snapshot().empty());
    CHECK(admin.tick("S", "survivor", 2) == std::vector<long long>{1, 0, 0}); // nothing left
    const std::vector<std::string> peers{"p1", "p2", "p3", "p4", "p5"};
    REQUIRE(eventually([&] { return obs.log.count(kind::offline) == peers.size(); }, settle));
    for (const auto& peer : peers) {
        const auto events = obs.log.about(peer);
        REQUIRE(events.size() == 2);
        CHECK(events[1].reason == hr::cluster_reason::gateway_lost);
    }
}

TEST_CASE("two survivors share the reaping of a large dead gateway in small batches, and no peer is released twice",
          "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    auto& doomed = obs.add_gateway("D", redis.port());
    std::map<std::string, std::string> all;
    for (int i = 0; i < 300; ++i) {
        doomed.peer_online("d" + std::to_string(i));
        all["d" + std::to_string(i)] = "D";
    }
    REQUIRE(obs.converges_to(all));
    const auto small_batches = [](hr::gateway::options& o) { o.reap_batch = 2; };
    auto& s1 = obs.add_gateway("S1", redis.port(), small_batches);
    auto& s2 = obs.add_gateway("S2", redis.port(), small_batches);
    REQUIRE(eventually([&] { return s1.stats().connected && s2.stats().connected; }, settle));

    obs.remove_gateway(doomed); // a crash: no leave
    // One batch of 2 per renewal would take 150 renewals, about 19 s between
    // two survivors: each sends its next batch as soon as one is answered.
    REQUIRE(obs.converges_to({}, lease + refresh + settle));
    CHECK(s1.stats().reaped + s2.stats().reaped == 1);
    REQUIRE(eventually([&] { return obs.log.count(kind::offline) == all.size(); }, settle));
    for (const auto& [peer, gw] : all) {
        const auto events = obs.log.about(peer);
        REQUIRE(events.size() == 2); // online, then one offline
        CHECK(events[1].reason == hr::cluster_reason::gateway_lost);
    }
}

TEST_CASE("a burst does not delay the lease renewal: a gateway sending two hundred thousand transitions at once "
          "is not reaped alive",
          "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    auto& busy = obs.add_gateway("B", redis.port(), [](hr::gateway::options& o) { o.max_queued = 300'000; });
    auto& other = obs.add_gateway("O", redis.port()); // would reap B if its lease ran out
    REQUIRE(eventually([&] { return busy.stats().connected && other.stats().connected; }, settle));
    // About 2 s of Redis's time at once, twice the 1 s lease.
    const int peers = 200'000;
    for (int i = 0; i < peers; ++i)
        busy.peer_online("b" + std::to_string(i));
    REQUIRE(eventually([&] { return busy.stats().queued == 0; }, 60s));
    CHECK(busy.stats().lease_lost == 0);
    CHECK(other.stats().reaped == 0);
    CHECK(obs.online_count() == static_cast<std::size_t>(peers));
    CHECK(obs.log.count(kind::offline) == 0);
}

TEST_CASE("a gateway restarted under the same name releases what its previous incarnation held", "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    {
        auto& before = obs.add_gateway("G", redis.port());
        before.peer_online("old");
        REQUIRE(obs.converges_to({{"old", "G"}}));
        obs.remove_gateways(); // a crash: no leave, the lease still runs
    }
    // No other gateway exists to reap G: only its next incarnation can
    // tell the cluster that "old" went with the crash.
    auto& after = obs.add_gateway("G", redis.port());
    const auto off = obs.log.wait(kind::offline, "old");
    REQUIRE(off);
    CHECK(off->reason == hr::cluster_reason::gateway_lost);
    after.peer_online("new");
    REQUIRE(obs.converges_to({{"new", "G"}}));
}

TEST_CASE("random churn across three gateways, two of them cut off and restored at random, converges",
          "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    tcp_forwarder link1(redis.port());
    tcp_forwarder link2(redis.port());
    tcp_forwarder* links[3] = {nullptr, &link1, &link2};
    hr::gateway* gateways[3] = {&obs.add_gateway("G0", redis.port()), &obs.add_gateway("G1", link1.port()),
                                &obs.add_gateway("G2", link2.port())};
    const std::string names[3] = {"G0", "G1", "G2"};

    // The model: which gateways hold a session for each peer.
    constexpr std::size_t peers = 30;
    std::vector<std::set<int>> holders(peers);
    bool cut[3] = {false, false, false};
    std::mt19937 rng(Catch::rngSeed() + 7);
    std::uniform_int_distribution<std::size_t> pick_peer(0, peers - 1);
    std::uniform_int_distribution<int> pick_gateway(0, 2), percent(0, 99);
    for (int step = 0; step < 600; ++step) {
        const int roll = percent(rng);
        if (roll < 3) {
            // Cut or restore G1 or G2; some cuts outlast the lease (reaped, then back).
            const int g = 1 + pick_gateway(rng) % 2;
            cut[g] ? links[g]->restore() : links[g]->cut();
            cut[g] = !cut[g];
        } else {
            const std::size_t p = pick_peer(rng);
            const int g = pick_gateway(rng);
            const auto id = "p" + std::to_string(p);
            if (holders[p].count(g)) {
                gateways[g]->peer_offline(id, offline_reason::disconnected);
                holders[p].erase(g);
            } else {
                gateways[g]->peer_online(id);
                holders[p].insert(g);
            }
        }
        std::this_thread::sleep_for(5ms);
    }
    for (int g : {1, 2})
        if (cut[g])
            links[g]->restore();

    // Presence converges: a peer is online iff some gateway holds it, and
    // is located at one of those that do.
    auto agrees = [&] {
        std::map<std::string, std::string> snap;
        try {
            snap = obs.snapshot();
        } catch (const heartbeat::system_error&) {
            return false;
        }
        std::size_t online = 0;
        for (std::size_t p = 0; p < peers; ++p) {
            const auto it = snap.find("p" + std::to_string(p));
            if (holders[p].empty()) {
                if (it != snap.end())
                    return false;
                continue;
            }
            ++online;
            if (it == snap.end())
                return false;
            bool held_there = false;
            for (int g : holders[p])
                held_there = held_there || names[g] == it->second;
            if (!held_there)
                return false;
        }
        return snap.size() == online;
    };
    REQUIRE(eventually(agrees, 20s));
    // The cuts did bite: transitions waited and were replayed (with most
    // seeds a cut also outlasts a lease: reaped, lease_lost, resync).
    CHECK(gateways[1]->stats().replayed + gateways[2]->stats().replayed > 0);

    // The event stream, per peer, is a valid sequence: online only when
    // offline, moved and offline only when online.
    std::map<std::string, bool> online_now;
    for (const auto& e : obs.log.all()) {
        INFO(e.peer << " " << to_string(e.type));
        const bool was = online_now[e.peer];
        CHECK(was == (e.type != kind::online));
        online_now[e.peer] = e.type != kind::offline;
    }
}

TEST_CASE("Redis refusing writes (a read-only replica for a while): the gateway counts the errors and "
          "writes its view out once Redis accepts again",
          "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    auto& g = obs.add_gateway("G", redis.port());
    g.peer_online("before");
    REQUIRE(obs.converges_to({{"before", "G"}}));

    redis_admin admin(redis.port());
    admin.run("REPLICAOF 127.0.0.1 1"); // a master that is not there: read-only, data kept
    g.peer_online("during");
    g.peer_offline("before", offline_reason::left);
    REQUIRE(eventually([&] { return g.stats().errors >= 2; }, settle));
    CHECK(obs.snapshot() == std::map<std::string, std::string>{{"before", "G"}});

    admin.run("REPLICAOF NO ONE");
    REQUIRE(obs.converges_to({{"during", "G"}}));
    const auto off = obs.log.wait(kind::offline, "before");
    REQUIRE(off);
    CHECK(off->reason == hr::cluster_reason::resynced);
}

TEST_CASE("Redis forgetting the scripts (SCRIPT FLUSH): the gateway reconnects, loads them again and "
          "replays what was refused, and one that sends scripts whole never notices",
          "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    auto& cached = obs.add_gateway("C", redis.port());
    auto& whole = obs.add_gateway("W", redis.port(), [](auto& o) { o.cache_scripts = false; });
    cached.peer_online("c-before");
    whole.peer_online("w-before");
    REQUIRE(obs.converges_to({{"c-before", "C"}, {"w-before", "W"}}));

    redis_admin(redis.port()).run("SCRIPT FLUSH");
    cached.peer_online("c-after");
    cached.peer_offline("c-before", offline_reason::left);
    // Only then W: its EVAL of the same script would put it back in
    // Redis's cache, and C would find it there.
    REQUIRE(eventually([&] { return cached.stats().script_reloads >= 1; }, settle));
    whole.peer_online("w-after");
    whole.peer_offline("w-before", offline_reason::left);
    REQUIRE(obs.converges_to({{"c-after", "C"}, {"w-after", "W"}}));
    // Replayed as they were, not rewritten by a resync.
    for (const char* peer : {"c-before", "w-before"}) {
        const auto off = obs.log.wait(kind::offline, peer);
        REQUIRE(off);
        CHECK(off->reason == hr::cluster_reason::left);
    }
    CHECK(whole.stats().script_reloads == 0);
    CHECK(cached.stats().errors == 0);
    CHECK(whole.stats().errors == 0);
}

#if defined(HEARTBEAT_HAS_CO_AWAIT)
TEST_CASE("directory queries with use_awaitable", "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    auto& g = obs.add_gateway("G", redis.port());
    g.peer_online("alice");
    REQUIRE(obs.converges_to({{"alice", "G"}}));

    struct answers {
        bool alice = false;
        bool nobody = true;
        std::string where;
        std::size_t count = 0;
    };
    auto& dir = obs.directory();
    auto ask = [&dir]() -> net::awaitable<answers> {
        answers a;
        a.alice = co_await dir.async_is_online("alice", net::use_awaitable);
        a.nobody = co_await dir.async_is_online("nobody", net::use_awaitable);
        const auto loc = co_await dir.async_locate("alice", net::use_awaitable);
        a.where = loc ? loc->gateway : "";
        a.count = co_await dir.async_online_count(net::use_awaitable);
        co_return a;
    };
    const auto a = net::co_spawn(obs.io(), ask(), net::use_future).get();
    CHECK(a.alice);
    CHECK_FALSE(a.nobody);
    CHECK(a.where == "G");
    CHECK(a.count == 1);
}
#endif

TEST_CASE("a gateway attached to a watcher is one of its observers: the application's on_event sees every "
          "transition too",
          "[cluster]")
{
    if (!have_redis())
        return;
    redis_server redis;
    observer obs(redis.port());
    auto& g = obs.add_gateway("W", redis.port());

    using tcp = net::ip::tcp;
    heartbeat::watcher<tcp::socket>::options wo;
    wo.detection.interval = 100ms;
    heartbeat::watcher<tcp::socket> w(obs.io(), wo);
    std::mutex mu;
    std::vector<std::string> seen; // the application's own view
    w.on_event([&](const heartbeat::watcher<tcp::socket>::event_type& e) {
        std::lock_guard<std::mutex> lock(mu);
        seen.push_back(std::string(to_string(e.kind)) + " " + e.key);
    });
    g.attach(w);
    tcp::acceptor acceptor(obs.io(), {net::ip::make_address("127.0.0.1"), 0});
    w.accept_from(acceptor);

    auto client = std::make_unique<child_process>(std::vector<std::string>{
        peer_program, "clients", "--port", std::to_string(acceptor.local_endpoint().port()), "--id", "u",
        "--count", "1", "--interval-ms", "100"});
    const auto online = obs.log.wait(kind::online, "u");
    REQUIRE(online);
    CHECK(online->gateway == "W");
    client->signal(SIGTERM); // GOODBYE
    const auto offline = obs.log.wait(kind::offline, "u");
    REQUIRE(offline);
    CHECK(offline->reason == hr::cluster_reason::left);
    {
        std::lock_guard<std::mutex> lock(mu);
        CHECK(seen == std::vector<std::string>{"online u", "offline u"});
    }
    client.reset();
    // The acceptor belongs to the io thread, which cancels it in stop():
    // close it there too, after the stop, not from this thread meanwhile.
    std::promise<void> stopped;
    net::dispatch(w.get_executor(), [&] {
        w.stop();
        acceptor.close();
        stopped.set_value();
    });
    stopped.get_future().wait();
}
