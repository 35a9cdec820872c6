// The components over TLS: ssl::stream<ip::tcp::socket>, with throwaway
// certificates this test makes for itself at run time. The hostile rows of
// docs/ROBUSTNESS.md's TLS table each have a case here.
#include <heartbeat/heartbeat.hpp>
#include <heartbeat/tls.hpp>

#include "../support/certificates.hpp"
#include "../support/run_until.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {
namespace net = heartbeat::net;
namespace ssl = net::ssl;
namespace tls = heartbeat::tls;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using tls_stream = tls::stream;
using heartbeat_test::run_until;
using heartbeat_test::certificate_spec;
using heartbeat_test::contexts;
using heartbeat_test::make_self_signed;
using heartbeat_test::pem_pair;

const tcp::endpoint loopback{net::ip::make_address("127.0.0.1"), 0};

// A TLS server on loopback that records what it sees.
struct tls_server {
    tls_server(net::io_context& io, ssl::context& ctx, tls::watcher<>::options o = options())
        : acceptor(io, loopback), w(io, o)
    {
        w.on_online([this](const std::string& id) { log.push_back("online " + id); });
        w.on_offline([this](const std::string& id, heartbeat::offline_reason r) {
            log.push_back("offline " + id + " " + std::string(heartbeat::to_string(r)));
        });
        w.on_message([this](const std::string& id, std::string_view m) { log.push_back(id + ": " + std::string(m)); });
        w.on_refused([this](const tls::watcher<>::refusal& r) { refusals.push_back(r); });
        w.accept_from(acceptor, ctx);
    }
    // Beats every 100 ms, but offline only after 3 missed plus 2 s of
    // grace: no verdict here may depend on how busy the machine is.
    static tls::watcher<>::options options()
    {
        tls::watcher<>::options o;
        o.detection.interval = 100ms;
        o.detection.min_interval = 10ms;
        o.detection.grace = 2s;
        return o;
    }
    std::string port() const { return std::to_string(acceptor.local_endpoint().port()); }

    tcp::acceptor acceptor;
    tls::watcher<> w;
    std::vector<std::string> log;
    std::vector<tls::watcher<>::refusal> refusals;
};

tls::reconnecting_client<>::options client_options(const tls_server& server, const std::string& id)
{
    tls::reconnecting_client<>::options o;
    o.host = "127.0.0.1";
    o.port = server.port();
    o.session.id = id;
    o.session.interval = 100ms;
    o.backoff_initial = 20ms;
    o.backoff_max = 50ms;
    return o;
}

// A raw TCP connection to the TLS port that reads until the server closes.
struct raw_peer {
    raw_peer(net::io_context& io, const tls_server& server) : socket(io)
    {
        socket.connect(server.acceptor.local_endpoint());
    }
    void send(const std::vector<std::uint8_t>& bytes) { net::write(socket, net::buffer(bytes)); }
    void read_until_closed()
    {
        socket.async_read_some(net::buffer(buf), [this](heartbeat::error_code ec, std::size_t n) {
            received += n;
            if (ec)
                closed = ec;
            else
                read_until_closed();
        });
    }
    tcp::socket socket;
    std::array<std::uint8_t, 512> buf{};
    std::size_t received = 0;
    std::optional<heartbeat::error_code> closed;
};

std::vector<std::uint8_t> hello_frame(const std::string& id)
{
    std::vector<std::uint8_t> f;
    heartbeat::wire::append_hello(f, {heartbeat::wire::protocol_version, 20, id, {}});
    return f;
}

bool is_tls_error(const heartbeat::error_code& ec)
{
    return ec.category() == net::error::get_ssl_category();
}
} // namespace

