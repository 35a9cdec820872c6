// A peer for the cluster demo: connects to a gateway, beats, reconnects
// when the gateway goes away, and says GOODBYE on SIGINT/SIGTERM.
//
//   cluster_client --port P --id ID [--interval-ms 500]
#include <heartbeat/reconnecting_client.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace net = heartbeat::net;

int main(int argc, char** argv)
{
    heartbeat::reconnecting_client<>::options o;
    o.session.interval = std::chrono::milliseconds(500);
    o.backoff_max = std::chrono::seconds(2);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--port") == 0)
            o.port = argv[i + 1];
        else if (std::strcmp(argv[i], "--id") == 0)
            o.session.id = argv[i + 1];
        else if (std::strcmp(argv[i], "--interval-ms") == 0)
            o.session.interval = std::chrono::milliseconds(std::atol(argv[i + 1]));
    }
    if (o.port.empty() || o.session.id.empty()) {
        std::fprintf(stderr, "usage: %s --port P --id ID [--interval-ms I]\n", argv[0]);
        return 2;
    }

    net::io_context io(1);
    heartbeat::reconnecting_client<> client(io, o);
    client.start();
    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const heartbeat::error_code&, int) { client.stop(); });
    io.run();
}
