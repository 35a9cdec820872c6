// A gateway in a cluster: a heartbeat watcher whose peers' presence is
// shared through Redis (heartbeat::redis::gateway), so any process can ask
// whether peer X is online anywhere and where.
//
//   cluster_gateway --name A [--port 0] [--redis-port 6379] [--interval-ms 1000]
//                   [--lease-ms 3000] [--refresh-ms 1000]
//
// Prints "listening <port>" once it accepts, then a line per local
// transition. SIGINT/SIGTERM leave the cluster cleanly (peers go offline
// with reason shutdown); a crash or SIGKILL leaves it to the other gateways,
// which mark this gateway's peers offline (gateway_lost) when its lease
// runs out. scripts/cluster-demo.sh runs two of these.
#include <heartbeat/heartbeat.hpp>
#include <heartbeat/redis.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace net = heartbeat::net;
using tcp = net::ip::tcp;
using std::chrono::milliseconds;

namespace {

// "--flag value" from argv, or `fallback`.
std::string flag(int argc, char** argv, const char* name, const char* fallback)
{
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return fallback;
}

long number(int argc, char** argv, const char* name, long fallback)
{
    return std::strtol(flag(argc, argv, name, std::to_string(fallback).c_str()).c_str(), nullptr, 10);
}

} // namespace

int main(int argc, char** argv)
{
    const std::string name = flag(argc, argv, "--name", "");
    if (name.empty()) {
        std::fprintf(stderr, "usage: %s --name NAME [--port P] [--redis-port R] [--interval-ms I] "
                             "[--lease-ms L] [--refresh-ms F]\n", argv[0]);
        return 2;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    net::io_context io(1);

    heartbeat::watcher<tcp::socket>::options wo;
    wo.detection.interval = milliseconds(number(argc, argv, "--interval-ms", 1000));
    wo.detection.min_interval = milliseconds(10);
    heartbeat::watcher<tcp::socket> watcher(io, wo);

    heartbeat::redis::gateway::options go;
    go.name = name;
    go.redis.port = static_cast<std::uint16_t>(number(argc, argv, "--redis-port", 6379));
    go.lease_ttl = milliseconds(number(argc, argv, "--lease-ms", 3000));
    go.lease_refresh = milliseconds(number(argc, argv, "--refresh-ms", 1000));
    go.redis.command_timeout = std::min(go.lease_ttl, milliseconds(2000));
    heartbeat::redis::gateway gateway(io, go);

    // The gateway observes the watcher (watcher::subscribe): on_event,
    // on_online and on_offline stay free for the application (here: a log
    // line).
    gateway.attach(watcher);
    watcher.on_online([&](const std::string& id) { std::printf("%s: online %s\n", name.c_str(), id.c_str()); });
    watcher.on_offline([&](const std::string& id, heartbeat::offline_reason why) {
        std::printf("%s: offline %s (%s)\n", name.c_str(), id.c_str(), std::string(to_string(why)).c_str());
    });
    gateway.start();

    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                             static_cast<unsigned short>(number(argc, argv, "--port", 0))));
    watcher.accept_from(acceptor);
    std::printf("listening %u\n", static_cast<unsigned>(acceptor.local_endpoint().port()));

    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const heartbeat::error_code&, int) {
        heartbeat::error_code ignored;
        acceptor.close(ignored);
        watcher.stop(); // its peers' offline(shutdown) events reach the gateway first
        gateway.async_stop([&](heartbeat::error_code ec) {
            std::printf("%s: left the cluster (%s)\n", name.c_str(), ec ? ec.message().c_str() : "ok");
        });
    });
    io.run();
}
