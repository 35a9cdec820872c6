// The rival: the same load carried by ZeroMQ's built-in ZMTP heartbeats
// (ZMQ_HEARTBEAT_IVL / TIMEOUT / TTL), for the load harness. Speaks the
// harness's line protocol (see tests/faults/peer.cpp):
//
//   zmq_peer server  [--port P] [--interval-ms I] [--misses N] [--stats-ms S]
//   zmq_peer clients --port P [--id ID] [--count K] [--interval-ms I] [--misses N]
//
// A ROUTER socket accepts DEALER sockets; a socket monitor reports each
// accepted connection (online) and each disconnect (offline: a heartbeat
// timeout or a closed connection; ZeroMQ does not say which). The monitor
// names descriptors, not peers: each client sends its id once, and the
// server maps the message's source descriptor (ZMQ_SRCFD) to it. Last-seen
// times are unknown (ZMTP PINGs stay inside libzmq), printed as 0.
#include "../../tests/support/command_line.hpp"

#include <zmq.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

long long now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

using arguments = heartbeat_test::command_line;

void set_heartbeats(void* socket, int interval_ms, int misses)
{
    const int timeout = interval_ms * misses;
    zmq_setsockopt(socket, ZMQ_HEARTBEAT_IVL, &interval_ms, sizeof interval_ms);
    zmq_setsockopt(socket, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    zmq_setsockopt(socket, ZMQ_HEARTBEAT_TTL, &timeout, sizeof timeout);
}

int run_server(const arguments& args)
{
    const int interval = static_cast<int>(args.number("--interval-ms", 100));
    const int misses = static_cast<int>(args.number("--misses", 3));
    void* ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, 64);
    void* router = zmq_socket(ctx, ZMQ_ROUTER);
    set_heartbeats(router, interval, misses);
    const int backlog = 4096;
    zmq_setsockopt(router, ZMQ_BACKLOG, &backlog, sizeof backlog);
    const std::string endpoint = "tcp://127.0.0.1:" + args.text("--port", "*");
    if (zmq_bind(router, endpoint.c_str()) != 0) {
        std::fprintf(stderr, "bind: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    char last[256];
    std::size_t size = sizeof last;
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, last, &size);
    zmq_socket_monitor(router, "inproc://monitor", ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED);
    void* monitor = zmq_socket(ctx, ZMQ_PAIR);
    zmq_connect(monitor, "inproc://monitor");
    std::printf("ready %s\n", std::strrchr(last, ':') + 1);

    const long stats_ms = args.number("--stats-ms", 0);
    auto next_stats = std::chrono::steady_clock::now() + std::chrono::milliseconds(stats_ms);
    zmq_pollitem_t items[] = {{monitor, 0, ZMQ_POLLIN, 0}, {router, 0, ZMQ_POLLIN, 0}};
    std::map<int, std::string> names; // descriptor -> peer id
    for (;;) {
        zmq_poll(items, 2, 100);
        if (items[0].revents & ZMQ_POLLIN) {
            // Frame 1: u16 event, u32 value (the descriptor); frame 2: address.
            zmq_msg_t head, address;
            zmq_msg_init(&head);
            zmq_msg_recv(&head, monitor, 0);
            std::uint16_t event = 0;
            std::uint32_t value = 0;
            std::memcpy(&event, zmq_msg_data(&head), sizeof event);
            std::memcpy(&value, static_cast<char*>(zmq_msg_data(&head)) + 2, sizeof value);
            zmq_msg_close(&head);
            zmq_msg_init(&address);
            zmq_msg_recv(&address, monitor, 0);
            zmq_msg_close(&address);
            const int fd = static_cast<int>(value);
            const auto it = names.find(fd);
            const std::string name = it != names.end() ? it->second : "fd" + std::to_string(fd);
            if (event == ZMQ_EVENT_ACCEPTED) {
                std::printf("online fd%d %lld\n", fd, now_ns());
            }
            else {
                std::printf("offline %s timeout %lld 0\n", name.c_str(), now_ns());
                names.erase(fd);
            }
        }
        while (items[1].revents & ZMQ_POLLIN) {
            // [routing id][payload: the peer's id]
            zmq_msg_t routing, payload;
            zmq_msg_init(&routing);
            if (zmq_msg_recv(&routing, router, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&routing);
                break;
            }
            zmq_msg_init(&payload);
            zmq_msg_recv(&payload, router, 0);
            const int fd = zmq_msg_get(&payload, ZMQ_SRCFD);
            if (fd >= 0)
                names[fd].assign(static_cast<const char*>(zmq_msg_data(&payload)), zmq_msg_size(&payload));
            zmq_msg_close(&payload);
            zmq_msg_close(&routing);
        }
        if (stats_ms > 0 && std::chrono::steady_clock::now() >= next_stats) {
            std::printf("stats 0 %lld\n", now_ns()); // ZMTP PINGs are not counted by libzmq
            next_stats += std::chrono::milliseconds(stats_ms);
        }
    }
}

int run_clients(const arguments& args)
{
    const int interval = static_cast<int>(args.number("--interval-ms", 100));
    const int misses = static_cast<int>(args.number("--misses", 3));
    const long count = args.number("--count", 1);
    const std::string base = args.text("--id", "client");
    void* ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, static_cast<int>(count) + 64);
    const std::string endpoint = "tcp://127.0.0.1:" + args.text("--port", "");
    std::vector<void*> sockets;
    for (long i = 0; i < count; ++i) {
        void* dealer = zmq_socket(ctx, ZMQ_DEALER);
        if (!dealer) {
            std::fprintf(stderr, "socket %ld: %s\n", i, zmq_strerror(zmq_errno()));
            return 1;
        }
        set_heartbeats(dealer, interval, misses);
        const std::string id = count == 1 ? base : base + std::to_string(i);
        zmq_setsockopt(dealer, ZMQ_ROUTING_ID, id.data(), id.size());
        zmq_connect(dealer, endpoint.c_str());
        zmq_send(dealer, id.data(), id.size(), ZMQ_DONTWAIT); // queued until connected
        sockets.push_back(dealer);
        if (i % 200 == 199)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // ZeroMQ connects in the background; the harness counts the server's
    // accepted connections to know when all are in.
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
