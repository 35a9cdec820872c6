// A heartbeat process for fault tests and the load harness: a server (our
// watcher, the textbook baseline, or the floor: floor_server.hpp) or a set of reconnecting clients, each
// printing one line per event on stdout so the program driving it can stop,
// kill and cut it off like a real deployment's processes.
//
//   peer server  [--kind heartbeat|baseline|floor|websocket] [--bind ADDR] [--port P]
//                [--interval-ms I] [--misses N] [--stats-ms S] [--batch-us B] [--overload 0|1]
//                [--socket tcp|io-context] [--single-threaded 0|1]
//   peer clients --port P [--kind heartbeat|websocket] [--host ADDR] [--id ID]
//                [--count K] [--interval-ms I] [--backoff-ms B] [--backoff-max-ms M]
//                [--quiet 1] [--stats-ms S] [--token T] [--overload 0|1]
//
// `--kind websocket` exists in the heartbeat_ws_peer build of this file
// (Boost.Asio builds, heartbeat::websocket): the server is a WebSocket
// watcher in ping mode (a ping every interval), the clients plain Beast
// WebSocket clients that only read, as a browser page with no library.
//
// Lines (times are steady_clock nanoseconds, comparable across processes
// on one Linux host because all read CLOCK_MONOTONIC):
//   ready <port>
//   online <id> <t>
//   offline <id> <reason> <t> <last_seen>                     (server)
//   stats <frames received so far> <t> [<online> <slowdown> <lag us> <refused> <deferrals>]
//                                                             (server, every S ms; the rest: watchers)
//   stats <pings answered so far> <t>                         (websocket clients, every S ms)
//   connected <id> <t>    lost <id> <t> <why>                 (clients)
//   reconnecting <id> <attempt> <delay_ms> <t>
//   all-connected <count> <t>    (clients: once every connection was welcomed)
// With --quiet 1 the clients print only all-connected, lost and stats lines.
#include "../support/command_line.hpp"
#include "floor_server.hpp"

#include <heartbeat/heartbeat.hpp>
#if defined(HEARTBEAT_PEER_WEBSOCKET)
#include <heartbeat/websocket.hpp>
#endif

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

namespace {

namespace net = heartbeat::net;
namespace wire = heartbeat::wire;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

long long ns_of(steady::time_point t)
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
long long now_ns() { return ns_of(steady::now()); }

using arguments = heartbeat_test::command_line;

void print_offline(const std::string& id, heartbeat::offline_reason r, long long at, long long last_seen)
{
    std::printf("offline %s %s %lld %lld\n", id.c_str(), std::string(heartbeat::to_string(r)).c_str(), at,
                last_seen);
}

// ---- our watcher --------------------------------------------------------------
//
// One function for every watcher this program runs: over TCP, and (in the
// heartbeat_ws_peer build) over WebSocket in ping mode, where the server
// pings every interval and the peer is a plain WebSocket client.

template <class Watcher>
typename Watcher::options watcher_options(const arguments& args)
{
    typename Watcher::options o;
    o.detection.interval = std::chrono::milliseconds(args.number("--interval-ms", 100));
    o.detection.misses = static_cast<unsigned>(args.number("--misses", 3));
    o.detection.min_interval = 10ms;
    o.hello_timeout = 2s;
    o.single_threaded = args.number("--single-threaded", 0) != 0; // run_watcher runs io on one thread
    if (args.number("--overload", 1) == 0) { // as before issue #15's overload work: blame the peers
        o.overload.lag_threshold = 0ms;
        o.overload.govern = false;
    }
    return o;
}

template <class Watcher, class StartAccepting>
int run_watcher(const arguments& args, const typename Watcher::options& o, StartAccepting start_accepting)
{
    net::io_context io(1);
    Watcher watcher(io, o);
    watcher.on_event([](const typename Watcher::event_type& e) {
        if (e.kind == heartbeat::transition::online)
            std::printf("online %s %lld\n", e.key.c_str(), ns_of(e.at));
        else
            print_offline(e.key, e.reason, ns_of(e.at), ns_of(e.last_seen));
    });

    tcp::acceptor acceptor(io);
    const tcp::endpoint ep(net::ip::make_address(args.text("--bind", "127.0.0.1")),
                           static_cast<unsigned short>(args.number("--port", 0)));
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
    start_accepting(watcher, acceptor);
    std::printf("ready %u\n", static_cast<unsigned>(acceptor.local_endpoint().port()));

    net::steady_timer stats(io);
    const auto every = std::chrono::milliseconds(args.number("--stats-ms", 0));
    std::function<void()> report = [&] {
        stats.expires_after(every);
        stats.async_wait([&](const heartbeat::error_code& ec) {
            if (ec)
                return;
            // frames, time, then the overload figures: online, slowdown,
            // lag (us), refusals and deferrals so far.
            std::printf("stats %llu %lld %zu %.2f %lld %llu %llu\n",
                        static_cast<unsigned long long>(watcher.frames_received()), now_ns(), watcher.online_count(),
                        watcher.slowdown(),
                        static_cast<long long>(
                            std::chrono::duration_cast<std::chrono::microseconds>(watcher.lag()).count()),
                        static_cast<unsigned long long>(watcher.refused_count()),
                        static_cast<unsigned long long>(watcher.deferrals()));
            report();
        });
    };
    if (every.count() > 0)
        report();

    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const heartbeat::error_code&, int) {
        watcher.stop();
        stats.cancel();
        heartbeat::error_code ignored;
        acceptor.close(ignored);
    });
    heartbeat::run_batched(io, {std::chrono::microseconds(args.number("--batch-us", 0))});
    return 0;
}

