// The rival: the same load carried by ZeroMQ's built-in ZMTP heartbeats,
// configured the way zmq_setsockopt(3) describes them, for the load
// harness. Speaks the harness's line protocol (see tests/faults/peer.cpp):
//
//   zmq_peer server  [--port P] [--interval-ms I] [--misses N] [--stats-ms S]
//                    [--io-threads T]
//   zmq_peer clients --port P [--id ID] [--count K] [--io-threads T]
//
// A ROUTER socket accepts DEALER sockets. The ROUTER is the side that
// heartbeats: it sends a ZMTP PING every I (ZMQ_HEARTBEAT_IVL) and drops a
// connection that sent nothing for N x I after a PING
// (ZMQ_HEARTBEAT_TIMEOUT). The DEALERs only answer: libzmq answers every
// PING with a PONG whatever the answering socket's options are. A socket
// monitor reports each accepted connection (online) and each
// disconnect (offline: a heartbeat timeout or a closed connection; ZeroMQ
// does not say which). Last-seen times are unknown (PINGs and PONGs stay
// inside libzmq), printed as 0; so is the number of beats (`stats 0`).
//
// The monitor names descriptors, not peers: each client sends its id once,
// and the server ties that message to the connection it came on (see
// `namer` for why that needs care once descriptors are reused). Only the
// protocol lines go to stdout; diagnostics go to stderr.
#include "../../tests/support/command_line.hpp"

#include <zmq.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace {

long long now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

using arguments = heartbeat_test::command_line;

void check(int rc, const char* what)
{
    if (rc != 0) {
        std::fprintf(stderr, "zmq_peer: %s: %s\n", what, zmq_strerror(zmq_errno()));
        std::exit(1);
    }
}

void set_int(void* socket, int option, int value, const char* what)
{
    check(zmq_setsockopt(socket, option, &value, sizeof value), what);
}

/// Which connection a client's id message came on.
///
/// The monitor says only "descriptor F accepted" and "descriptor F
/// disconnected"; a message says which descriptor it was read from
/// (ZMQ_SRCFD, which zmq_msg_get(3) warns may be closed or reused by the
/// time the message is read). So a name must be tied to one connection on
/// F, a *generation*, not to the number.
///
/// What libzmq 4.3 guarantees about the order, per descriptor F (monitor
/// events are sent under one lock, in the order they are raised; there is
/// one listener, on one I/O thread):
///  - ACCEPTED(g) is raised by the listener after it has handed the
///    connection to an I/O thread, which with 2 I/O threads may be the
///    other one: that engine may push messages, even fail and raise
///    DISCONNECTED(g), before ACCEPTED(g) is raised. (HANDSHAKE_SUCCEEDED
///    would be ordered, but carries no descriptor.)
///  - DISCONNECTED(g) is raised before the engine closes F, so before F can
///    be accepted again; ACCEPTED(g) before the listener accepts again. So
///    per F the stream is a run of pairs, {A, D} in either order, one pair
///    per generation, never interleaved.
///  - A message of g is pushed after F was accepted and before it is
///    closed, so after every event of g-1 and before every event of g+1.
///  - The ROUTER's messages and the monitor's events travel on different
///    pipes, so either can be read first.
/// Hence, for a connection's first message m read from F:
///  - Upper bound: after reading m, draining the monitor completes the pair
///    of every generation before m's, so m belongs to a generation already
///    seen or to the next one, not seen yet.
///  - Lower bound: if an event of generation P had been applied before the
///    ROUTER last reported "empty" (EAGAIN, after processing its pending
///    commands), m belongs to P or later: the messages of any earlier
///    generation were flushed before F was closed, so before P existed, and
///    would have been read by then.
/// Among the generations between the bounds, m belongs to one that has not
/// had its first message yet. If exactly one fits, m names it (if it has
/// already closed, its offline went out as fd<F> and the name comes too
/// late). If more than one fits, no name is guessed: the connection stays
/// fd<F>, and stderr says so: a name missing, never a wrong one.
///
/// "First message" is told by the routing id, which the ROUTER assigns
/// itself (the clients set none) and never reuses while it lives.
class namer {
public:
    /// ACCEPTED for `fd`, the monitor's `event`-th event.
    void accepted(int fd, std::uint64_t event) { pair_of(fd, true, event); }

