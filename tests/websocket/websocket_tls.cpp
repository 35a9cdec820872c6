// heartbeat::websocket over TLS (wss://), with a throwaway certificate.
#include <heartbeat/websocket/tls.hpp>

#include "../support/certificates.hpp"
#include "../support/run_until.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

namespace net = heartbeat::net;
namespace ws = heartbeat::websocket;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using heartbeat_test::run_until;

TEST_CASE("wss: a ping-mode peer over TLS, online, messages, leave", "[websocket][tls]")
{
    net::io_context io;
    heartbeat_test::contexts ctx(heartbeat_test::make_self_signed());
    ws::tls_watcher<>::options o;
    o.detection.interval = 50ms;
    o.detection.min_interval = 10ms;
    o.hello_timeout = 1s;
    o.probe_interval = 50ms;
    ws::tls_watcher<> w(io, o);
    std::map<std::string, heartbeat::offline_reason> offline;
    std::vector<std::string> messages;
    int online = 0;
    w.on_online([&](const std::string&) { ++online; });
    w.on_offline([&](const std::string& id, heartbeat::offline_reason r) { offline[id] = r; });
    w.on_message([&](const std::string&, std::string_view m) { messages.emplace_back(m); });
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    w.accept_from(acceptor, ctx.server, ws::endpoint());

    beast::websocket::stream<net::ssl::stream<tcp::socket>> client(io, ctx.client);
    bool open = false, closed = false;
    int pings = 0;
    beast::flat_buffer buffer;
    client.control_callback([&](beast::websocket::frame_type k, beast::string_view) {
        if (k == beast::websocket::frame_type::ping)
            ++pings;
    });
    std::function<void()> read = [&] {
        client.async_read(buffer, [&](heartbeat::error_code ec, std::size_t) {
            if (ec) {
                closed = true;
                return;
            }
            buffer.consume(buffer.size());
            read();
        });
    };
    beast::get_lowest_layer(client).async_connect(acceptor.local_endpoint(), [&](heartbeat::error_code ec) {
        REQUIRE_FALSE(ec);
        client.next_layer().async_handshake(net::ssl::stream_base::client, [&](heartbeat::error_code e) {
            REQUIRE_FALSE(e);
            client.async_handshake("localhost", "/?id=secure&token=x", [&](heartbeat::error_code e2) {
                REQUIRE_FALSE(e2);
                open = true;
                read();
            });
        });
    });
    REQUIRE(run_until(io, [&] { return open && online == 1; }));
    REQUIRE(run_until(io, [&] { return pings >= 6; }));
    CHECK(offline.empty());
    client.async_write(net::buffer(std::string_view("over tls")), [](heartbeat::error_code, std::size_t) {});
    REQUIRE(run_until(io, [&] { return !messages.empty(); }));
    CHECK(messages.front() == "over tls");
    client.async_close(beast::websocket::close_code::normal, [](heartbeat::error_code) {});
    REQUIRE(run_until(io, [&] { return offline.count("secure") == 1; }));
    CHECK(offline["secure"] == heartbeat::offline_reason::left);
    w.stop();
}
