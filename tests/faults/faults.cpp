// Faults across process boundaries: a client process frozen with SIGSTOP,
// a server killed with SIGKILL, and a network blackhole between two network
// namespaces. The processes are tests/faults/peer.cpp; times they print are
// steady_clock readings, comparable with this process's.
#include "../support/child_process.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include <unistd.h>

using namespace std::chrono_literals;
using heartbeat_test::child_process;
using heartbeat_test::fields;
using steady = std::chrono::steady_clock;

namespace {

const std::string peer = HEARTBEAT_PEER_PATH;

// I = 100 ms, N = 3: a silent peer is offline 300 ms after its last beat
// (plus the policy's grace and a sweep); the bounds below add room for a
// loaded CI machine without hiding a missed deadline.
constexpr auto interval = 100ms;
constexpr unsigned misses = 3;

long long now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
}

long long ms(long long ns) { return ns / 1'000'000; }

/// Time field (nanoseconds) at `index` of an event line.
long long stamp(const std::string& line, std::size_t index) { return std::stoll(fields(line).at(index)); }

std::string started_port(child_process& server)
{
    const auto ready = server.wait_for("ready", 10s);
    REQUIRE(ready);
    return fields(*ready).at(1);
}

std::vector<std::string> server_args(const std::string& bind = "127.0.0.1", const std::string& port = "0")
{
    return {peer, "server", "--bind", bind, "--port", port, "--interval-ms",
            std::to_string(interval.count()), "--misses", std::to_string(misses)};
}

std::vector<std::string> client_args(const std::string& port, const std::string& id, int count = 1,
                                     const std::string& host = "127.0.0.1")
{
    return {peer, "clients", "--host", host, "--port", port, "--id", id, "--count", std::to_string(count),
            "--interval-ms", std::to_string(interval.count())};
}

/// Runs a command, true if it exited 0.
bool sh(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

} // namespace

TEST_CASE("a client process stopped with SIGSTOP goes offline on time and comes back after SIGCONT",
          "[faults]")
{
    child_process server(server_args());
    const auto port = started_port(server);
    child_process bystander(client_args(port, "bystander"));
    child_process victim(client_args(port, "victim"));
    REQUIRE(server.wait_for("online victim", 10s));
    REQUIRE(server.wait_for("online bystander", 10s));

    // Freeze at an arbitrary phase of the beat cycle: the socket stays open
    // and the kernel keeps ACKing, so only the heartbeat can tell.
    std::this_thread::sleep_for(137ms);
    const long long stopped_at = now_ns();
    victim.signal(SIGSTOP);

    const auto offline = server.wait_for("offline victim", 10s);
    REQUIRE(offline);
    CHECK(fields(*offline).at(2) == "timeout");
    const long long after_stop = ms(stamp(*offline, 3) - stopped_at);
    INFO("offline " << after_stop << " ms after SIGSTOP");
    // The last beat went out at most one interval before the stop.
    CHECK(after_stop >= static_cast<long long>((misses - 1) * interval.count()));
    CHECK(after_stop <= static_cast<long long>(misses * interval.count()) + 700);

    victim.signal(SIGCONT);
    const auto back = server.wait_for("online victim", 10s, 1);
    REQUIRE(back);
    // The thawed client noticed that its session had been closed and made
    // a fresh one.
    REQUIRE(victim.wait_for("connected victim", 10s, 1));

    // Nothing ever happened to the bystander.
    CHECK(server.count("offline bystander") == 0);
    CHECK(bystander.count("lost bystander") == 0);
    CHECK(server.count("offline victim") == 1);
}

TEST_CASE("clients detect a server killed with SIGKILL and reconnect when it returns, without spinning",
          "[faults]")
{
    auto server = std::make_unique<child_process>(server_args());
    const auto port = started_port(*server);
    constexpr int clients_n = 3;
    child_process clients(client_args(port, "c", clients_n));
    for (int i = 0; i < clients_n; ++i)
        REQUIRE(clients.wait_for("connected c" + std::to_string(i), 10s));

    const long long killed_at = now_ns();
    server->kill();
    for (int i = 0; i < clients_n; ++i) {
        const auto lost = clients.wait_for("lost c" + std::to_string(i), 10s);
        REQUIRE(lost);
        const long long after = ms(stamp(*lost, 2) - killed_at);
        INFO(*lost);
        // The dead process's kernel closes its sockets, so the loss is
        // seen at once; the bound is the client's own N * I for a server
        // that dies without a FIN.
        CHECK(after <= static_cast<long long>(misses * interval.count()) + 700);
    }

    // Down for a while: each client keeps trying, paced by its backoff
    // (50 ms doubling to a 500 ms cap): a handful of attempts, not a spin.
    std::this_thread::sleep_for(1500ms);
    for (int i = 0; i < clients_n; ++i) {
        const std::string id = "c" + std::to_string(i);
        const auto attempts = clients.count("reconnecting " + id);
        INFO(id << " made " << attempts << " attempts in 1.5 s");
        CHECK(attempts >= 2);
        CHECK(attempts <= 30);
    }

    server = std::make_unique<child_process>(server_args("127.0.0.1", port));
    REQUIRE(started_port(*server) == port);
    for (int i = 0; i < clients_n; ++i) {
        const std::string id = "c" + std::to_string(i);
        REQUIRE(clients.wait_for("connected " + id, 10s, 1));
        REQUIRE(server->wait_for("online " + id, 10s));
    }
}