template <class Socket>
int run_tcp_watcher(const arguments& args)
{
    using watcher_type = heartbeat::watcher<Socket>;
    return run_watcher<watcher_type>(args, watcher_options<watcher_type>(args),
                                     [](watcher_type& w, tcp::acceptor& a) { w.accept_from(a); });
}

#if defined(HEARTBEAT_PEER_WEBSOCKET)
int run_websocket_watcher(const arguments& args)
{
    using watcher_type = heartbeat::websocket::watcher<>;
    auto o = watcher_options<watcher_type>(args);
    o.probe_interval = o.detection.interval; // ping mode: one ping per interval
    return run_watcher<watcher_type>(args, o, [](watcher_type& w, tcp::acceptor& a) {
        w.accept_from(a, heartbeat::websocket::endpoint());
    });
}
#endif

// ---- the textbook baseline ------------------------------------------------------
//
// What one writes without a library: a thread per connection doing blocking
// reads, a mutex-guarded map of last-seen times, and a thread that sweeps
// the whole map once a second. It speaks the same protocol (HELLO, WELCOME,
// BEAT, ECHO), so the same clients drive it.

class baseline_server {
public:
    baseline_server(std::chrono::milliseconds interval, unsigned misses) : interval_(interval), misses_(misses) {}

    int run(const std::string& bind, unsigned short port, std::chrono::milliseconds stats_every)
    {
        const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
        const int yes = 1;
        ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        ::inet_pton(AF_INET, bind.c_str(), &addr.sin_addr);
        if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 4096) != 0) {
            std::perror("bind/listen");
            return 1;
        }
        socklen_t len = sizeof addr;
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
        std::printf("ready %u\n", static_cast<unsigned>(ntohs(addr.sin_port)));
        std::thread([this] { sweep(); }).detach();
        if (stats_every.count() > 0)
            std::thread([this, stats_every] {
                for (;;) {
                    std::this_thread::sleep_for(stats_every);
                    std::printf("stats %llu %lld\n", static_cast<unsigned long long>(frames_.load()), now_ns());
                }
            }).detach();
        for (;;) {
            const int fd = ::accept(listener, nullptr, nullptr);
            if (fd < 0) {
                std::this_thread::sleep_for(10ms);
                continue;
            }
            std::thread([this, fd] { serve(fd); }).detach();
        }
    }

