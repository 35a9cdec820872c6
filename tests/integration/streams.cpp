// The components over streams other than TCP: an in-memory pair with
// failure injection, and Unix-domain sockets.
#include <heartbeat/heartbeat.hpp>

#include "../support/test_stream.hpp"

#include "../support/run_until.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

namespace {
namespace net = heartbeat::net;
using namespace std::chrono_literals;
using heartbeat::offline_reason;
using heartbeat_test::test_stream;

using heartbeat_test::run_until;

struct events {
    std::vector<std::string> log;
    template <class Watcher>
    void attach(Watcher& w)
    {
        w.on_online([this](const std::string& k) { log.push_back("online " + k); });
        w.on_offline([this](const std::string& k, offline_reason r) {
            log.push_back("offline " + k + " " + std::string(heartbeat::to_string(r)));
        });
        w.on_message([this](const std::string& k, std::string_view m) { log.push_back("message " + k + " " + std::string(m)); });
    }
};

template <class Stream>
typename heartbeat::watcher<Stream>::options fast()
{
    typename heartbeat::watcher<Stream>::options o;
    o.detection.interval = 20ms;
    o.detection.min_interval = 10ms;
    return o;
}

template <class Stream>
typename heartbeat::pulse<Stream>::options client_options(const char* id)
{
    typename heartbeat::pulse<Stream>::options o;
    o.id = id;
    o.interval = 20ms;
    return o;
}
} // namespace

TEST_CASE("in-memory stream: handshake, beats, data, then an injected write failure", "[streams]")
{
    net::io_context io;
    auto ends = test_stream::make_pair(io.get_executor());  // (lambdas cannot capture bindings in C++17)
    test_stream& server_end = ends.first;
    test_stream& client_end = ends.second;
    heartbeat::watcher<test_stream> w(io, fast<test_stream>());
    events ev;
    ev.attach(w);
    w.adopt(std::move(server_end));

    heartbeat::pulse<test_stream> p(std::move(client_end), client_options<test_stream>("mem"));
    std::vector<std::string> client_got;
    p.on_message([&](std::string_view m) { client_got.emplace_back(m); });
    std::optional<heartbeat::error_code> ended;
    p.async_run([&](heartbeat::error_code ec) { ended = ec; });

    REQUIRE(run_until(io, [&] { return p.echoes_received() >= 3; }));
    CHECK(ev.log == std::vector<std::string>{"online mem"});
    std::optional<heartbeat::error_code> sent;
    p.async_send("over memory", [&](heartbeat::error_code ec) { sent = ec; });
    w.send("mem", "back");
    REQUIRE(run_until(io, [&] { return sent && client_got.size() == 1 && ev.log.size() == 2; }));
    CHECK_FALSE(*sent);
    CHECK(ev.log.back() == "message mem over memory");
    CHECK(client_got.front() == "back");

    // The client's next write fails: its session ends with that error and
    // the server sees the connection go.
    p.next_layer().fail_next_write(net::error::connection_reset);
    REQUIRE(run_until(io, [&] { return ended.has_value() && ev.log.size() == 3; }));
    CHECK(*ended == net::error::connection_reset);
    CHECK(ev.log.back() == "offline mem disconnected");
    w.stop();
}

TEST_CASE("in-memory stream: a message over the peer's limit fails locally, the session goes on", "[streams]")
{
    net::io_context io;
    auto ends = test_stream::make_pair(io.get_executor());  // (lambdas cannot capture bindings in C++17)
    test_stream& server_end = ends.first;
    test_stream& client_end = ends.second;
    auto wo = fast<test_stream>();
    wo.peer_max_frame = 1000;
    wo.detection.misses = 100; // 2 s: building a 16 MiB message under a sanitizer takes a while
    heartbeat::watcher<test_stream> w(io, wo);
    events ev;
    ev.attach(w);
    w.adopt(std::move(server_end));
    auto po = client_options<test_stream>("big");
    po.peer_max_frame = 1000;
    heartbeat::pulse<test_stream> p(std::move(client_end), po);
    std::vector<std::string> client_got;
    p.on_message([&](std::string_view m) { client_got.emplace_back(m); });
    p.async_run([](heartbeat::error_code) {});
    REQUIRE(run_until(io, [&] { return p.echoes_received() >= 1; }));

    // Over the limit: refused here, nothing written.
    std::optional<heartbeat::error_code> big;
    p.async_send(std::string(1001, 'x'), [&](heartbeat::error_code ec) { big = ec; });
    CHECK_FALSE(w.send("big", std::string(1001, 'y')));
    CHECK(w.broadcast(std::string(1001, 'z')) == 0);
    // Larger than any header can describe (16 MiB): refused too, where it
    // used to write a truncated length and corrupt the stream.
    std::optional<heartbeat::error_code> huge;
    p.async_send(std::string(std::size_t(1) << 24, 'h'), [&](heartbeat::error_code ec) { huge = ec; });
    REQUIRE(run_until(io, [&] { return big && huge; }));
    CHECK(*big == heartbeat::error::message_too_large);
    CHECK(*huge == heartbeat::error::message_too_large);

    // At the limit: delivered both ways; the session never noticed.
    std::optional<heartbeat::error_code> fits;
    p.async_send(std::string(1000, 'x'), [&](heartbeat::error_code ec) { fits = ec; });
    CHECK(w.send("big", std::string(1000, 'y')));
    const auto echoes = p.echoes_received();
    REQUIRE(run_until(io, [&] { return fits && client_got.size() == 1 && p.echoes_received() >= echoes + 2; }));
    CHECK_FALSE(*fits);
    CHECK(client_got.front() == std::string(1000, 'y'));
    CHECK(ev.log == std::vector<std::string>{"online big", "message big " + std::string(1000, 'x')});
    // Wind down inside the test: the in-memory streams hold their pending
    // handlers, which hold the sessions.
    p.stop();
    w.stop();
    CHECK(run_until(io, [&] { return w.session_count() == 0; }));
}

