// A heartbeat process for fault tests: a watcher server or a set of
// reconnecting clients, each printing one line per event on stdout so the
// test driving it (faults.cpp) can stop, kill and cut it off like a real
// deployment's processes.
//
//   peer server  [--bind ADDR] [--port P] [--interval-ms I] [--misses N]
//   peer clients --port P [--host ADDR] [--id ID] [--count K] [--interval-ms I]
//                [--backoff-ms B] [--backoff-max-ms M]
//
// Lines (times are steady_clock nanoseconds, comparable across processes
// on one Linux host because both read CLOCK_MONOTONIC):
//   ready <port>
//   online <id> <t>            offline <id> <reason> <t>        (server)
//   connected <id> <t>         lost <id> <t> <why>             (clients)
//   reconnecting <id> <attempt> <delay_ms> <t>
#include <heartbeat/heartbeat.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

namespace net = heartbeat::net;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

long long now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

struct arguments {
    std::map<std::string, std::string> values;

    arguments(int argc, char** argv)
    {
        for (int i = 2; i + 1 < argc; i += 2)
            values[argv[i]] = argv[i + 1];
    }
    std::string text(const std::string& name, std::string fallback) const
    {
        const auto it = values.find(name);
        return it == values.end() ? fallback : it->second;
    }
    long number(const std::string& name, long fallback) const
    {
        const auto it = values.find(name);
        return it == values.end() ? fallback : std::strtol(it->second.c_str(), nullptr, 10);
    }
};

int run_server(const arguments& args)
{
    net::io_context io;
    heartbeat::watcher<tcp::socket>::options o;
    o.detection.interval = std::chrono::milliseconds(args.number("--interval-ms", 100));
    o.detection.misses = static_cast<unsigned>(args.number("--misses", 3));
    o.detection.min_interval = 10ms;
    o.hello_timeout = 2s;
    heartbeat::watcher<tcp::socket> watcher(io, o);
    watcher.on_online([](const std::string& id) { std::printf("online %s %lld\n", id.c_str(), now_ns()); });
    watcher.on_offline([](const std::string& id, heartbeat::offline_reason r) {
        std::printf("offline %s %s %lld\n", id.c_str(), std::string(heartbeat::to_string(r)).c_str(), now_ns());
    });

    tcp::acceptor acceptor(io);
    const tcp::endpoint ep(net::ip::make_address(args.text("--bind", "127.0.0.1")),
                           static_cast<unsigned short>(args.number("--port", 0)));
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
    watcher.accept_from(acceptor);
    std::printf("ready %u\n", static_cast<unsigned>(acceptor.local_endpoint().port()));

    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const heartbeat::error_code&, int) {
        watcher.stop();
        heartbeat::error_code ignored;
        acceptor.close(ignored);
    });
    io.run();
    return 0;
}

int run_clients(const arguments& args)
{
    using client_type = heartbeat::reconnecting_client<>;
    net::io_context io;
    const long count = args.number("--count", 1);
    const std::string base = args.text("--id", "client");
    std::vector<std::unique_ptr<client_type>> clients;
    for (long i = 0; i < count; ++i) {
        client_type::options o;
        o.host = args.text("--host", "127.0.0.1");
        o.port = args.text("--port", "");
        o.session.id = count == 1 ? base : base + std::to_string(i);
        o.session.interval = std::chrono::milliseconds(args.number("--interval-ms", 100));
        o.session.hello_timeout = 2s;
        o.connect_timeout = 2s;
        o.backoff_initial = std::chrono::milliseconds(args.number("--backoff-ms", 50));
        o.backoff_max = std::chrono::milliseconds(args.number("--backoff-max-ms", 500));
        o.seed = static_cast<std::uint64_t>(i + 1);
        const std::string id = o.session.id;
        auto c = std::make_unique<client_type>(io, o);
        c->on_connected([id] { std::printf("connected %s %lld\n", id.c_str(), now_ns()); });
        c->on_lost([id](heartbeat::error_code ec) {
            std::printf("lost %s %lld %s\n", id.c_str(), now_ns(), ec.message().c_str());
        });
        c->on_reconnecting([id](unsigned attempt, client_type::duration delay) {
            std::printf("reconnecting %s %u %lld %lld\n", id.c_str(), attempt,
                        static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()),
                        now_ns());
        });
        c->start();
        clients.push_back(std::move(c));
    }
    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const heartbeat::error_code&, int) {
        for (auto& c : clients)
            c->stop();
    });
    io.run();
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    // One line per event, visible to the parent at once.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    if (argc >= 2 && std::strcmp(argv[1], "server") == 0)
        return run_server(arguments(argc, argv));
    if (argc >= 2 && std::strcmp(argv[1], "clients") == 0)
        return run_clients(arguments(argc, argv));
    std::fprintf(stderr, "usage: peer server|clients [--option value]...\n");
    return 2;
}