    /// DISCONNECTED for `fd`: the name to print (fd<F> if none).
    std::string disconnected(int fd, std::uint64_t event)
    {
        const generation& g = pair_of(fd, false, event);
        return g.name.empty() ? "fd" + std::to_string(fd) : g.name;
    }

    /// The ROUTER reported no message left; `event` monitor events had
    /// been applied by then.
    void router_empty(std::uint64_t event) { router_empty_at_ = event; }

    /// Is this routing id new (the connection's first message)?
    bool first_message(const std::string& routing_id) { return seen_.insert(routing_id).second; }

    /// A connection's first message, `id`, read from `fd`; the monitor
    /// has been drained since it was read.
    void named(int fd, const std::string& id)
    {
        auto& gens = by_fd_[fd];
        const std::size_t low = lower_bound(gens);
        std::size_t fits = 0, which = 0;
        for (std::size_t i = low; i < gens.size(); ++i)
            if (!gens[i].had_first) {
                ++fits;
                which = i;
            }
        // The next generation, none of whose events has come yet (m was read
        // before its ACCEPTED): possible only if the last pair is complete.
        const bool next_fits = gens.empty() || (gens.back().accepted && gens.back().disconnected);
        if (next_fits) {
            ++fits;
            which = gens.size();
        }
        if (fits != 1) {
            std::fprintf(stderr, "zmq_peer: id %s on fd %d fits %zu connections; left unnamed\n", id.c_str(), fd,
                         fits);
            return;
        }
        if (which == gens.size())
            gens.push_back(generation{});
        auto& g = gens[which];
        g.had_first = true;
        if (!g.disconnected)
            g.name = id;
        else
            std::fprintf(stderr, "zmq_peer: id %s on fd %d came after its connection closed (printed as fd%d)\n",
                         id.c_str(), fd, fd);
    }

private:
    static constexpr std::uint64_t never = ~std::uint64_t{0};

    struct generation {
        bool accepted = false;     // its ACCEPTED was applied
        bool disconnected = false; // its DISCONNECTED was applied
        bool had_first = false;    // its first message was read
        std::uint64_t first_event = never; // sequence number of the first of its events applied
        std::string name;
    };

    /// The generation an event of `fd` belongs to: the last one if it lacks
    /// this kind of event, else a new one.
    generation& pair_of(int fd, bool accept, std::uint64_t event)
    {
        auto& gens = by_fd_[fd];
        if (gens.empty() || (accept ? gens.back().accepted : gens.back().disconnected)) {
            // Generations before the lower bound can never be the answer
            // again (the bound only rises).
            const std::size_t low = lower_bound(gens);
            gens.erase(gens.begin(), gens.begin() + static_cast<std::ptrdiff_t>(low));
            gens.push_back(generation{});
        }
        generation& g = gens.back();
        (accept ? g.accepted : g.disconnected) = true;
        g.first_event = std::min(g.first_event, event);
        return g;
    }

    /// The index of the latest generation with an event applied before the
    /// ROUTER last reported empty (0 if none).
    std::size_t lower_bound(const std::vector<generation>& gens) const
    {
        std::size_t low = 0;
        for (std::size_t i = 0; i < gens.size(); ++i)
            if (gens[i].first_event <= router_empty_at_)
                low = i;
        return low;
    }

    std::unordered_map<int, std::vector<generation>> by_fd_; // oldest first
    std::unordered_set<std::string> seen_; // grows with the connections ever made: fine for a benchmark
    std::uint64_t router_empty_at_ = 0;
};