TEST_CASE("in-memory stream: a failed read on the server is a disconnect", "[streams]")
{
    net::io_context io;
    auto ends = test_stream::make_pair(io.get_executor());  // (lambdas cannot capture bindings in C++17)
    test_stream& server_end = ends.first;
    test_stream& client_end = ends.second;
    // Arm the failure on the server's end before the watcher owns it: its
    // first read fails.
    server_end.fail_next_read(net::error::connection_aborted);
    heartbeat::watcher<test_stream> w(io, fast<test_stream>());
    events ev;
    ev.attach(w);
    w.adopt(std::move(server_end));
    heartbeat::pulse<test_stream> p(std::move(client_end), client_options<test_stream>("mem"));
    std::optional<heartbeat::error_code> ended;
    p.async_run([&](heartbeat::error_code ec) { ended = ec; });
    REQUIRE(run_until(io, [&] { return ended.has_value(); }));
    CHECK(*ended == net::error::eof);  // closed before any WELCOME
    CHECK(ev.log.empty());            // never got in, so never reported
    CHECK(w.session_count() == 0);
}

TEST_CASE("in-memory stream: a server that goes quiet is lost", "[streams]")
{
    net::io_context io;
    auto ends = test_stream::make_pair(io.get_executor());  // (lambdas cannot capture bindings in C++17)
    test_stream& server_end = ends.first;
    test_stream& client_end = ends.second;
    heartbeat::pulse<test_stream> p(std::move(client_end), client_options<test_stream>("mem"));
    std::optional<heartbeat::error_code> ended;
    p.async_run([&](heartbeat::error_code ec) { ended = ec; });
    // Play a server that welcomes, then never answers.
    std::vector<std::uint8_t> welcome;
    heartbeat::wire::append_welcome(welcome, {heartbeat::wire::protocol_version, 2, 20});
    net::async_write(server_end, net::buffer(welcome), [](heartbeat::error_code, std::size_t) {});
    std::array<std::uint8_t, 256> sink{};
    std::function<void()> drain = [&] {
        server_end.async_read_some(net::buffer(sink), [&](heartbeat::error_code ec, std::size_t) {
            if (!ec)
                drain();
        });
    };
    drain();
    REQUIRE(run_until(io, [&] { return ended.has_value(); }));
    CHECK(*ended == heartbeat::error::peer_lost);
    CHECK(p.misses() == 2u);  // adopted from WELCOME
    CHECK(p.beats_sent() >= 2u);
}

TEST_CASE("in-memory stream: leave() before WELCOME arrives still says goodbye and ends cleanly", "[streams]")
{
    // On a busy machine the server can mark a peer online, and the
    // application call leave(), before the client has read WELCOME: the
    // WELCOME that then arrives is not a protocol error, and GOODBYE must
    // reach the server before the connection closes (a CI run saw such a
    // leave reported as a disconnect).
    net::io_context io;
    auto ends = test_stream::make_pair(io.get_executor());  // (lambdas cannot capture bindings in C++17)
    test_stream& server_end = ends.first;
    test_stream& client_end = ends.second;
    heartbeat::pulse<test_stream> p(std::move(client_end), client_options<test_stream>("early"));
    std::optional<heartbeat::error_code> ended;
    p.async_run([&](heartbeat::error_code ec) { ended = ec; });

    heartbeat::wire::decoder dec;
    std::vector<heartbeat::wire::frame_type> got;
    std::array<std::uint8_t, 256> buf{};
    std::function<void()> serve = [&] {
        server_end.async_read_some(net::buffer(buf), [&](heartbeat::error_code ec, std::size_t n) {
            if (ec)
                return;
            dec.feed(buf.data(), n, [&](const heartbeat::wire::frame_view& f) { got.push_back(f.type); });
            if (!got.empty() && got.back() == heartbeat::wire::frame_type::goodbye)
                return server_end.close(); // what a watcher does on GOODBYE
            serve();
        });
    };
    serve();
    REQUIRE(run_until(io, [&] { return !got.empty(); }));
    CHECK(got.front() == heartbeat::wire::frame_type::hello);

    p.leave();
    std::vector<std::uint8_t> welcome;
    heartbeat::wire::append_welcome(welcome, {heartbeat::wire::protocol_version, 3, 20});
    net::async_write(server_end, net::buffer(welcome), [](heartbeat::error_code, std::size_t) {});
    REQUIRE(run_until(io, [&] { return ended.has_value(); }));
    CHECK_FALSE(*ended);
    REQUIRE(got.size() >= 2);
    CHECK(got.back() == heartbeat::wire::frame_type::goodbye);
}