TEST_CASE("tls: an application's own handshake, then adopt()", "[tls]")
{
    const pem_pair pem = make_self_signed();
    contexts ctx(pem);
    ctx.client.set_verify_mode(ssl::verify_peer);

    net::io_context io;
    heartbeat::watcher<tls_stream> w(io, tls_server::options());
    std::vector<std::string> log;
    w.on_online([&](const std::string& id) { log.push_back("online " + id); });
    w.on_offline([&](const std::string& id, heartbeat::offline_reason r) {
        log.push_back("offline " + id + " " + std::string(heartbeat::to_string(r)));
    });
    w.on_message([&](const std::string& id, std::string_view m) { log.push_back(id + ": " + std::string(m)); });

    // The application does the TLS handshake, then hands the stream over.
    tcp::acceptor acceptor(io, loopback);
    auto server_side = std::make_shared<tls_stream>(io, ctx.server);
    acceptor.async_accept(server_side->lowest_layer(), [&](heartbeat::error_code ec) {
        REQUIRE_FALSE(ec);
        server_side->async_handshake(ssl::stream_base::server, [&](heartbeat::error_code hec) {
            REQUIRE_FALSE(hec);
            w.adopt(std::move(*server_side));
        });
    });

    tls_stream client_side(io, ctx.client);
    client_side.lowest_layer().connect(acceptor.local_endpoint());
    std::optional<heartbeat::error_code> handshake;
    client_side.async_handshake(ssl::stream_base::client, [&](heartbeat::error_code ec) { handshake = ec; });
    REQUIRE(run_until(io, [&] { return handshake.has_value(); }));
    REQUIRE_FALSE(*handshake);

    heartbeat::pulse<tls_stream>::options po;
    po.id = "secure";
    po.interval = 100ms;
    heartbeat::pulse<tls_stream> p(std::move(client_side), po);
    std::optional<heartbeat::error_code> ended;
    p.async_run([&](heartbeat::error_code ec) { ended = ec; });
    REQUIRE(run_until(io, [&] { return p.echoes_received() >= 3; }));
    CHECK(log == std::vector<std::string>{"online secure"});
    CHECK(w.kernel_rtt("secure").has_value()); // TCP beneath TLS

    p.async_send("over tls", [](heartbeat::error_code) {});
    REQUIRE(run_until(io, [&] { return log.size() == 2; }));
    CHECK(log.back() == "secure: over tls");
    p.leave();
    REQUIRE(run_until(io, [&] { return ended.has_value() && log.size() == 3; }));
    CHECK_FALSE(*ended);
    CHECK(log.back() == "offline secure left");
    w.stop();
}

TEST_CASE("tls: accept_from with a context, and a verifying reconnecting client", "[tls]")
{
    contexts ctx(make_self_signed());
    net::io_context io;
    tls_server server(io, ctx.server);

    tls::reconnecting_client<> c(io, client_options(server, "secure"), tls::connector(ctx.client));
    std::vector<heartbeat::error_code> failures;
    c.on_attempt_failed([&](heartbeat::error_code ec, unsigned) { failures.push_back(ec); });
    std::vector<std::string> received;
    c.on_connected([&] { c.send("over tls"); });
    c.on_message([&](std::string_view m) { received.emplace_back(m); });
    server.w.on_message([&](const std::string& id, std::string_view m) {
        server.log.push_back(id + ": " + std::string(m));
        server.w.send(id, "back over tls");
    });
    c.start();
    REQUIRE(run_until(io, [&] { return received.size() == 1 && c.smoothed_rtt().has_value(); }));
    CHECK(received[0] == "back over tls");
    CHECK(server.log == std::vector<std::string>{"online secure", "secure: over tls"});
    CHECK(failures.empty());
    CHECK(server.refusals.empty());
    CHECK(server.w.handshakes_in_progress() == 0);
    c.stop();
    REQUIRE(run_until(io, [&] { return server.log.size() == 3; }));
    CHECK(server.log.back() == "offline secure left");
    server.w.stop();
}

