// Every refusal reaches user code: the watcher's on_refused for each
// refusal row of docs/ROBUSTNESS.md (with the peer's address and the id
// it claimed), and reconnecting_client's on_attempt_failed for an attempt
// the server refused. Over real loopback sockets, on one io thread.
#include <heartbeat/heartbeat.hpp>

#include "../support/run_until.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <memory>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace {
namespace net = heartbeat::net;
namespace wire = heartbeat::wire;
using tcp = net::ip::tcp;
using heartbeat::error;
using heartbeat_test::run_until;
using namespace std::chrono_literals;
using watcher_type = heartbeat::watcher<tcp::socket>;

std::vector<std::uint8_t> frame(wire::frame_type t, const std::vector<std::uint8_t>& payload)
{
    std::vector<std::uint8_t> f(wire::header_size + payload.size());
    wire::encode_header(f.data(), t, payload.size());
    std::copy(payload.begin(), payload.end(), f.begin() + wire::header_size);
    return f;
}

std::vector<std::uint8_t> hello(const std::string& id, std::uint8_t version = wire::protocol_version,
                                const std::string& credential = {})
{
    std::vector<std::uint8_t> f;
    wire::append_hello(f, {version, 50, id, credential});
    return f;
}

// A peer that writes bytes by hand and reads until the server closes.
struct raw_peer {
    raw_peer(net::io_context& io, const tcp::endpoint& server) : socket(io) { socket.connect(server); }
    void send(const std::vector<std::uint8_t>& bytes)
    {
        net::write(socket, net::buffer(bytes));
        read_until_closed();
    }
    // The read's state outlives the peer: its handler may run after the
    // peer is gone (aborted by the socket's close).
    struct reading {
        std::array<std::uint8_t, 256> buf{};
        bool closed = false;
    };
    void read_until_closed()
    {
        read(socket, state);
    }
    static void read(tcp::socket& s, const std::shared_ptr<reading>& r)
    {
        s.async_read_some(net::buffer(r->buf), [&s, r](heartbeat::error_code ec, std::size_t) {
            if (ec)
                r->closed = true;
            else
                read(s, r);
        });
    }
    bool closed() const { return state->closed; }
    std::string address() const { return "127.0.0.1:" + std::to_string(socket.local_endpoint().port()); }
    tcp::socket socket;
    std::shared_ptr<reading> state = std::make_shared<reading>();
};

struct server {
    explicit server(net::io_context& io, watcher_type::options o = options())
        : acceptor(io, {net::ip::make_address("127.0.0.1"), 0}), w(io, o)
    {
        w.on_refused([this](const watcher_type::refusal& r) { refusals.push_back(r); });
        w.on_online([this](const std::string& id) { log.push_back("online " + id); });
        w.on_offline([this](const std::string& id, heartbeat::offline_reason r) {
            log.push_back("offline " + id + " " + std::string(heartbeat::to_string(r)));
        });
        w.set_authenticator([](const watcher_type::hello_info& h) -> heartbeat::error_code {
            if (h.credential == "wrong")
                return error::auth_failed;
            return {};
        });
        w.accept_from(acceptor);
    }
    static watcher_type::options options()
    {
        // Offline only after 3 missed beats plus 2 s of grace, and HELLOs
        // have a second: no verdict here may depend on how busy the
        // machine is (the slowloris row waits that second out).
        watcher_type::options o;
        o.detection.interval = 50ms;
        o.detection.grace = 2s;
        o.hello_timeout = 1s;
        o.max_peers = 2;
        o.on_duplicate = heartbeat::duplicate_policy::reject;
        return o;
    }
    tcp::endpoint endpoint() const { return acceptor.local_endpoint(); }
    tcp::acceptor acceptor;
    watcher_type w;
    std::vector<watcher_type::refusal> refusals;
    std::vector<std::string> log;

    // A client of this server beating every 200 ms.
    heartbeat::reconnecting_client<>::options client(const std::string& id) const
    {
        heartbeat::reconnecting_client<>::options o;
        o.port = std::to_string(endpoint().port());
        o.session.id = id;
        o.session.interval = 200ms;
        return o;
    }
};
} // namespace