class server {
public:
    server(void* router, void* monitor) : router_(router), monitor_(monitor) {}

    /// Applies every monitor event queued now. Reading them all (not one
    /// per poll) keeps the printed times close to when libzmq raised them.
    void drain_monitor()
    {
        for (;;) {
            // Frame 1: u16 event, u32 value (the descriptor); frame 2: the
            // endpoint (for accepted connections the listening one: no use).
            zmq_msg_t head;
            zmq_msg_init(&head);
            if (zmq_msg_recv(&head, monitor_, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&head);
                return; // EAGAIN: nothing left
            }
            std::uint16_t event = 0;
            std::uint32_t value = 0;
            std::memcpy(&event, zmq_msg_data(&head), sizeof event);
            std::memcpy(&value, static_cast<char*>(zmq_msg_data(&head)) + 2, sizeof value);
            zmq_msg_close(&head);
            zmq_msg_t address;
            zmq_msg_init(&address);
            zmq_msg_recv(&address, monitor_, 0); // the rest of a multipart message is already here
            zmq_msg_close(&address);
            ++events_;
            const int fd = static_cast<int>(value);
            if (event == ZMQ_EVENT_ACCEPTED) {
                names_.accepted(fd, events_);
                std::printf("online fd%d %lld\n", fd, now_ns());
            }
            else if (event == ZMQ_EVENT_DISCONNECTED) {
                const std::string name = names_.disconnected(fd, events_);
                std::printf("offline %s timeout %lld 0\n", name.c_str(), now_ns());
            }
        }
    }

    /// Reads every message queued now: [routing id][the client's id].
    void drain_router()
    {
        for (;;) {
            zmq_msg_t routing;
            zmq_msg_init(&routing);
            if (zmq_msg_recv(&routing, router_, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&routing);
                names_.router_empty(events_);
                return;
            }
            const std::string routing_id(static_cast<const char*>(zmq_msg_data(&routing)), zmq_msg_size(&routing));
            zmq_msg_close(&routing);
            std::string id;
            int fd = -1;
            for (bool first = true, more = true; more; first = false) {
                zmq_msg_t part;
                zmq_msg_init(&part);
                zmq_msg_recv(&part, router_, 0);
                if (first) {
                    id.assign(static_cast<const char*>(zmq_msg_data(&part)), zmq_msg_size(&part));
                    fd = zmq_msg_get(&part, ZMQ_SRCFD);
                }
                more = zmq_msg_more(&part) != 0;
                zmq_msg_close(&part);
            }
            if (fd < 0 || !names_.first_message(routing_id))
                continue;
            drain_monitor(); // the message's own handshake event, at least, is queued by now
            names_.named(fd, id);
        }
    }

private:
    void* router_;
    void* monitor_;
    namer names_;
    std::uint64_t events_ = 0; // monitor events applied so far
};

