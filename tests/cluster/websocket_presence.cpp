// A WebSocket watcher's peers in cluster presence: redis::gateway attaches
// to it as to any watcher, and a directory sees a ping-mode page online
// and then left.
#include "redis_server.hpp"

#include <heartbeat/redis.hpp>
#include <heartbeat/websocket.hpp>

#include "../support/run_until.hpp"
#include "../websocket/ws_client.hpp"

#include <catch2/catch.hpp>

namespace net = heartbeat::net;
namespace ws = heartbeat::websocket;
namespace hr = heartbeat::redis;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using heartbeat_test::run_until;

TEST_CASE("a WebSocket watcher's peers are in cluster presence like any others", "[cluster][websocket]")
{
    if (!heartbeat_test::redis_server::binary()) {
        WARN("redis-server is not installed (scripts/install-deps.sh test installs it): skipped");
        return;
    }
    heartbeat_test::redis_server redis;
    net::io_context io;

    ws::watcher<>::options wo;
    wo.detection.interval = 100ms;
    wo.detection.min_interval = 10ms;
    wo.probe_interval = 100ms;
    ws::watcher<> w(io, wo);
    hr::gateway::options go;
    go.name = "W";
    go.redis.port = redis.port();
    hr::gateway g(io, go);
    g.attach(w);
    g.start();
    hr::directory::options dop;
    dop.redis.port = redis.port();
    hr::directory d(io, dop);
    std::vector<hr::cluster_event> events;
    d.on_event([&](const hr::cluster_event& e) { events.push_back(e); });
    d.start();
    REQUIRE(run_until(io, [&] { return d.connected(); }));
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    w.accept_from(acceptor, ws::endpoint());

    auto page = std::make_shared<heartbeat_test::ws_client<>>(io);
    page->open(acceptor.local_endpoint().port(), "/?id=page-1&token=t");
    auto saw = [&](hr::cluster_event::kind k) {
        return std::any_of(events.begin(), events.end(),
                           [&](const hr::cluster_event& e) { return e.type == k && e.peer == "page-1"; });
    };
    REQUIRE(run_until(io, [&] { return page->is_open && saw(hr::cluster_event::kind::online); }));
    bool answered = false, online = false;
    d.async_is_online("page-1", [&](heartbeat::error_code ec, bool yes) {
        answered = !ec;
        online = yes;
    });
    REQUIRE(run_until(io, [&] { return answered; }));
    CHECK(online);

    page->leave();
    REQUIRE(run_until(io, [&] { return saw(hr::cluster_event::kind::offline); }));
    const auto offline = std::find_if(events.begin(), events.end(), [](const hr::cluster_event& e) {
        return e.type == hr::cluster_event::kind::offline;
    });
    CHECK(offline->reason == hr::cluster_reason::left);
    w.stop();
    bool stopped = false;
    g.async_stop([&](heartbeat::error_code) { stopped = true; });
    run_until(io, [&] { return stopped; });
    d.stop();
}