namespace {

/// Two network namespaces joined by a veth pair, made by the test and
/// removed at the end. Needs CAP_NET_ADMIN; `available()` says whether it
/// could be made.
class namespace_pair {
public:
    namespace_pair()
        : tag_("hb" + std::to_string(::getpid())), server_ns_(tag_ + "s"), client_ns_(tag_ + "c")
    {
        ok_ = sh("ip netns add " + server_ns_) && sh("ip netns add " + client_ns_) &&
              sh("ip link add " + tag_ + "a netns " + server_ns_ + " type veth peer name " + tag_ + "b netns " +
                 client_ns_) &&
              sh("ip -n " + server_ns_ + " addr add 10.241.0.1/30 dev " + tag_ + "a") &&
              sh("ip -n " + client_ns_ + " addr add 10.241.0.2/30 dev " + tag_ + "b") &&
              sh("ip -n " + server_ns_ + " link set " + tag_ + "a up") &&
              sh("ip -n " + client_ns_ + " link set " + tag_ + "b up") &&
              sh("ip -n " + server_ns_ + " link set lo up") && sh("ip -n " + client_ns_ + " link set lo up");
    }
    ~namespace_pair()
    {
        sh("ip netns del " + server_ns_);
        sh("ip netns del " + client_ns_);
    }

    bool available() const { return ok_; }
    std::vector<std::string> in_server(std::vector<std::string> argv) const { return in(server_ns_, argv); }
    std::vector<std::string> in_client(std::vector<std::string> argv) const { return in(client_ns_, argv); }
    std::string server_address() const { return "10.241.0.1"; }
    /// Takes the client's end of the link down: packets in either direction
    /// vanish without a FIN or a RST.
    bool cut() const { return sh("ip -n " + client_ns_ + " link set " + tag_ + "b down"); }

private:
    static std::vector<std::string> in(const std::string& ns, std::vector<std::string> argv)
    {
        argv.insert(argv.begin(), {"ip", "netns", "exec", ns});
        return argv;
    }

    std::string tag_, server_ns_, client_ns_;
    bool ok_ = false;
};

} // namespace

TEST_CASE("a network blackhole between two namespaces is detected by both sides", "[faults][netns]")
{
    namespace_pair net;
    if (!net.available()) {
        WARN("SKIPPED: cannot create network namespaces here (needs root / CAP_NET_ADMIN)");
        return;
    }
    child_process server(net.in_server(server_args(net.server_address())));
    const auto port = started_port(server);
    child_process client(net.in_client(client_args(port, "far", 1, net.server_address())));
    REQUIRE(server.wait_for("online far", 10s));
    REQUIRE(client.wait_for("connected far", 10s));

    std::this_thread::sleep_for(60ms);
    const long long cut_at = now_ns();
    REQUIRE(net.cut());

    const auto offline = server.wait_for("offline far", 10s);
    REQUIRE(offline);
    CHECK(fields(*offline).at(2) == "timeout");
    const auto lost = client.wait_for("lost far", 10s);
    REQUIRE(lost);
    CHECK(lost->find("peer stopped answering beats") != std::string::npos);
    const long long server_ms = ms(stamp(*offline, 3) - cut_at);
    const long long client_ms = ms(stamp(*lost, 2) - cut_at);
    INFO("server noticed after " << server_ms << " ms, client after " << client_ms << " ms; " << *lost);
    const long long bound = static_cast<long long>(misses * interval.count()) + 700;
    CHECK(server_ms <= bound);
    CHECK(client_ms <= bound);
    CHECK(server_ms >= static_cast<long long>((misses - 1) * interval.count()));
}
