// heartbeat::websocket over real loopback sockets: both modes, the upgrade's
// refusals and the hostile inputs of docs/ROBUSTNESS.md ("WebSocket"), each
// with a bystander that must stay online. The clients are Beast's own, on
// the same io_context as the watcher; every wait is bounded.
#include <heartbeat/websocket.hpp>

#include "../support/run_until.hpp"
#include "../support/tcp_forwarder.hpp"
#include "ws_client.hpp"

#include <catch2/catch.hpp>


#include <atomic>
#include <future>
#include <map>
#include <optional>
#include <thread>
#include <memory>
#include <string>
#include <vector>

namespace net = heartbeat::net;
namespace ws = heartbeat::websocket;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using heartbeat::offline_reason;
using heartbeat_test::run_until;

namespace {

constexpr auto interval = 50ms;
constexpr unsigned misses = 3;

ws::watcher<>::options fast_options()
{
    ws::watcher<>::options o;
    o.detection.interval = interval;
    o.detection.misses = misses;
    o.detection.min_interval = 10ms;
    o.hello_timeout = 500ms;
    // probe_interval left at zero: for a WebSocket watcher that is the interval.
    return o;
}

/// The watcher with what it reported.
struct server {
    explicit server(net::io_context& io, ws::options wo = {}, ws::watcher<>::options o = fast_options())
        : watcher(io, o), acceptor(io, {net::ip::make_address("127.0.0.1"), 0})
    {
        watcher.on_online([this](const std::string& id) { online[id]++; });
        watcher.on_offline([this](const std::string& id, offline_reason r) { offline[id] = r; });
        watcher.on_message([this](const std::string& id, std::string_view m) { messages[id].emplace_back(m); });
        watcher.on_refused([this](const ws::watcher<>::refusal& r) { refusals.push_back(r.error); });
        watcher.on_event([this](const ws::watcher<>::event_type& e) {
            if (e.reason == offline_reason::timeout)
                silence[e.key] = std::chrono::duration_cast<std::chrono::microseconds>(e.at - e.last_seen);
        });
        watcher.set_authenticator([](const ws::watcher<>::hello_info& h) -> heartbeat::error_code {
            if (h.credential == "good")
                return {};
            return heartbeat::error::auth_failed;
        });
        watcher.accept_from(acceptor, ws::endpoint(std::move(wo)));
    }
    ~server()
    {
        watcher.stop();
        heartbeat::error_code ignored;
        acceptor.close(ignored);
    }
    unsigned short port() const { return acceptor.local_endpoint().port(); }

    ws::watcher<> watcher;
    tcp::acceptor acceptor;
    std::map<std::string, int> online;
    std::map<std::string, offline_reason> offline;
    std::map<std::string, std::vector<std::string>> messages;
    std::map<std::string, std::chrono::microseconds> silence;
    std::vector<heartbeat::error_code> refusals;
};

using client = heartbeat_test::ws_client<>;

std::shared_ptr<client> connect(net::io_context& io, unsigned short port, std::string target,
                                std::string subprotocol = {}, std::string origin = {})
{
    auto c = std::make_shared<client>(io);
    c->open(port, std::move(target), std::move(subprotocol), std::move(origin));
    return c;
}

/// Bytes of a framed-mode client: HELLO, BEAT, GOODBYE.
std::string hello_frame(std::string_view id, std::string_view credential)
{
    std::vector<std::uint8_t> out;
    heartbeat::wire::hello h;
    h.id = id;
    h.credential = credential;
    h.interval_ms = static_cast<std::uint32_t>(interval.count());
    heartbeat::wire::append_hello(out, h);
    return {out.begin(), out.end()};
}

template <class Frame>
std::string bytes(const Frame& f)
{
    return {f.begin(), f.end()};
}

/// A plain TCP connection that writes `request` and reads the answer.
struct raw_http {
    raw_http(net::io_context& io, unsigned short port, std::string request) : socket(io), text(std::move(request))
    {
        socket.connect({net::ip::make_address("127.0.0.1"), port});
        net::write(socket, net::buffer(text));
        net::async_read(socket, net::dynamic_buffer(answer), [this](heartbeat::error_code, std::size_t) { done = true; });
    }
    tcp::socket socket;
    std::string text;
    std::string answer;
    bool done = false;
};

} // namespace