TEST_CASE("unix-domain sockets: the same session over local::stream_protocol", "[streams]")
{
    using local = net::local::stream_protocol;
    const std::string path = "/tmp/heartbeat-test-" + std::to_string(::getpid()) + ".sock";
    ::unlink(path.c_str());
    net::io_context io;
    local::acceptor acceptor(io, local::endpoint(path));
    heartbeat::watcher<local::socket> w(io, fast<local::socket>());
    events ev;
    ev.attach(w);
    w.accept_from(acceptor);

    local::socket s(io);
    s.connect(local::endpoint(path));
    heartbeat::pulse<local::socket> p(std::move(s), client_options<local::socket>("unix"));
    std::optional<heartbeat::error_code> ended;
    p.async_run([&](heartbeat::error_code ec) { ended = ec; });
    REQUIRE(run_until(io, [&] { return p.echoes_received() >= 2; }));
    CHECK(ev.log == std::vector<std::string>{"online unix"});
    CHECK_FALSE(w.kernel_rtt("unix").has_value()); // no TCP beneath, no kernel RTT
    p.leave();
    REQUIRE(run_until(io, [&] { return ended.has_value() && ev.log.size() == 2; }));
    CHECK_FALSE(*ended);
    CHECK(ev.log.back() == "offline unix left");
    w.stop();
    acceptor.close();
    ::unlink(path.c_str());
}

TEST_CASE("in-memory stream: a pulse with the phi-accrual policy learns the server and notices it stop",
          "[streams][phi]")
{
    using phi_pulse = heartbeat::pulse<test_stream, std::chrono::steady_clock, heartbeat::phi_accrual<>>;
    net::io_context io;
    auto ends = test_stream::make_pair(io.get_executor());  // (lambdas cannot capture bindings in C++17)
    test_stream& server_end = ends.first;
    test_stream& client_end = ends.second;
    phi_pulse::options o;
    o.id = "adaptive";
    o.interval = 20ms;
    o.detection.min_std_dev = 5ms;
    o.detection.min_interval = 10ms;
    phi_pulse p(std::move(client_end), o);
    std::optional<heartbeat::error_code> ended;
    p.async_run([&](heartbeat::error_code ec) { ended = ec; });

    // A server played by hand: WELCOME, then echo 30 beats, then silence.
    std::vector<std::uint8_t> welcome;
    heartbeat::wire::append_welcome(welcome, {heartbeat::wire::protocol_version, 3, 20});
    net::async_write(server_end, net::buffer(welcome), [](heartbeat::error_code, std::size_t) {});
    heartbeat::wire::decoder dec;
    std::array<std::uint8_t, 256> buf{};
    int echoed = 0;
    std::chrono::steady_clock::time_point last_echo{};
    std::vector<std::shared_ptr<heartbeat::wire::beat_frame>> keep;
    std::function<void()> serve = [&] {
        server_end.async_read_some(net::buffer(buf), [&](heartbeat::error_code ec, std::size_t n) {
            if (ec)
                return;
            dec.feed(buf.data(), n, [&](const heartbeat::wire::frame_view& f) {
                std::uint32_t seq = 0;
                if (f.type != heartbeat::wire::frame_type::beat || echoed >= 30
                    || heartbeat::wire::parse_sequence(f, seq) != heartbeat::wire::decode_status::ok)
                    return;
                ++echoed;
                last_echo = std::chrono::steady_clock::now();
                auto frame = std::make_shared<heartbeat::wire::beat_frame>(heartbeat::wire::encode_echo(seq));
                keep.push_back(frame);
                net::async_write(server_end, net::buffer(*frame), [](heartbeat::error_code, std::size_t) {});
            });
            serve();
        });
    };
    serve();
    REQUIRE(run_until(io, [&] { return ended.has_value(); }));
    CHECK(*ended == heartbeat::error::peer_lost);
    CHECK(echoed == 30);
    // Answers came every ~20 ms; phi = 8 about 5 deviations (floored at
    // 5 ms) past that: lost some 45 ms after the last answer, never sooner
    // than one interval.
    const auto took = std::chrono::steady_clock::now() - last_echo;
    CHECK(took >= 20ms);
    CHECK(took <= 45ms + 300ms);
}