TEST_CASE("tls: a session ends with close_notify, not a bare TCP close", "[tls]")
{
    contexts ctx(make_self_signed());
    ctx.client.set_verify_mode(ssl::verify_peer);
    net::io_context io;
    tls_server server(io, ctx.server);

    // A client by hand, so that the end of the stream can be read exactly.
    tls_stream client(io, ctx.client);
    client.lowest_layer().connect(server.acceptor.local_endpoint());
    std::optional<heartbeat::error_code> handshake;
    client.async_handshake(ssl::stream_base::client, [&](heartbeat::error_code ec) { handshake = ec; });
    REQUIRE(run_until(io, [&] { return handshake.has_value(); }));
    REQUIRE_FALSE(*handshake);
    const auto hello = hello_frame("by-hand");
    net::async_write(client, net::buffer(hello), [](heartbeat::error_code, std::size_t) {});
    REQUIRE(run_until(io, [&] { return server.log.size() == 1; }));

    server.w.stop(); // GOODBYE(shutting_down), then the TLS shutdown
    std::vector<std::uint8_t> got;
    std::array<std::uint8_t, 256> buf{};
    std::optional<heartbeat::error_code> end;
    std::function<void()> read = [&] {
        client.async_read_some(net::buffer(buf), [&](heartbeat::error_code ec, std::size_t n) {
            got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
            if (ec)
                end = ec;
            else
                read();
        });
    };
    read();
    REQUIRE(run_until(io, [&] { return end.has_value(); }));
    // WELCOME (10 bytes), then GOODBYE(1) (5 bytes); then the peer's
    // close_notify, which Asio reports as eof (a TCP close without it would
    // be ssl::error::stream_truncated).
    REQUIRE(got.size() >= 5);
    CHECK(got[got.size() - 5] == static_cast<std::uint8_t>(heartbeat::wire::frame_type::goodbye));
    CHECK(got.back() == 1);
    CHECK(*end == net::error::eof);
    CHECK(server.log.back() == "offline by-hand shutdown");
}

TEST_CASE("tls: handshakes in progress are bounded by max_handshakes", "[tls]")
{
    contexts ctx(make_self_signed());
    net::io_context io;
    auto o = tls_server::options();
    o.max_handshakes = 2;
    tls_server server(io, ctx.server, o);

    // Two connections that never start their handshake hold both slots.
    raw_peer stalled1(io, server), stalled2(io, server);
    REQUIRE(run_until(io, [&] { return server.w.handshakes_in_progress() == 2; }));

    tls::reconnecting_client<> c(io, client_options(server, "patient"), tls::connector(ctx.client));
    c.start();
    // Its TCP connection completes in the kernel's backlog; the watcher does
    // not accept it while both slots are taken.
    run_until(io, [] { return false; }, 300ms);
    CHECK(server.w.session_count() == 2);
    CHECK_FALSE(c.is_connected());

    // A slot frees when a stalled handshake ends: the client gets in.
    stalled1.socket.close();
    REQUIRE(run_until(io, [&] { return c.is_connected(); }));
    CHECK(server.log == std::vector<std::string>{"online patient"});
    // A connection that only opened and closed refused nothing.
    CHECK(server.refusals.empty());
    CHECK(server.w.refused_count() == 0);
    CHECK(server.w.handshakes_in_progress() == 1);
    c.stop();
    server.w.stop();
    run_until(io, [] { return false; }, 50ms);
}

TEST_CASE("tls: hostile input before and during the handshake", "[tls][hostile]")
{
    contexts ctx(make_self_signed());
    net::io_context io;
    auto o = tls_server::options();
    o.hello_timeout = 1s;
    tls_server server(io, ctx.server, o);

    // A well-behaved peer online throughout: no row may disturb it.
    tls::reconnecting_client<> good(io, client_options(server, "good"), tls::connector(ctx.client));
    good.start();
    REQUIRE(run_until(io, [&] { return good.is_connected(); }));

    raw_peer hostile(io, server);
    hostile.read_until_closed();
    const auto started = std::chrono::steady_clock::now();
    std::string row;

    SECTION("garbage before the ClientHello")
    {
        const std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        hostile.send(std::vector<std::uint8_t>(http.begin(), http.end()));
        REQUIRE(run_until(io, [&] { return hostile.closed && server.refusals.size() == 1; }));
        CHECK(server.refusals[0].error.category() == net::error::get_ssl_category());
    }
    SECTION("a handshake that never completes (slowloris at the TLS layer)")
    {
        // The first bytes of a TLS record (handshake, TLS 1.0 record
        // version, length 512), then nothing.
        hostile.send({0x16, 0x03, 0x01, 0x02, 0x00, 0x01});
        REQUIRE(run_until(io, [&] { return hostile.closed && server.refusals.size() == 1; }));
        CHECK(server.refusals[0].error == heartbeat::error::hello_timeout);
        CHECK(std::chrono::steady_clock::now() - started >= 1s);
    }
    SECTION("a plain HELLO to the TLS port")
    {
        hostile.send(hello_frame("plain"));
        REQUIRE(run_until(io, [&] { return hostile.closed && server.refusals.size() == 1; }));
        CHECK(server.refusals[0].error.category() == net::error::get_ssl_category());
    }
    const auto& r = server.refusals.at(0);
    CHECK(r.remote_address == "127.0.0.1:" + std::to_string(hostile.socket.local_endpoint().port()));
    CHECK_FALSE(r.claimed_id.has_value());
    CHECK(server.w.refused_count() == 1);
    CHECK(server.log == std::vector<std::string>{"online good"}); // never offline
    CHECK(good.is_connected());
    CHECK(server.w.handshakes_in_progress() == 0);
    CHECK(server.w.session_count() == 1);
    good.stop();
    server.w.stop();
    run_until(io, [] { return false; }, 50ms);
}