TEST_CASE("ping mode: online from the upgrade, alive on pongs, messages both ways, leave", "[websocket]")
{
    net::io_context io;
    server s(io);
    auto alice = connect(io, s.port(), "/chat?id=alice&token=good");
    REQUIRE(run_until(io, [&] { return s.online["alice"] == 1; }));
    CHECK(alice->upgrade[http::field::sec_websocket_protocol].empty());

    // Pings at the interval keep it online well past N x I, and give RTT.
    REQUIRE(run_until(io, [&] { return alice->pings >= 8; }));
    CHECK(s.offline.count("alice") == 0);
    REQUIRE(run_until(io, [&] { return s.watcher.rtt("alice").has_value(); }));
    CHECK(*s.watcher.rtt("alice") < 1s);

    alice->send("hello from the page");
    REQUIRE(run_until(io, [&] { return !s.messages["alice"].empty(); }));
    CHECK(s.messages["alice"].front() == "hello from the page");

    REQUIRE(s.watcher.send("alice", "pushed"));
    REQUIRE(run_until(io, [&] { return !alice->messages.empty(); }));
    CHECK(alice->messages.front() == "pushed");
    CHECK(alice->ws.got_text());

    // Bytes that are not UTF-8 go as a binary message (a browser would
    // fail the connection on such a text message).
    REQUIRE(s.watcher.send("alice", std::string("\xFF\x00\x01", 3)));
    REQUIRE(run_until(io, [&] { return alice->messages.size() == 2; }));
    CHECK(alice->messages.back() == std::string("\xFF\x00\x01", 3));
    CHECK(alice->ws.got_binary());

    alice->leave();
    REQUIRE(run_until(io, [&] { return s.offline.count("alice") == 1; }));
    CHECK(s.offline["alice"] == offline_reason::left);
}

TEST_CASE("ping mode: a peer cut off by a blackhole goes offline at last pong + N x I", "[websocket]")
{
    net::io_context io;
    server s(io);
    heartbeat_test::tcp_forwarder path(s.port());
    auto frozen = connect(io, path.port(), "/?id=frozen&token=good");
    auto bystander = connect(io, s.port(), "/?id=bystander&token=good");
    REQUIRE(run_until(io, [&] { return s.online["frozen"] == 1 && s.online["bystander"] == 1; }));
    REQUIRE(run_until(io, [&] { return frozen->pings >= 3; }));
    path.blackhole();
    REQUIRE(run_until(io, [&] { return s.offline.count("frozen") == 1; }));
    CHECK(s.offline["frozen"] == offline_reason::timeout);
    const auto lag = s.silence["frozen"] - std::chrono::microseconds(misses * interval);
    CHECK(lag >= 0us);
    CHECK(lag < 50ms);
    CHECK(s.offline.count("bystander") == 0);
}

TEST_CASE("ping mode: the authenticator sees the query's token; a refusal is a close code", "[websocket]")
{
    net::io_context io;
    server s(io);
    auto mallory = connect(io, s.port(), "/?id=mallory&token=bad");
    REQUIRE(run_until(io, [&] { return mallory->ended; }));
    CHECK(mallory->close_code == ws::close_code_for_error(3)); // auth_failed
    REQUIRE(run_until(io, [&] { return !s.refusals.empty(); }));
    CHECK(s.refusals.front() == heartbeat::error::auth_failed);
    CHECK(s.online.count("mallory") == 0);
}

