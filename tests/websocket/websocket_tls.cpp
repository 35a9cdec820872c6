// heartbeat::websocket over TLS (wss://), with a throwaway certificate.
#include <heartbeat/websocket/tls.hpp>

#include "../support/certificates.hpp"
#include "../support/run_until.hpp"
#include "ws_client.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

namespace net = heartbeat::net;
namespace ws = heartbeat::websocket;
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

    auto client = std::make_shared<heartbeat_test::ws_client<net::ssl::stream<tcp::socket>>>(io, ctx.client);
    client->open(acceptor.local_endpoint().port(), "/?id=secure&token=x");
    REQUIRE(run_until(io, [&] { return client->is_open && online == 1; }));
    REQUIRE(run_until(io, [&] { return client->pings >= 6; }));
    CHECK(offline.empty());
    bool sent = false;
    client->send("over tls", false, [&] { sent = true; });
    REQUIRE(run_until(io, [&] { return sent && !messages.empty(); }));
    CHECK(messages.front() == "over tls");
    client->leave();
    REQUIRE(run_until(io, [&] { return offline.count("secure") == 1; }));
    CHECK(offline["secure"] == heartbeat::offline_reason::left);
    w.stop();
}
