// A program that uses heartbeat the way a consumer would: the umbrella
// header, a registry on the real steady clock, and a sweeper on an
// io_context. It exits 0 once a silent peer has been declared offline.
#include <heartbeat/heartbeat.hpp>

#include <chrono>
#include <iostream>
#include <string>

int main()
{
    using namespace std::chrono_literals;
    heartbeat::net::io_context io;

    heartbeat::registry<std::string>::options opts;
    opts.detection.interval = 10ms;
    opts.detection.min_interval = 10ms;
    opts.detection.misses = 2;
    heartbeat::registry<std::string> peers(opts);
    heartbeat::sweeper<heartbeat::registry<std::string>> sweeper(io, peers);

    int online = 0;
    int offline = 0;
    peers.on_event([&](const auto& e) {
        std::cout << heartbeat::to_string(e.kind) << ' ' << e.key << '\n';
        if (e.kind == heartbeat::transition::online)
            ++online;
        else if (e.reason == heartbeat::offline_reason::timeout && ++offline == 1)
            io.stop();
    });

    peers.touch("consumer-peer");
    sweeper.start();
    io.run_for(10s);  // generous: the peer times out after 20 ms

    const bool ok = online == 1 && offline == 1 && !peers.is_online("consumer-peer");
    std::cout << "heartbeat " << HEARTBEAT_VERSION_MAJOR << '.' << HEARTBEAT_VERSION_MINOR
              << (ok ? ": consumer ok\n" : ": consumer FAILED\n");
    return ok ? 0 : 1;
}