TEST_CASE("refusals: on_refused fires for each refusal row of ROBUSTNESS.md", "[refusals]")
{
    net::io_context io;
    server srv(io);
    // Online throughout, beating, and the holder of "taken".
    heartbeat::reconnecting_client<> holder(io, srv.client("taken"));
    holder.start();
    REQUIRE(run_until(io, [&] { return srv.log.size() == 1; }));

    struct row {
        const char* input;
        std::vector<std::uint8_t> bytes;
        heartbeat::error_code expected;
        std::optional<std::string> claimed;
    };
    const std::string http = "GET / HTTP/1.1\r\n\r\n";
    std::vector<std::uint8_t> bad_magic = hello("x");
    bad_magic[wire::header_size] = 'X';
    std::vector<std::uint8_t> overrun = hello("abc");
    overrun[wire::header_size + 8] = 200; // the id length runs past the frame
    const std::vector<row> rows = {
        {"garbage bytes", {http.begin(), http.end()}, error::unknown_frame_type, std::nullopt},
        {"a length past the maximum", {0x01, 0xFF, 0xFF, 0xFF}, error::frame_too_large, std::nullopt},
        {"HELLO with a bad magic", bad_magic, error::bad_magic, std::nullopt},
        {"HELLO with another version", hello("v9", 9), error::unsupported_version, std::nullopt},
        {"HELLO with an empty id", hello(""), error::bad_id, std::nullopt},
        {"HELLO whose fields overrun it", overrun, error::protocol_error, std::nullopt},
        {"DATA before HELLO", frame(wire::frame_type::data, {'h', 'i'}), error::protocol_error, std::nullopt},
        {"ECHO sent to the server", frame(wire::frame_type::echo, {0, 0, 0, 1}), error::protocol_error,
         std::nullopt},
        {"a fixed-size frame with the wrong length", frame(wire::frame_type::beat, {1, 2}), error::protocol_error,
         std::nullopt},
        {"credentials the authenticator refuses", hello("intruder", wire::protocol_version, "wrong"),
         error::auth_failed, "intruder"},
        {"a second connection claiming a live id (reject)", hello("taken"), error::duplicate_id, "taken"},
    };
    for (const auto& r : rows) {
        INFO(r.input);
        srv.refusals.clear();
        raw_peer p(io, srv.endpoint());
        p.send(r.bytes);
        REQUIRE(run_until(io, [&] { return p.closed() && !srv.refusals.empty(); }));
        REQUIRE(srv.refusals.size() == 1);
        CHECK(srv.refusals[0].error == r.expected);
        CHECK(srv.refusals[0].remote_address == p.address());
        CHECK(srv.refusals[0].claimed_id == r.claimed);
    }

    SECTION("a HELLO that never completes (slowloris)")
    {
        srv.refusals.clear();
        raw_peer p(io, srv.endpoint());
        auto partial = hello("slow");
        partial.resize(6);
        p.send(partial);
        REQUIRE(run_until(io, [&] { return p.closed() && !srv.refusals.empty(); }));
        CHECK(srv.refusals[0].error == error::hello_timeout);
        CHECK_FALSE(srv.refusals[0].claimed_id.has_value());
    }
    SECTION("more connections than max_peers")
    {
        raw_peer second(io, srv.endpoint());
        second.send(hello("second"));
        REQUIRE(run_until(io, [&] { return srv.log.size() == 2; }));
        srv.refusals.clear();
        raw_peer third(io, srv.endpoint());
        third.send(hello("third"));
        REQUIRE(run_until(io, [&] { return third.closed() && !srv.refusals.empty(); }));
        CHECK(srv.refusals[0].error == error::server_full);
        CHECK(srv.refusals[0].claimed_id == std::optional<std::string>("third"));
    }
    // Nothing online was disturbed; a refusal is no offline event.
    CHECK(srv.log.front() == "online taken");
    for (const auto& line : srv.log)
        CHECK(line.rfind("offline", 0) != 0);
    CHECK(srv.w.is_online("taken"));
    holder.stop();
    srv.w.stop();
    run_until(io, [] { return false; }, 20ms);
}

TEST_CASE("refusals: a peer that was online and misbehaves is an offline, not a refusal", "[refusals]")
{
    net::io_context io;
    auto o = server::options();
    // Events' wall-clock times come from watcher::options::wall_clock.
    const auto noon = std::chrono::system_clock::time_point(std::chrono::hours(24 * 20'000 + 12));
    o.wall_clock = [noon](watcher_type::time_point) { return noon; };
    server srv(io, o);
    std::vector<std::chrono::system_clock::time_point> walls;
    srv.w.on_event([&](const watcher_type::event_type& e) { walls.push_back(e.wall_time); });
    raw_peer p(io, srv.endpoint());
    p.send(hello("fickle"));
    REQUIRE(run_until(io, [&] { return srv.log.size() == 1; }));
    CHECK(walls == std::vector<std::chrono::system_clock::time_point>{noon});
    CHECK(srv.w.info("fickle")->wall_since == noon);
    p.send(hello("fickle")); // a second HELLO
    REQUIRE(run_until(io, [&] { return p.closed() && srv.log.size() == 2; }));
    CHECK(srv.log.back() == "offline fickle protocol_error");
    CHECK(srv.refusals.empty());
    CHECK(srv.w.refused_count() == 0);
    srv.w.stop();
    run_until(io, [] { return false; }, 20ms);
}

TEST_CASE("refusals: reconnecting_client reports every failed attempt with its error", "[refusals]")
{
    net::io_context io;
    server srv(io);
    auto o = srv.client("locked-out");
    o.session.credential = "wrong";
    o.retry_policy = nullptr; // retry after every refusal (the default stops: retry_policy.cpp)
    o.backoff_initial = 10ms;
    o.backoff_max = 20ms;
    heartbeat::reconnecting_client<> c(io, o);
    std::vector<std::pair<heartbeat::error_code, unsigned>> failures;
    bool connected = false;
    c.on_attempt_failed([&](heartbeat::error_code ec, unsigned n) { failures.emplace_back(ec, n); });
    c.on_connected([&] { connected = true; });
    c.start();
    REQUIRE(run_until(io, [&] { return failures.size() >= 3; }));
    for (unsigned i = 0; i < 3; ++i) {
        CHECK(failures[i].first == error::auth_failed);
        CHECK(failures[i].second == i + 1);
    }
    CHECK_FALSE(connected);
    CHECK(srv.refusals.size() >= 3);
    c.stop();

    SECTION("and a refused connection")
    {
        tcp::acceptor closed_port(io, {net::ip::make_address("127.0.0.1"), 0});
        o.port = std::to_string(closed_port.local_endpoint().port());
        closed_port.close(); // nothing listens there now
        heartbeat::reconnecting_client<> d(io, o);
        std::vector<heartbeat::error_code> why;
        d.on_attempt_failed([&](heartbeat::error_code ec, unsigned) { why.push_back(ec); });
        d.start();
        REQUIRE(run_until(io, [&] { return !why.empty(); }));
        CHECK(why[0] == net::error::connection_refused);
        d.stop();
    }
    srv.w.stop();
    run_until(io, [] { return false; }, 20ms);
}