TEST_CASE("ping mode: a token carried as a subprotocol, which the answer selects", "[websocket]")
{
    net::io_context io;
    ws::options wo;
    wo.identify = [](const ws::request& req) -> std::optional<ws::identity> {
        // Offered as "id.<id>, token.<token>".
        const auto offered = std::string(req[http::field::sec_websocket_protocol]);
        const auto id = offered.find("id."), token = offered.find("token.");
        if (id == std::string::npos || token == std::string::npos)
            return std::nullopt;
        ws::identity who;
        who.id = offered.substr(id + 3, offered.find(',', id) - id - 3);
        who.credential = offered.substr(token + 6);
        who.subprotocol = "token." + who.credential;
        return who;
    };
    server s(io, wo);
    auto carol = connect(io, s.port(), "/", "id.carol, token.good");
    REQUIRE(run_until(io, [&] { return s.online["carol"] == 1 && carol->is_open; }));
    CHECK(carol->upgrade[http::field::sec_websocket_protocol] == "token.good");
    REQUIRE(run_until(io, [&] { return carol->pings >= 2; }));
}

TEST_CASE("ping mode: kick and broadcast", "[websocket]")
{
    net::io_context io;
    server s(io);
    auto a = connect(io, s.port(), "/?id=a&token=good");
    auto b = connect(io, s.port(), "/?id=b&token=good");
    REQUIRE(run_until(io, [&] { return s.online["a"] == 1 && s.online["b"] == 1; }));
    CHECK(s.watcher.broadcast("to all") == 2);
    REQUIRE(run_until(io, [&] { return !a->messages.empty() && !b->messages.empty(); }));
    REQUIRE(s.watcher.send("b", "only b"));
    REQUIRE(run_until(io, [&] { return b->messages.size() == 2; }));
    CHECK(a->messages.size() == 1);
    s.watcher.kick("a");
    REQUIRE(run_until(io, [&] { return a->ended && s.offline.count("a") == 1; }));
    CHECK(s.offline["a"] == offline_reason::kicked);
    CHECK(a->close_code == ws::close_code_for_goodbye(3));
    CHECK(s.offline.count("b") == 0);
}

TEST_CASE("framed mode: the protocol inside binary messages", "[websocket]")
{
    net::io_context io;
    server s(io);
    auto bob = connect(io, s.port(), "/", "heartbeat");
    REQUIRE(run_until(io, [&] { return bob->is_open; }));
    CHECK(bob->upgrade[http::field::sec_websocket_protocol] == "heartbeat");
    bob->send(hello_frame("bob", "good"), true);
    REQUIRE(run_until(io, [&] { return s.online["bob"] == 1; }));
    REQUIRE(run_until(io, [&] { return !bob->messages.empty(); }));
    CHECK(static_cast<std::uint8_t>(bob->messages.front()[0]) == 0x02); // WELCOME
    bob->send(bytes(heartbeat::wire::encode_beat(1)), true);
    REQUIRE(run_until(io, [&] {
        for (const auto& m : bob->messages)
            if (m.find(bytes(heartbeat::wire::encode_echo(1))) != std::string::npos)
                return true;
        return false;
    }));
    // The browser's pings do not keep a framed page alive: no WebSocket pings
    // go to it at all.
    CHECK(bob->pings == 0);
    bob->send(bytes(heartbeat::wire::encode_goodbye(heartbeat::wire::goodbye_reason::normal)), true);
    REQUIRE(run_until(io, [&] { return s.offline.count("bob") == 1; }));
    CHECK(s.offline["bob"] == offline_reason::left);
}

TEST_CASE("framed mode: a page whose script stops answering goes offline(timeout)", "[websocket]")
{
    net::io_context io;
    server s(io);
    auto bob = connect(io, s.port(), "/", "heartbeat");
    REQUIRE(run_until(io, [&] { return bob->is_open; }));
    bob->send(hello_frame("bob", "good"), true);
    REQUIRE(run_until(io, [&] { return s.online["bob"] == 1; }));
    REQUIRE(run_until(io, [&] { return s.offline.count("bob") == 1; }));
    CHECK(s.offline["bob"] == offline_reason::timeout);
    const auto lag = s.silence["bob"] - std::chrono::microseconds(misses * interval);
    CHECK(lag >= 0us);
    CHECK(lag < 50ms);
}