TEST_CASE("tls: a client refuses a server whose certificate fails verification", "[tls][hostile]")
{
    certificate_spec spec;
    long expected = 0;
    SECTION("expired")
    {
        spec.not_before_s = -2 * 24 * 3600;
        spec.not_after_s = -24 * 3600;
        expected = X509_V_ERR_CERT_HAS_EXPIRED;
    }
    SECTION("issued for another host")
    {
        spec.common_name = "elsewhere.example";
        spec.alt_names = "DNS:elsewhere.example";
        expected = X509_V_ERR_HOSTNAME_MISMATCH;
    }
    contexts ctx(make_self_signed(spec));
    net::io_context io;
    tls_server server(io, ctx.server);

    tls::reconnecting_client<> c(io, client_options(server, "careful"), tls::connector(ctx.client));
    std::vector<std::pair<heartbeat::error_code, unsigned>> failures;
    c.on_attempt_failed([&](heartbeat::error_code ec, unsigned n) { failures.emplace_back(ec, n); });
    c.start();
    // The client's alert reaches the server as a refusal of its own.
    REQUIRE(run_until(io, [&] { return failures.size() >= 2 && !server.refusals.empty(); }));
    INFO(failures[0].first.message());
    // The reason, not only "certificate verify failed".
    CHECK(failures[0].first == heartbeat::error_code(static_cast<int>(expected), tls::verify_category()));
    CHECK(failures[0].second == 1);
    CHECK(failures[1].second == 2);
    CHECK_FALSE(c.is_connected());
    CHECK(c.sessions() == 0);
    CHECK(server.log.empty()); // never got as far as HELLO
    CHECK(is_tls_error(server.refusals[0].error)); // "bad certificate" / "certificate expired"
    c.stop();

    server.w.stop();
    run_until(io, [] { return false; }, 50ms);
}

TEST_CASE("tls: verification off accepts any certificate", "[tls]")
{
    certificate_spec spec;
    spec.common_name = "elsewhere.example";
    spec.alt_names = "DNS:elsewhere.example";
    contexts ctx(make_self_signed(spec));
    net::io_context io;
    tls_server server(io, ctx.server);
    tls::connector::options co;
    co.verify = false;
    tls::reconnecting_client<> c(io, client_options(server, "trusting"), tls::connector(ctx.client, co));
    c.start();
    REQUIRE(run_until(io, [&] { return c.is_connected(); }));
    CHECK(server.log == std::vector<std::string>{"online trusting"});
    c.stop();
    server.w.stop();
    run_until(io, [] { return false; }, 50ms);
}

TEST_CASE("tls: a server name other than the host is what the certificate must carry", "[tls]")
{
    certificate_spec spec;
    spec.common_name = "presence.example";
    spec.alt_names = "DNS:presence.example";
    contexts ctx(make_self_signed(spec));
    net::io_context io;
    tls_server server(io, ctx.server);
    std::string sni;
    SSL_CTX_set_tlsext_servername_callback(ctx.server.native_handle(),
                                           +[](SSL* s, int*, void* arg) -> int {
                                               if (const char* n = SSL_get_servername(s, TLSEXT_NAMETYPE_host_name))
                                                   *static_cast<std::string*>(arg) = n;
                                               return SSL_TLSEXT_ERR_OK;
                                           });
    SSL_CTX_set_tlsext_servername_arg(ctx.server.native_handle(), &sni);
    tls::connector::options co;
    co.server_name = "presence.example";
    tls::reconnecting_client<> c(io, client_options(server, "named"), tls::connector(ctx.client, co));
    c.start();
    REQUIRE(run_until(io, [&] { return c.is_connected(); }));
    CHECK(sni == "presence.example"); // sent as SNI
    c.stop();
    server.w.stop();
    run_until(io, [] { return false; }, 50ms);
}
