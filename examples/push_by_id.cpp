// Framed mode: a push server that reaches each client by id.
//
// The watcher carries the application's messages in DATA frames beside the
// beats, so the server knows who is online and can push to any of them by
// id, or to all of them. Clients here are reconnecting_clients: they would
// come back by themselves after a server restart.
//
// Three clients log in; the server pushes a personal message to each, a
// broadcast to all, and a reply to every message a client sends; then all
// stop. About one second.
#include <heartbeat/heartbeat.hpp>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace net = heartbeat::net;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

int main()
{
    net::io_context io;

    // ---- the server ------------------------------------------------------
    heartbeat::watcher<tcp::socket>::options opts;
    opts.detection.interval = 100ms;
    heartbeat::watcher<tcp::socket> server(io, opts);
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});

    std::atomic<int> welcomed{0};
    server.on_online([&](const std::string& id) {
        std::printf("server: %s online, pushing to it\n", id.c_str());
        server.send(id, "welcome aboard, " + id);
        if (++welcomed == 3)
            std::printf("server: broadcast to %zu peers\n", server.broadcast("everyone: maintenance at noon"));
    });
    server.on_message([&](const std::string& id, std::string_view text) {
        std::printf("server: from %s: %.*s\n", id.c_str(), static_cast<int>(text.size()), text.data());
        server.send(id, "ack: " + std::string(text));
    });
    server.on_offline([](const std::string& id, heartbeat::offline_reason r) {
        std::printf("server: %s offline (%s)\n", id.c_str(), std::string(heartbeat::to_string(r)).c_str());
    });
    server.accept_from(acceptor);

    // ---- the clients -------------------------------------------------------
    std::vector<std::unique_ptr<heartbeat::reconnecting_client<>>> clients;
    std::atomic<int> received{0};
    for (const char* name : {"ann", "ben", "cat"}) {
        heartbeat::reconnecting_client<>::options o;
        o.port = std::to_string(acceptor.local_endpoint().port());
        o.session.id = name;
        o.session.interval = 100ms;
        auto& c = *clients.emplace_back(std::make_unique<heartbeat::reconnecting_client<>>(io, o));
        c.on_connected([&c, name] { c.send(std::string("hello from ") + name); });
        c.on_message([&, name](std::string_view text) {
            std::printf("%s: got \"%.*s\"\n", name, static_cast<int>(text.size()), text.data());
            ++received;
        });
        c.start();
    }

    // Each client expects: its welcome, the broadcast, the ack.
    net::steady_timer check(io);
    std::function<void()> wait_done = [&] {
        check.expires_after(10ms);
        check.async_wait([&](heartbeat::error_code) {
            if (received < 9)
                return wait_done();
            for (auto& c : clients)
                c->stop();
            check.expires_after(100ms);  // let the goodbyes arrive
            check.async_wait([&](heartbeat::error_code) {
                server.stop();
                acceptor.close();
            });
        });
    };
    wait_done();
    io.run_for(10s);
    std::printf("%d messages delivered\n", received.load());
    return received == 9 ? 0 : 1;
}