private:
    struct peer {
        steady::time_point last_seen;
        bool online = true;
    };

    void serve(int fd)
    {
        wire::decoder decoder;
        std::string id;
        std::uint8_t buf[1024];
        for (;;) {
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0)
                break;
            const auto now = steady::now();
            std::uint64_t frames = 0;
            bool bad = false;
            const auto st = decoder.feed(buf, static_cast<std::size_t>(n), [&](const wire::frame_view& f) {
                ++frames;
                if (f.type == wire::frame_type::hello) {
                    wire::hello h;
                    if (wire::parse_hello(f, h) != wire::decode_status::ok) {
                        bad = true;
                        return;
                    }
                    id.assign(h.id.begin(), h.id.end());
                    {
                        std::lock_guard<std::mutex> lock(mu_);
                        peers_[id] = {now, true};
                    }
                    std::printf("online %s %lld\n", id.c_str(), ns_of(now));
                    std::vector<std::uint8_t> welcome;
                    wire::append_welcome(welcome, {wire::protocol_version, static_cast<std::uint8_t>(misses_),
                                                   static_cast<std::uint32_t>(interval_.count())});
                    ::send(fd, welcome.data(), welcome.size(), MSG_NOSIGNAL);
                }
                else if (f.type == wire::frame_type::beat && !id.empty()) {
                    std::uint32_t seq = 0;
                    wire::parse_sequence(f, seq);
                    {
                        std::lock_guard<std::mutex> lock(mu_);
                        auto& p = peers_[id];
                        if (!p.online)
                            std::printf("online %s %lld\n", id.c_str(), ns_of(now));
                        p = {now, true};
                    }
                    const auto echo = wire::encode_echo(seq);
                    ::send(fd, echo.data(), echo.size(), MSG_NOSIGNAL);
                }
            });
            frames_.fetch_add(frames, std::memory_order_relaxed);
            if (bad || st != wire::decode_status::ok)
                break;
        }
        ::close(fd);
        if (!id.empty()) {
            std::lock_guard<std::mutex> lock(mu_);
            auto it = peers_.find(id);
            if (it != peers_.end() && it->second.online)
                print_offline(id, heartbeat::offline_reason::disconnected, now_ns(), ns_of(it->second.last_seen));
            peers_.erase(id);
        }
    }

    void sweep()
    {
        const auto timeout = interval_ * misses_;
        for (;;) {
            std::this_thread::sleep_for(1s);
            const auto now = steady::now();
            std::lock_guard<std::mutex> lock(mu_);
            for (auto& [id, p] : peers_)
                if (p.online && now - p.last_seen > timeout) {
                    p.online = false;
                    print_offline(id, heartbeat::offline_reason::timeout, ns_of(now), ns_of(p.last_seen));
                }
        }
    }

    std::chrono::milliseconds interval_;
    unsigned misses_;
    std::mutex mu_;
    std::unordered_map<std::string, peer> peers_;
    std::atomic<std::uint64_t> frames_{0};
};

// ---- clients ----------------------------------------------------------------------

