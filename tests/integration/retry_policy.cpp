// reconnecting_client's retry policy: which errors stop it (and how user
// code hears so), how a policy of one's own overrides that, how a server's
// retry-after paces the next attempt, and that transient errors keep it
// trying. Real loopback sockets on one io thread; each wait is bounded and
// waits for an event, not for time to pass.
#include <heartbeat/heartbeat.hpp>

#include "../support/run_until.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace {
namespace net = heartbeat::net;
namespace wire = heartbeat::wire;
using tcp = net::ip::tcp;
using heartbeat::error;
using heartbeat::retry_decision;
using heartbeat_test::run_until;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using watcher_type = heartbeat::watcher<tcp::socket>;
using client_type = heartbeat::reconnecting_client<>;

// Lets the io_context run for `d` so that anything wrongly scheduled (one
// more attempt, a callback after giving up) would happen while we look.
void run_for(net::io_context& io, steady::duration d)
{
    run_until(io, [] { return false; }, d);
}

// A watcher on 127.0.0.1 that refuses the credential "wrong". Offline only
// after 2 s of grace, so no verdict depends on how busy the machine is.
struct server {
    explicit server(net::io_context& io, const watcher_type::options& o = options())
        : acceptor(io, {net::ip::make_address("127.0.0.1"), 0}), w(io, o)
    {
        w.on_refused([this](const watcher_type::refusal& r) { refusals.push_back(r.error); });
        w.set_authenticator([](const watcher_type::hello_info& h) -> heartbeat::error_code {
            if (h.credential == "wrong")
                return error::auth_failed;
            return {};
        });
        w.on_online([this](const std::string&) { ++online; });
        w.accept_from(acceptor);
    }
    static watcher_type::options options()
    {
        watcher_type::options o;
        o.detection.interval = 50ms;
        o.detection.grace = 2s;
        o.hello_timeout = 1s;
        return o;
    }
    client_type::options client(const std::string& id, const std::string& credential = {}) const
    {
        client_type::options o;
        o.port = std::to_string(acceptor.local_endpoint().port());
        o.session.id = id;
        o.session.credential = credential;
        o.session.interval = 200ms;
        o.backoff_initial = 10ms;
        o.backoff_max = 20ms;
        return o;
    }
    tcp::acceptor acceptor;
    watcher_type w;
    std::vector<heartbeat::error_code> refusals;
    int online = 0;
};

// What one client reported, in order.
struct report {
    std::vector<std::pair<heartbeat::error_code, unsigned>> failed;
    std::vector<std::pair<heartbeat::error_code, unsigned>> gave_up;
    std::vector<std::pair<unsigned, client_type::duration>> reconnecting;
    std::vector<heartbeat::error_code> lost;
    std::vector<steady::time_point> failed_at;
    int connected = 0;
    int callbacks = 0; // of any kind

    void watch(client_type& c)
    {
        c.on_attempt_failed([this](heartbeat::error_code ec, unsigned n) {
            ++callbacks;
            failed.emplace_back(ec, n);
            failed_at.push_back(steady::now());
        });
        c.on_gave_up([this](heartbeat::error_code ec, unsigned n) {
            ++callbacks;
            gave_up.emplace_back(ec, n);
        });
        c.on_reconnecting([this](unsigned n, client_type::duration d) {
            ++callbacks;
            reconnecting.emplace_back(n, d);
        });
        c.on_lost([this](heartbeat::error_code ec) {
            ++callbacks;
            lost.push_back(ec);
        });
        c.on_connected([this] {
            ++callbacks;
            ++connected;
        });
    }
};

// A server that refuses every HELLO with server_full, preceded (while
// `retry_after_ms` holds any) by a RETRY_AFTER frame with the front value;
// it notes when each connection arrived.
struct full_server {
    explicit full_server(net::io_context& io) : acceptor(io, {net::ip::make_address("127.0.0.1"), 0})
    {
        accept();
    }

    struct connection {
        explicit connection(tcp::socket s) : socket(std::move(s)) {}
        tcp::socket socket;
        std::array<std::uint8_t, 512> buf{};
        std::vector<std::uint8_t> reply;
    };