int run_server(const arguments& args)
{
    const int interval = static_cast<int>(args.number("--interval-ms", 100));
    const int misses = static_cast<int>(args.number("--misses", 3));
    const int io_threads = static_cast<int>(args.number("--io-threads", 2));
    void* ctx = zmq_ctx_new();
    // Set before the first socket, or libzmq keeps its default of one.
    check(zmq_ctx_set(ctx, ZMQ_IO_THREADS, io_threads), "ZMQ_IO_THREADS");
    check(zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, 64), "ZMQ_MAX_SOCKETS");
    void* router = zmq_socket(ctx, ZMQ_ROUTER);
    // zmq_setsockopt(3): a PING every HEARTBEAT_IVL; the connection is
    // dropped if nothing at all arrives within HEARTBEAT_TIMEOUT of a PING
    // (the PONG is enough, so is any message). A frozen peer is dropped
    // N x I after the first PING it leaves unanswered, i.e. between N x I
    // and (N + 1) x I after it stopped.
    set_int(router, ZMQ_HEARTBEAT_IVL, interval, "ZMQ_HEARTBEAT_IVL");
    set_int(router, ZMQ_HEARTBEAT_TIMEOUT, interval * misses, "ZMQ_HEARTBEAT_TIMEOUT");
    // No HEARTBEAT_TTL. It would travel in our PINGs and make each client
    // drop the connection when no PING came for that long: the clients'
    // view of the server, which the harness does not measure. Its price
    // falls on the clients: every PING re-arms a timer there, and libzmq
    // 4.3 cancels a timer by a linear scan of its I/O thread's timers
    // (poller_base.cpp: "O(n). We assume it is rarely used"). In trial runs
    // here (2,000 connections in one client process, I = 100 ms, a shared
    // 2-core machine) the server logged thousands of disconnects with it
    // and none to a few dozen without. (The server pays the same scan for
    // its own timeout timer on every PONG; that cost is ZeroMQ's and is
    // measured.)
    set_int(router, ZMQ_BACKLOG, 4096, "ZMQ_BACKLOG");
    const std::string endpoint = "tcp://127.0.0.1:" + args.text("--port", "*");
    if (zmq_bind(router, endpoint.c_str()) != 0) {
        std::fprintf(stderr, "bind: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    char last[256];
    std::size_t size = sizeof last;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, last, &size);
    check(zmq_socket_monitor(router, "inproc://monitor", ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED),
          "zmq_socket_monitor");
    void* monitor = zmq_socket(ctx, ZMQ_PAIR);
    // libzmq raises monitor events with a blocking send from the I/O
    // thread: a full monitor pipe would stall that thread (and every
    // connection's heartbeats on it) until we read. An inproc pipe's limit
    // is the sum of both ends', or none if either end is 0: 0 here, set
    // before connecting, so the pipe never fills.
    set_int(monitor, ZMQ_RCVHWM, 0, "ZMQ_RCVHWM");
    check(zmq_connect(monitor, "inproc://monitor"), "connect monitor");
    std::fprintf(stderr, "zmq_peer server: libzmq %d.%d.%d, %d I/O threads, PING every %d ms, timeout %d ms\n",
                 ZMQ_VERSION_MAJOR, ZMQ_VERSION_MINOR, ZMQ_VERSION_PATCH, io_threads, interval, interval * misses);
    std::printf("ready %s\n", std::strrchr(last, ':') + 1);

    server s(router, monitor);
    const long stats_ms = args.number("--stats-ms", 0);
    using clock = std::chrono::steady_clock;
    auto next_stats = clock::now() + std::chrono::milliseconds(stats_ms);
    zmq_pollitem_t items[] = {{monitor, 0, ZMQ_POLLIN, 0}, {router, 0, ZMQ_POLLIN, 0}};
    for (;;) {
        // The timeout only wakes us for the stats line: zmq_poll returns as
        // soon as either socket has something (it checks ZMQ_EVENTS before
        // it sleeps, so nothing already queued waits for the timeout), and
        // the loop then drains both. Measured here: kill -9 of a client ->
        // its offline line printed, 0.8-1.8 ms, with this timeout at 1 s. A
        // short fixed timeout would add nothing to that but idle wake-ups,
        // and those cost 0.006-0.008 CPU-s/s at 10 ms on this machine, which
        // the harness would charge to ZeroMQ.
        long wait_ms = 1000;
        if (stats_ms > 0) {
            const auto due = std::chrono::duration_cast<std::chrono::milliseconds>(next_stats - clock::now()).count();
            wait_ms = std::max(0L, std::min<long>(stats_ms, static_cast<long>(due) + 1));
        }
        if (zmq_poll(items, 2, wait_ms) < 0 && zmq_errno() != EINTR) {
            std::fprintf(stderr, "zmq_poll: %s\n", zmq_strerror(zmq_errno()));
            return 1;
        }
        s.drain_monitor();
        s.drain_router();
        if (stats_ms > 0 && clock::now() >= next_stats) {
            std::printf("stats 0 %lld\n", now_ns()); // ZMTP PINGs are not counted by libzmq
            next_stats += std::chrono::milliseconds(stats_ms);
        }
    }
}