// ---- hostile input: each refused or cut off, a bystander stays online ----

namespace {

/// A ping-mode bystander that must stay online through `attack`.
template <class Attack>
void with_bystander(net::io_context& io, server& s, Attack attack, std::string origin = {})
{
    auto bystander = connect(io, s.port(), "/?id=bystander&token=good", {}, std::move(origin));
    REQUIRE(run_until(io, [&] { return s.online["bystander"] == 1; }));
    attack();
    // Well past N x I with the attack done or still running.
    const auto until = std::chrono::steady_clock::now() + misses * interval * 3;
    run_until(io, [&] { return std::chrono::steady_clock::now() >= until; });
    CHECK(s.offline.count("bystander") == 0);
    CHECK(s.watcher.is_online("bystander"));
}

} // namespace

TEST_CASE("hostile: a request that is not an upgrade gets 426", "[websocket][hostile]")
{
    net::io_context io;
    server s(io);
    with_bystander(io, s, [&] {
        raw_http r(io, s.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        REQUIRE(run_until(io, [&] { return r.done; }));
        CHECK(r.answer.rfind("HTTP/1.1 426", 0) == 0);
        REQUIRE(run_until(io, [&] { return !s.refusals.empty(); }));
        CHECK(s.refusals.back() == ws::error::not_an_upgrade);
    });
}

TEST_CASE("hostile: an Origin not on the allow-list gets 403", "[websocket][hostile]")
{
    net::io_context io;
    ws::options wo;
    wo.allowed_origins = {"https://app.example"};
    server s(io, wo);
    with_bystander(io, s, [&] {
        auto evil = connect(io, s.port(), "/?id=evil&token=good", {}, "https://evil.example");
        auto good = connect(io, s.port(), "/?id=good&token=good", {}, "https://app.example");
        REQUIRE(run_until(io, [&] { return evil->ended && s.online["good"] == 1; }));
        CHECK_FALSE(evil->is_open);
        CHECK(evil->upgrade.result() == http::status::forbidden);
        CHECK(s.online.count("evil") == 0);
        REQUIRE(run_until(io, [&] { return !s.refusals.empty(); }));
        CHECK(s.refusals.back() == ws::error::origin_not_allowed);
    });
}

TEST_CASE("hostile: a ping-mode upgrade without an id gets 401", "[websocket][hostile]")
{
    net::io_context io;
    server s(io);
    with_bystander(io, s, [&] {
        auto anonymous = connect(io, s.port(), "/?token=good");
        REQUIRE(run_until(io, [&] { return anonymous->ended; }));
        CHECK(anonymous->upgrade.result() == http::status::unauthorized);
        REQUIRE(run_until(io, [&] { return !s.refusals.empty(); }));
        CHECK(s.refusals.back() == ws::error::no_identity);
    });
}

TEST_CASE("hostile: an oversized header block gets 431 before it is read further", "[websocket][hostile]")
{
    net::io_context io;
    server s(io);
    with_bystander(io, s, [&] {
        raw_http r(io, s.port(), "GET /?id=x HTTP/1.1\r\nHost: x\r\nX-Junk: " + std::string(16 * 1024, 'a') + "\r\n\r\n");
        REQUIRE(run_until(io, [&] { return r.done; }));
        CHECK(r.answer.rfind("HTTP/1.1 431", 0) == 0);
        REQUIRE(run_until(io, [&] { return !s.refusals.empty(); }));
        CHECK(s.refusals.back() == http::error::header_limit);
    });
}

TEST_CASE("hostile: an upgrade that never completes is cut at the hello timeout", "[websocket][hostile]")
{
    net::io_context io;
    server s(io);
    with_bystander(io, s, [&] {
        const auto start = std::chrono::steady_clock::now();
        raw_http r(io, s.port(), "GET /?id=slow&token=good HTTP/1.1\r\nHost: x\r\n"); // never ends
        REQUIRE(run_until(io, [&] { return r.done; }));
        const auto took = std::chrono::steady_clock::now() - start;
        CHECK(took >= 450ms);
        CHECK(took < 2s);
        REQUIRE(run_until(io, [&] { return !s.refusals.empty(); }));
        CHECK(s.refusals.back() == heartbeat::error::hello_timeout);
    });
}

TEST_CASE("hostile: an oversized message ends that session only", "[websocket][hostile]")
{
    net::io_context io;
    ws::options wo;
    wo.max_message = 4096;
    server s(io, wo);
    with_bystander(io, s, [&] {
        // It reads only once its message is out: Beast 1.74 asserts if a
        // close arrives while a write of the same stream is in flight.
        auto big = connect(io, s.port(), "/?id=big&token=good");
        big->reading = false;
        REQUIRE(run_until(io, [&] { return s.online["big"] == 1 && big->is_open; }));
        big->send(std::string(8192, 'x'), false, [big] { big->start_reading(); });
        REQUIRE(run_until(io, [&] { return big->ended && s.offline.count("big") == 1; }));
        CHECK(big->close_code == static_cast<std::uint16_t>(beast::websocket::close_code::too_big));
        CHECK(s.messages["big"].empty());
    });
}

TEST_CASE("hostile: a text message in framed mode ends that session", "[websocket][hostile]")
{
    net::io_context io;
    server s(io);
    with_bystander(io, s, [&] {
        auto t = connect(io, s.port(), "/", "heartbeat");
        REQUIRE(run_until(io, [&] { return t->is_open; }));
        t->send(hello_frame("texter", "good"), true);
        REQUIRE(run_until(io, [&] { return s.online["texter"] == 1; }));
        t->send("not a frame");
        REQUIRE(run_until(io, [&] { return t->ended && s.offline.count("texter") == 1; }));
        CHECK(t->close_code == static_cast<std::uint16_t>(beast::websocket::close_code::bad_payload));
    });
}

TEST_CASE("hostile: a ping flood costs the flooder, not the bystander", "[websocket][hostile]")
{
    net::io_context io;
    server s(io);
    with_bystander(io, s, [&] {
        // 20,000 masked empty pings written at once on the raw socket (the
        // flooder reads nothing, so it leaves the server's pongs unread).
        auto flooder = connect(io, s.port(), "/?id=flooder&token=good");
        flooder->reading = false;
        REQUIRE(run_until(io, [&] { return s.online["flooder"] == 1 && flooder->is_open; }));
        std::string flood;
        for (int i = 0; i < 20000; ++i)
            flood += std::string("\x89\x80\x01\x02\x03\x04", 6);
        bool written = false;
        net::async_write(beast::get_lowest_layer(flooder->ws), net::buffer(flood),
                         [&](heartbeat::error_code, std::size_t) { written = true; });
        REQUIRE(run_until(io, [&] { return written; }));
    });
}

TEST_CASE("hostile: a client that never reads is dropped when its queue is full", "[websocket][hostile]")
{
    net::io_context io;
    ws::watcher<>::options o = fast_options();
    o.max_send_queue = 256 * 1024;
    server s(io, {}, o);
    with_bystander(io, s, [&] {
        auto deaf = connect(io, s.port(), "/?id=deaf&token=good");
        deaf->reading = false; // from its upgrade on
        REQUIRE(run_until(io, [&] { return s.online["deaf"] == 1; }));
        const std::string chunk(16 * 1024, 'z');
        for (int i = 0; i < 400 && s.offline.count("deaf") == 0; ++i) {
            s.watcher.send("deaf", chunk);
            run_until(io, [] { return false; }, 1ms);
        }
        REQUIRE(run_until(io, [&] { return s.offline.count("deaf") == 1; }));
    });
}

// ---- handed over by the application's own HTTP server --------------------

namespace {

/// The application's own HTTP server: accepts one connection on `acceptor`,
/// reads its request and hands both to `route`.
struct own_server {
    template <class Route>
    own_server(net::io_context& io, tcp::acceptor& acceptor, Route route) : socket(io)
    {
        acceptor.async_accept(socket, [this, route](heartbeat::error_code ec) mutable {
            REQUIRE_FALSE(ec);
            http::async_read(socket, buffer, req, [this, route](heartbeat::error_code e, std::size_t) mutable {
                REQUIRE_FALSE(e);
                route(std::move(socket), req);
            });
        });
    }
    tcp::socket socket;
    beast::flat_buffer buffer;
    ws::request req;
};

} // namespace

TEST_CASE("handover: the application reads the upgrade request, the watcher answers it", "[websocket]")
{
    net::io_context io;
    ws::watcher<> w(io, fast_options());
    int online = 0;
    w.on_online([&](const std::string& id) { online += id == "handed" ? 1 : 100; });
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    const auto ep = ws::endpoint();

    // The application's server: it routes /live to heartbeat.
    own_server app(io, acceptor, [&](tcp::socket&& socket, const ws::request& req) {
        REQUIRE(req.target().starts_with("/live"));
        w.adopt(ws::stream::from_request(std::move(socket), req, ep), heartbeat::transport_handshake::pending);
    });
    auto page = connect(io, acceptor.local_endpoint().port(), "/live?id=handed&token=x");
    REQUIRE(run_until(io, [&] { return online == 1; }));
    REQUIRE(run_until(io, [&] { return page->pings >= 2; }));
    CHECK(w.is_online("handed"));
    w.stop();
}

TEST_CASE("handover: the application accepts the WebSocket itself and hands it over", "[websocket]")
{
    net::io_context io;
    ws::watcher<> w(io, fast_options());
    int online = 0;
    std::vector<std::string> messages;
    w.on_online([&](const std::string& id) { online += id == "accepted" ? 1 : 100; });
    w.on_message([&](const std::string&, std::string_view m) { messages.emplace_back(m); });
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    const auto ep = ws::endpoint();

    std::optional<beast::websocket::stream<tcp::socket>> accepted;
    own_server app(io, acceptor, [&](tcp::socket&& socket, const ws::request& req) {
        accepted.emplace(std::move(socket));
        accepted->async_accept(req, [&](heartbeat::error_code e) {
            REQUIRE_FALSE(e);
            w.adopt(ws::stream::from_websocket(std::move(*accepted), app.req, ep));
        });
    });
    auto page = connect(io, acceptor.local_endpoint().port(), "/?id=accepted&token=x");
    REQUIRE(run_until(io, [&] { return online == 1 && page->is_open; }));
    page->send("after a handover");
    REQUIRE(run_until(io, [&] { return !messages.empty(); }));
    CHECK(messages.front() == "after a handover");
    REQUIRE(run_until(io, [&] { return page->pings >= 2; }));
    CHECK(w.is_online("accepted"));
    w.stop();
}

TEST_CASE("ping mode: a page's ws.close() without a code is its leave", "[websocket]")
{
    net::io_context io;
    server s(io);
    auto page = connect(io, s.port(), "/?id=plain&token=good");
    REQUIRE(run_until(io, [&] { return s.online["plain"] == 1 && page->is_open; }));
    page->ws.async_close(beast::websocket::close_reason{}, [](heartbeat::error_code) {});
    REQUIRE(run_until(io, [&] { return s.offline.count("plain") == 1; }));
    CHECK(s.offline["plain"] == offline_reason::left);
}

TEST_CASE("ping mode: a timed-out peer's unanswered probe holds nothing once the watcher stops", "[websocket]")
{
    net::io_context io;
    std::optional<server> s(std::in_place, io);
    heartbeat_test::tcp_forwarder path(s->port());
    auto gone = connect(io, path.port(), "/?id=gone&token=good");
    REQUIRE(run_until(io, [&] { return s->online["gone"] == 1 && gone->is_open; }));
    path.blackhole(); // probes go out, nothing comes back
    REQUIRE(run_until(io, [&] { return s->offline.count("gone") == 1; }));
    s.reset(); // stops the watcher and closes the acceptor
    heartbeat::error_code ignored;
    beast::get_lowest_layer(gone->ws).close(ignored);
    gone.reset();
    // With the probe's handler still held by its session (a cycle), this
    // would run until its bound instead.
    const auto start = std::chrono::steady_clock::now();
    io.restart();
    io.run_for(3s);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("several threads on one io_context: sessions, pings and messages stay on their strand", "[websocket]")
{
    net::io_context io;
    server s(io);
    std::vector<std::shared_ptr<client>> pages;
    for (int i = 0; i < 8; ++i) {
        auto page = std::make_shared<client>(net::any_io_executor(net::make_strand(io)));
        page->open(s.port(), "/?id=p" + std::to_string(i) + "&token=good");
        pages.push_back(page);
    }
    std::vector<std::thread> threads;
    auto guard = net::make_work_guard(io);
    for (int i = 0; i < 3; ++i)
        threads.emplace_back([&] { io.run(); });
    // Everything below touches the watcher from this thread and the pages
    // through the io threads (posted): TSan checks the rest.
    std::atomic<int> sent{0};
    const auto until = std::chrono::steady_clock::now() + 600ms;
    while (std::chrono::steady_clock::now() < until) {
        s.watcher.broadcast("tick " + std::to_string(sent++));
        std::this_thread::sleep_for(5ms);
    }
    for (auto& p : pages)
        net::post(p->ws.get_executor(), [p] { p->leave(); });
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (s.watcher.online_count() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    CHECK(s.watcher.online_count() == 0);
    guard.reset();
    // The watcher cancels its accept on its own strand; the acceptor itself
    // is closed by ~server once no io thread runs (an acceptor is not
    // thread-safe, so closing it from another io thread would race).
    s.watcher.stop();
    io.stop();
    for (auto& t : threads)
        t.join();
}

TEST_CASE("hostile: an upgrade without an Origin when one is required gets 403", "[websocket][hostile]")
{
    net::io_context io;
    ws::options wo;
    wo.allowed_origins = {"https://app.example"};
    wo.allow_missing_origin = false;
    server s(io, wo);
    with_bystander(io, s, [&] {
        auto bare = connect(io, s.port(), "/?id=bare&token=good");
        REQUIRE(run_until(io, [&] { return bare->ended; }));
        CHECK(bare->upgrade.result() == http::status::forbidden);
        REQUIRE(run_until(io, [&] { return !s.refusals.empty(); }));
        CHECK(s.refusals.back() == ws::error::origin_not_allowed);
    }, "https://app.example");
}

TEST_CASE("hostile: a mode switched off is refused, at the upgrade and after a handover", "[websocket][hostile]")
{
    net::io_context io;
    ws::options wo;
    wo.allow_framed = false;
    server s(io, wo);
    with_bystander(io, s, [&] {
        auto framed = connect(io, s.port(), "/", "heartbeat");
        REQUIRE(run_until(io, [&] { return framed->ended; }));
        CHECK(framed->upgrade.result() == http::status::bad_request);
        REQUIRE(run_until(io, [&] { return !s.refusals.empty(); }));
        CHECK(s.refusals.back() == ws::error::mode_not_allowed);
    });

    // Handed over already accepted: the session ends at its first read.
    tcp::acceptor own(io, {net::ip::make_address("127.0.0.1"), 0});
    std::optional<beast::websocket::stream<tcp::socket>> accepted;
    const auto ep = ws::endpoint(wo);
    own_server app(io, own, [&](tcp::socket&& socket, const ws::request& req) {
        accepted.emplace(std::move(socket));
        accepted->async_accept(req, [&](heartbeat::error_code e) {
            REQUIRE_FALSE(e);
            s.watcher.adopt(ws::stream::from_websocket(std::move(*accepted), app.req, ep));
        });
    });
    auto late = connect(io, own.local_endpoint().port(), "/", "heartbeat");
    REQUIRE(run_until(io, [&] { return late->ended; }));
    CHECK(s.online.count("late") == 0);
}