int run_clients(const arguments& args)
{
    using client_type = heartbeat::reconnecting_client<>;
    net::io_context io(1);
    const long count = args.number("--count", 1);
    const bool quiet = args.number("--quiet", 0) != 0;
    const std::string base = args.text("--id", "client");
    std::vector<std::unique_ptr<client_type>> clients;
    std::size_t welcomed_once = 0;
    std::vector<bool> welcomed(static_cast<std::size_t>(count), false);
    for (long i = 0; i < count; ++i) {
        client_type::options o;
        o.host = args.text("--host", "127.0.0.1");
        o.port = args.text("--port", "");
        o.session.id = count == 1 ? base : base + std::to_string(i);
        o.session.interval = std::chrono::milliseconds(args.number("--interval-ms", 100));
        o.session.hello_timeout = 5s;
        o.connect_timeout = 5s;
        o.backoff_initial = std::chrono::milliseconds(args.number("--backoff-ms", 50));
        o.backoff_max = std::chrono::milliseconds(args.number("--backoff-max-ms", 500));
        o.seed = static_cast<std::uint64_t>(i + 1);
        if (args.number("--overload", 1) == 0) { // no lag rule, the server's retry-after taken to the letter
            o.session.lag_threshold = 0ms;
            o.retry_after_spread = 0;
        }
        const std::string id = o.session.id;
        auto c = std::make_unique<client_type>(io, o);
        // All clients share the one io thread: the counters need no lock.
        c->on_connected([id, i, quiet, count, &welcomed, &welcomed_once] {
            if (!quiet)
                std::printf("connected %s %lld\n", id.c_str(), now_ns());
            if (!welcomed[static_cast<std::size_t>(i)]) {
                welcomed[static_cast<std::size_t>(i)] = true;
                if (++welcomed_once == static_cast<std::size_t>(count))
                    std::printf("all-connected %ld %lld\n", count, now_ns());
            }
        });
        c->on_lost([id](heartbeat::error_code ec) {
            std::printf("lost %s %lld %s\n", id.c_str(), now_ns(), ec.message().c_str());
        });
        if (!quiet)
            c->on_reconnecting([id](unsigned attempt, client_type::duration delay) {
                std::printf("reconnecting %s %u %lld %lld\n", id.c_str(), attempt,
                            static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()),
                            now_ns());
            });
        clients.push_back(std::move(c));
    }
    // Start in batches, so thousands of connections do not overflow the
    // server's listen backlog at once.
    net::steady_timer pacing(io);
    std::size_t started = 0;
    std::function<void()> start_batch = [&] {
        for (std::size_t n = 0; n < 200 && started < clients.size(); ++n)
            clients[started++]->start();
        if (started < clients.size()) {
            pacing.expires_after(10ms);
            pacing.async_wait([&](const heartbeat::error_code& ec) {
                if (!ec)
                    start_batch();
            });
        }
    };
    start_batch();
    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const heartbeat::error_code&, int) {
        pacing.cancel();
        for (auto& c : clients)
            c->stop();
    });
    io.run();
    return 0;
}

#if defined(HEARTBEAT_PEER_WEBSOCKET)
// ---- WebSocket clients that run no library --------------------------------------
//
// What a browser page does in ping mode: open `ws://host:port/?id=ID&token=T`
// with no subprotocol, then only read. Beast answers each ping with a pong
// inside the read, as a browser does by itself. Nothing reconnects.

namespace beast = boost::beast;

struct websocket_peer : std::enable_shared_from_this<websocket_peer> {
    websocket_peer(net::io_context& io, std::string id) : ws(io), id(std::move(id)) {}

    beast::websocket::stream<tcp::socket> ws;
    beast::flat_buffer buffer;
    std::string id;
};