    void accept()
    {
        acceptor.async_accept([this](heartbeat::error_code ec, tcp::socket s) {
            if (ec)
                return;
            arrivals.push_back(steady::now());
            auto c = std::make_shared<connection>(std::move(s));
            if (!retry_after_ms.empty()) {
                c->reply = retry_after_frame(retry_after_ms.front());
                retry_after_ms.erase(retry_after_ms.begin());
            }
            wire::append_error(c->reply, wire::error_code_value::server_full, "full");
            // Whatever the client sends first (its HELLO) gets the refusal.
            c->socket.async_read_some(net::buffer(c->buf), [c](heartbeat::error_code rec, std::size_t) {
                if (rec)
                    return;
                net::async_write(c->socket, net::buffer(c->reply), [c](heartbeat::error_code wec, std::size_t) {
                    if (wec)
                        return;
                    heartbeat::error_code ignored;
                    c->socket.shutdown(tcp::socket::shutdown_send, ignored);
                    drain(c);
                });
            });
            accept();
        });
    }

    // Reads on until the client closes, as a refusing server does.
    static void drain(const std::shared_ptr<connection>& c)
    {
        c->socket.async_read_some(net::buffer(c->buf), [c](heartbeat::error_code ec, std::size_t) {
            if (!ec)
                drain(c);
        });
    }

    static std::vector<std::uint8_t> retry_after_frame(std::uint32_t ms)
    {
        std::vector<std::uint8_t> f(wire::header_size + wire::retry_after_payload_size);
        wire::encode_retry_after(f.data(), ms);
        return f;
    }

    client_type::options client() const
    {
        client_type::options o;
        o.port = std::to_string(acceptor.local_endpoint().port());
        o.session.id = "latecomer";
        o.session.interval = 200ms;
        o.backoff_initial = 1ms;
        o.backoff_max = 5ms;
        return o;
    }

    tcp::acceptor acceptor;
    std::vector<std::uint32_t> retry_after_ms;
    std::vector<steady::time_point> arrivals;
};

// A port on which nothing listens.
std::string closed_port(net::io_context& io)
{
    tcp::acceptor a(io, {net::ip::make_address("127.0.0.1"), 0});
    return std::to_string(a.local_endpoint().port());
}
} // namespace

TEST_CASE("retry policy: a client refused for a bad token gives up with auth_failed", "[retry]")
{
    net::io_context io;
    server srv(io);
    report r;
    {
        client_type c(io, srv.client("locked-out", "wrong"));
        r.watch(c);
        c.start();
        REQUIRE(run_until(io, [&] { return !r.gave_up.empty(); }));
        CHECK_FALSE(c.is_connected());
        // Ten backoffs' worth: a client still retrying would be refused again.
        run_for(io, 300ms);
        c.stop(); // harmless once given up
        c.start(); // and so is this: a client that gave up stays stopped
        run_for(io, 100ms);
    } // destroyed after giving up
    run_for(io, 100ms);
    REQUIRE(r.failed.size() == 1);
    CHECK(r.failed[0].first == error::auth_failed);
    CHECK(r.failed[0].second == 1);
    REQUIRE(r.gave_up.size() == 1);
    CHECK(r.gave_up[0].first == error::auth_failed);
    CHECK(r.gave_up[0].second == 1);
    CHECK(r.reconnecting.empty());
    CHECK(r.connected == 0);
    CHECK(r.callbacks == 2); // on_attempt_failed, then on_gave_up, nothing after
    CHECK(srv.refusals == std::vector<heartbeat::error_code>{error::auth_failed});
    srv.w.stop();
    run_for(io, 20ms);
}