int run_clients(const arguments& args)
{
    const long count = args.number("--count", 1);
    const std::string base = args.text("--id", "client");
    // Two I/O threads, as the server: the PONGs are the clients' whole
    // work, and in trial runs here one thread answering 2,000 connections at
    // I = 100 ms, on a shared machine, fell behind often enough for the
    // server to time out healthy connections by the hundred.
    const int io_threads = static_cast<int>(args.number("--io-threads", 2));
    void* ctx = zmq_ctx_new();
    check(zmq_ctx_set(ctx, ZMQ_IO_THREADS, io_threads), "ZMQ_IO_THREADS");
    check(zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, static_cast<int>(count) + 64), "ZMQ_MAX_SOCKETS");
    const std::string endpoint = "tcp://127.0.0.1:" + args.text("--port", "");
    // No heartbeat options here: the server PINGs and libzmq answers each
    // PING with a PONG whatever this socket's options are. HEARTBEAT_IVL
    // here would add PINGs of our own (and a timeout timer per connection)
    // that the server does not need to detect us, and HEARTBEAT_TTL is,
    // per zmq_setsockopt(3), of no effect without HEARTBEAT_IVL: it is the
    // pinging side that sets it, for the other side to obey.
    // `--interval-ms` and `--misses` are accepted and ignored.
    std::vector<void*> sockets;
    for (long i = 0; i < count; ++i) {
        void* dealer = zmq_socket(ctx, ZMQ_DEALER);
        if (!dealer) {
            std::fprintf(stderr, "socket %ld: %s\n", i, zmq_strerror(zmq_errno()));
            return 1;
        }
        // Queue nothing until the connection is complete, so that being
        // writable (ZMQ_POLLOUT) means connected and handshaken: that is what
        // all-connected waits for.
        set_int(dealer, ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE");
        check(zmq_connect(dealer, endpoint.c_str()), "connect");
        sockets.push_back(dealer);
        if (i % 200 == 199)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // Each connection sends its id once, as soon as it is up; the server
    // names the connection from it.
    std::vector<std::size_t> waiting(sockets.size());
    for (std::size_t i = 0; i < waiting.size(); ++i)
        waiting[i] = i;
    std::vector<zmq_pollitem_t> items;
    while (!waiting.empty()) {
        items.clear();
        for (const auto i : waiting)
            items.push_back({sockets[i], 0, ZMQ_POLLOUT, 0});
        if (zmq_poll(items.data(), static_cast<int>(items.size()), 100) < 0 && zmq_errno() != EINTR) {
            std::fprintf(stderr, "zmq_poll: %s\n", zmq_strerror(zmq_errno()));
            return 1;
        }
        std::vector<std::size_t> still;
        for (std::size_t k = 0; k < items.size(); ++k) {
            const std::size_t i = waiting[k];
            const std::string id = count == 1 ? base : base + std::to_string(i);
            if (!(items[k].revents & ZMQ_POLLOUT) || zmq_send(sockets[i], id.data(), id.size(), ZMQ_DONTWAIT) < 0)
                still.push_back(i);
        }
        waiting.swap(still);
    }
    std::printf("all-connected %ld %lld\n", count, now_ns());
    for (;;)
        std::this_thread::sleep_for(std::chrono::seconds(60));
}

} // namespace

int main(int argc, char** argv)
{
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    if (argc >= 2 && std::strcmp(argv[1], "server") == 0)
        return run_server(arguments(argc, argv, 2));
    if (argc >= 2 && std::strcmp(argv[1], "clients") == 0)
        return run_clients(arguments(argc, argv, 2));
    std::fprintf(stderr, "usage: zmq_peer server|clients [--option value]...\n");
    return 2;
}