int run_websocket_clients(const arguments& args)
{
    net::io_context io(1);
    const long count = args.number("--count", 1);
    const bool quiet = args.number("--quiet", 0) != 0;
    const std::string base = args.text("--id", "client");
    const std::string host = args.text("--host", "127.0.0.1");
    const auto port = static_cast<unsigned short>(args.number("--port", 0));
    const std::string token = args.text("--token", "T");
    // All connections share the one io thread: the counters need no lock.
    std::uint64_t pings = 0;
    long connected = 0;
    std::vector<std::shared_ptr<websocket_peer>> peers;
    for (long i = 0; i < count; ++i)
        peers.push_back(std::make_shared<websocket_peer>(io, count == 1 ? base : base + std::to_string(i)));

    auto lost = [](const std::shared_ptr<websocket_peer>& p, const heartbeat::error_code& ec) {
        std::printf("lost %s %lld %s\n", p->id.c_str(), now_ns(), ec.message().c_str());
    };
    std::function<void(std::shared_ptr<websocket_peer>)> read = [&](std::shared_ptr<websocket_peer> p) {
        p->ws.async_read(p->buffer, [&, p](const heartbeat::error_code& ec, std::size_t) {
            if (ec)
                return lost(p, ec);
            p->buffer.consume(p->buffer.size());
            read(p);
        });
    };
    auto open = [&](const std::shared_ptr<websocket_peer>& p) {
        p->ws.control_callback([&pings](beast::websocket::frame_type kind, beast::string_view) {
            if (kind == beast::websocket::frame_type::ping)
                ++pings;
        });
        p->ws.next_layer().async_connect(
            {net::ip::make_address(host), port}, [&, p](const heartbeat::error_code& ec) {
                if (ec)
                    return lost(p, ec);
                p->ws.async_handshake(host + ":" + std::to_string(port), "/?id=" + p->id + "&token=" + token,
                                      [&, p](const heartbeat::error_code& e) {
                                          if (e)
                                              return lost(p, e);
                                          if (!quiet)
                                              std::printf("connected %s %lld\n", p->id.c_str(), now_ns());
                                          if (++connected == count)
                                              std::printf("all-connected %ld %lld\n", count, now_ns());
                                          read(p);
                                      });
            });
    };

    // Start in batches, as the TCP clients do.
    net::steady_timer pacing(io);
    std::size_t started = 0;
    std::function<void()> start_batch = [&] {
        for (std::size_t n = 0; n < 200 && started < peers.size(); ++n)
            open(peers[started++]);
        if (started < peers.size()) {
            pacing.expires_after(10ms);
            pacing.async_wait([&](const heartbeat::error_code& ec) {
                if (!ec)
                    start_batch();
            });
        }
    };
    start_batch();

    // Pings answered so far (Beast sends the pong for each ping it reads).
    net::steady_timer stats(io);
    const auto every = std::chrono::milliseconds(args.number("--stats-ms", 0));
    std::function<void()> report = [&] {
        stats.expires_after(every);
        stats.async_wait([&](const heartbeat::error_code& ec) {
            if (ec)
                return;
            std::printf("stats %llu %lld\n", static_cast<unsigned long long>(pings), now_ns());
            report();
        });
    };
    if (every.count() > 0)
        report();

    net::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const heartbeat::error_code&, int) {
        pacing.cancel();
        stats.cancel();
        for (auto& p : peers) {
            heartbeat::error_code ignored;
            p->ws.next_layer().close(ignored);
        }
    });
    io.run();
    return 0;
}
#endif

} // namespace

int main(int argc, char** argv)
{
    // One line per event, visible to the parent at once.
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    if (argc < 2 || (std::strcmp(argv[1], "server") != 0 && std::strcmp(argv[1], "clients") != 0)) {
        std::fprintf(stderr, "usage: peer server|clients [--option value]...\n");
        return 2;
    }
    const arguments args(argc, argv, 2);
    const bool server = std::strcmp(argv[1], "server") == 0;
    const std::string kind = args.text("--kind", "heartbeat");
    if (kind == "websocket") {
#if defined(HEARTBEAT_PEER_WEBSOCKET)
        return server ? run_websocket_watcher(args) : run_websocket_clients(args);
#else
        std::fprintf(stderr, "peer: --kind websocket needs the heartbeat_ws_peer build (Boost.Asio)\n");
        return 2;
#endif
    }
    if (!server)
        return run_clients(args);
    if (kind == "floor")
        return heartbeat_test::floor_server(std::chrono::milliseconds(args.number("--interval-ms", 100)),
                                            static_cast<unsigned>(args.number("--misses", 3)),
                                            std::chrono::microseconds(args.number("--batch-us", 0)), print_offline)
            .run(args.text("--bind", "127.0.0.1"), static_cast<unsigned short>(args.number("--port", 0)),
                 std::chrono::milliseconds(args.number("--stats-ms", 0)));
    if (kind == "baseline")
        return baseline_server(std::chrono::milliseconds(args.number("--interval-ms", 100)),
                               static_cast<unsigned>(args.number("--misses", 3)))
            .run(args.text("--bind", "127.0.0.1"), static_cast<unsigned short>(args.number("--port", 0)),
                 std::chrono::milliseconds(args.number("--stats-ms", 0)));
    // --socket io-context: heartbeat::tcp_socket (no type-erased executor).
    if (args.text("--socket", "tcp") == "io-context")
        return run_tcp_watcher<heartbeat::tcp_socket>(args);
    return run_tcp_watcher<tcp::socket>(args);
}