TEST_CASE("retry policy: a policy of one's own overrides the default", "[retry]")
{
    net::io_context io;
    server srv(io);
    report r;
    auto o = srv.client("locked-out", "wrong");

    SECTION("retrying after auth_failed until the third attempt")
    {
        o.retry_policy = [](heartbeat::error_code ec, unsigned attempt) {
            if (ec == error::auth_failed && attempt < 3)
                return retry_decision::retry;
            return heartbeat::default_retry_policy(ec, attempt);
        };
        client_type c(io, o);
        r.watch(c);
        c.start();
        REQUIRE(run_until(io, [&] { return !r.gave_up.empty(); }));
        run_for(io, 300ms);
        REQUIRE(r.failed.size() == 3);
        for (unsigned i = 0; i < 3; ++i) {
            CHECK(r.failed[i].first == error::auth_failed);
            CHECK(r.failed[i].second == i + 1);
        }
        REQUIRE(r.reconnecting.size() == 2);
        CHECK(r.reconnecting[0].first == 1);
        CHECK(r.reconnecting[1].first == 2);
        REQUIRE(r.gave_up.size() == 1);
        CHECK(r.gave_up[0] == std::make_pair(heartbeat::error_code(error::auth_failed), 3u));
        CHECK(srv.refusals.size() == 3);
    }
    SECTION("an empty policy retries after every error")
    {
        o.retry_policy = nullptr;
        client_type c(io, o);
        r.watch(c);
        c.start();
        REQUIRE(run_until(io, [&] { return r.failed.size() >= 5; }));
        c.stop();
        for (unsigned i = 0; i < 5; ++i)
            CHECK(r.failed[i] == std::make_pair(heartbeat::error_code(error::auth_failed), i + 1));
        CHECK(r.gave_up.empty());
    }
    SECTION("stopping when a welcomed session is lost")
    {
        o = srv.client("welcome");
        o.retry_policy = [](heartbeat::error_code ec, unsigned attempt) {
            if (ec == error::shutting_down)
                return retry_decision::stop;
            return heartbeat::default_retry_policy(ec, attempt);
        };
        client_type c(io, o);
        r.watch(c);
        c.start();
        REQUIRE(run_until(io, [&] { return r.connected == 1; }));
        srv.w.stop(); // GOODBYE(shutting_down) to every session
        REQUIRE(run_until(io, [&] { return !r.gave_up.empty(); }));
        run_for(io, 100ms);
        CHECK(r.lost == std::vector<heartbeat::error_code>{error::shutting_down});
        REQUIRE(r.gave_up.size() == 1);
        CHECK(r.gave_up[0] == std::make_pair(heartbeat::error_code(error::shutting_down), 0u));
        CHECK(r.failed.empty());
        CHECK(r.reconnecting.empty());
        CHECK_FALSE(c.is_connected());
        CHECK(c.sessions() == 1);
    }
    srv.w.stop();
    run_for(io, 20ms);
}

TEST_CASE("retry policy: server_full with a retry-after delays the next attempt by at least that", "[retry]")
{
    net::io_context io;
    full_server srv(io);
    report r;

    SECTION("the server's wish when it is longer than the backoff")
    {
        // Only the first refusal says when to come back; the second
        // retry is the backoff's again (a few ms at most).
        srv.retry_after_ms = {300};
        client_type c(io, srv.client());
        r.watch(c);
        c.start();
        REQUIRE(run_until(io, [&] { return srv.arrivals.size() >= 3; }));
        c.stop();
        REQUIRE(r.failed.size() >= 2);
        CHECK(r.failed[0].first == error::server_full);
        CHECK(r.failed[1].first == error::server_full);
        REQUIRE(r.reconnecting.size() >= 2);
        // Spread by up to half again (options::retry_after_spread).
        CHECK(r.reconnecting[0].first == 1);
        CHECK(r.reconnecting[0].second >= 300ms);
        CHECK(r.reconnecting[0].second <= 450ms);
        CHECK(r.reconnecting[1].first == 2);
        CHECK(r.reconnecting[1].second <= 5ms);
        // Timers never fire early: the second attempt arrived at least
        // 300 ms after the client heard the first refusal.
        CHECK(srv.arrivals[1] - r.failed_at[0] >= 300ms);
        CHECK(r.gave_up.empty());
    }
    SECTION("capped at retry_after_max")
    {
        srv.retry_after_ms = {60'000};
        auto o = srv.client();
        o.retry_after_max = 50ms;
        client_type c(io, o);
        r.watch(c);
        c.start();
        REQUIRE(run_until(io, [&] { return srv.arrivals.size() >= 2; }));
        c.stop();
        REQUIRE(!r.reconnecting.empty());
        CHECK(r.reconnecting[0].first == 1);
        CHECK(r.reconnecting[0].second >= 50ms);
        CHECK(r.reconnecting[0].second <= 75ms);
        CHECK(srv.arrivals[1] - r.failed_at[0] >= 50ms);
    }
    run_for(io, 20ms);
}

TEST_CASE("retry policy: a full watcher's retry-after paces a waiting client until the slot frees", "[retry]")
{
    net::io_context io;
    auto wo = server::options();
    wo.max_peers = 1;
    wo.server_full_retry_after = 300ms;
    server srv(io, wo);
    std::vector<steady::time_point> refused_at;
    srv.w.on_refused([&](const watcher_type::refusal& r) {
        srv.refusals.push_back(r.error);
        refused_at.push_back(steady::now());
    });
    client_type holder(io, srv.client("holder"));
    holder.start();
    REQUIRE(run_until(io, [&] { return srv.online == 1; }));

    auto o = srv.client("latecomer");
    o.backoff_initial = 1ms;
    o.backoff_max = 5ms;
    report r;
    client_type c(io, o);
    r.watch(c);
    c.start();
    REQUIRE(run_until(io, [&] { return refused_at.size() >= 3; }));
    holder.stop(); // the slot frees; the next attempt gets in
    REQUIRE(run_until(io, [&] { return r.connected == 1; }));
    REQUIRE(r.failed.size() >= 3);
    REQUIRE(r.reconnecting.size() >= r.failed.size());
    for (std::size_t i = 0; i < r.failed.size(); ++i) {
        CHECK(r.failed[i].first == error::server_full);
        CHECK(r.reconnecting[i].second >= 300ms);
        CHECK(r.reconnecting[i].second <= 450ms);
    }
    // Timers never fire early, and each refusal comes after the attempt's
    // connect: refusals are at least the retry-after apart.
    for (std::size_t i = 1; i < refused_at.size(); ++i)
        CHECK(refused_at[i] - refused_at[i - 1] >= 300ms);
    CHECK(r.gave_up.empty());
    c.stop();
    srv.w.stop();
    run_for(io, 20ms);
}

TEST_CASE("retry policy: transient errors keep the client retrying", "[retry]")
{
    net::io_context io;
    client_type::options o;
    o.port = closed_port(io);
    o.session.id = "patient";
    o.backoff_initial = 1ms;
    o.backoff_max = 5ms;
    report r;
    client_type c(io, o);
    r.watch(c);
    c.start();
    REQUIRE(run_until(io, [&] { return r.failed.size() >= 5; }));
    c.stop();
    for (unsigned i = 0; i < 5; ++i) {
        CHECK(r.failed[i] == std::make_pair(heartbeat::error_code(net::error::connection_refused), i + 1));
        CHECK(heartbeat::default_retry_policy(r.failed[i].first, i + 1) == retry_decision::retry);
    }
    REQUIRE(r.reconnecting.size() >= 4);
    for (unsigned i = 0; i < 4; ++i)
        CHECK(r.reconnecting[i].first == i + 1);
    CHECK(r.gave_up.empty());
    run_for(io, 20ms);
}

TEST_CASE("retry policy: the default stops exactly on the errors no retry can cure", "[retry]")
{
    using heartbeat::default_retry_policy;
    for (auto e : {error::auth_failed, error::bad_id, error::unsupported_version})
        CHECK(default_retry_policy(e, 1) == retry_decision::stop);
    for (auto e : {error::server_full, error::duplicate_id, error::hello_timeout, error::unacceptable_terms,
                   error::rejected, error::peer_lost, error::shutting_down, error::replaced, error::protocol_error,
                   error::handshake_failed})
        CHECK(default_retry_policy(e, 1) == retry_decision::retry);
    CHECK(default_retry_policy(net::error::connection_refused, 7) == retry_decision::retry);
    CHECK(default_retry_policy(net::error::timed_out, 1) == retry_decision::retry);
}
