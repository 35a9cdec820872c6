// The floor: the least a TCP heartbeat server can cost, for the load
// harness to measure the watcher against (`peer server --kind floor`).
//
// One thread, one epoll set (level-triggered), non-blocking sockets, one
// recv and one send per beat, the last-seen times in a table indexed by
// descriptor, and a sweep only when the earliest deadline is due (the
// epoll timeout is the time to it). It speaks just enough of the protocol
// (HELLO -> WELCOME version 1, BEAT -> ECHO) for the same clients to drive
// it; it checks nothing the watcher checks (no authentication, no rate
// limit, no bound on the hello time, no duplicate ids, no send queue, no
// records, no RTT). So it is not a rival a user could pick, only the cost
// of the system calls and the bookkeeping no server can avoid.
//
// `--batch-us B` (0: off) is the floor with batched wake-ups: at most one
// epoll return per B microseconds, so each return finds more sockets ready.
#ifndef HEARTBEAT_TESTS_FAULTS_FLOOR_SERVER_HPP
#define HEARTBEAT_TESTS_FAULTS_FLOOR_SERVER_HPP

#include <heartbeat/core/events.hpp>
#include <heartbeat/wire/decoder.hpp>
#include <heartbeat/wire/frame.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace heartbeat_test {

class floor_server {
public:
    using steady = std::chrono::steady_clock;

    /// Prints one line per event (`online`, `offline`, `stats`), as the
    /// other servers of tests/faults/peer.cpp do.
    using offline_printer = std::function<void(const std::string&, heartbeat::offline_reason, long long, long long)>;

    floor_server(std::chrono::milliseconds interval, unsigned misses, std::chrono::microseconds batch,
                 offline_printer print_offline)
        : interval_(interval), timeout_(interval * misses), misses_(misses), batch_(batch),
          print_offline_(std::move(print_offline))
    {
    }

    int run(const std::string& bind, unsigned short port, std::chrono::milliseconds stats_every)
    {
        const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
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
        epoll_ = ::epoll_create1(0);
        add(listener);
        std::printf("ready %u\n", static_cast<unsigned>(ntohs(addr.sin_port)));

        auto next_stats = steady::now() + stats_every;
        auto next_sweep = steady::time_point::max();
        epoll_event ready[256];
        for (;;) {
            const auto now = steady::now();
            auto wake = next_sweep;
            if (stats_every.count() > 0)
                wake = std::min(wake, next_stats);
            int timeout_ms = -1;
            if (wake != steady::time_point::max())
                timeout_ms = wake <= now ? 0
                                         : static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(wake - now).count());
            const int n = ::epoll_wait(epoll_, ready, 256, timeout_ms);
            const auto at = steady::now();
            for (int i = 0; i < n; ++i) {
                const int fd = ready[i].data.fd;
                if (fd == listener)
                    accept_all(listener, at, next_sweep);
                else
                    serve(fd, at, next_sweep);
            }
            if (at >= next_sweep)
                next_sweep = sweep(at);
            if (stats_every.count() > 0 && at >= next_stats) {
                std::printf("stats %llu %lld\n", static_cast<unsigned long long>(frames_), ns(at));
                next_stats += stats_every;
            }
            if (batch_.count() > 0) {
                // Let readiness pile up: the next return carries all of it.
                const auto spent = steady::now() - at;
                if (spent < batch_)
                    std::this_thread::sleep_for(batch_ - spent);
            }
        }
    }

private:
    struct peer {
        steady::time_point last_seen{};
        bool open = false;
        bool online = false;
        std::string id;
        heartbeat::wire::decoder decoder{heartbeat::wire::default_max_payload};
    };

    static long long ns(steady::time_point t)
    {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    }

    void add(int fd)
    {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    }

    peer& slot(int fd)
    {
        const auto i = static_cast<std::size_t>(fd);
        if (i >= peers_.size())
            peers_.resize(i + 1);
        if (!peers_[i])
            peers_[i] = std::make_unique<peer>();
        return *peers_[i];
    }

    void accept_all(int listener, steady::time_point, steady::time_point&)
    {
        for (;;) {
            const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
            if (fd < 0)
                return;
            const int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto& p = slot(fd);
            p = peer{};
            p.open = true;
            add(fd);
        }
    }

    void serve(int fd, steady::time_point at, steady::time_point& next_sweep)
    {
        namespace wire = heartbeat::wire;
        auto& p = slot(fd);
        std::uint8_t buf[512];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return drop(fd, p, at);
        if (n < 0)
            return;
        bool bad = false;
        const auto st = p.decoder.feed(buf, static_cast<std::size_t>(n), [&](const wire::frame_view& f) {
            ++frames_;
            if (f.type == wire::frame_type::hello) {
                wire::hello h;
                if (wire::parse_hello(f, h) != wire::decode_status::ok) {
                    bad = true;
                    return;
                }
                p.id.assign(h.id.begin(), h.id.end());
                p.online = true;
                p.last_seen = at;
                next_sweep = std::min(next_sweep, at + timeout_);
                std::printf("online %s %lld\n", p.id.c_str(), ns(at));
                std::vector<std::uint8_t> welcome;
                wire::append_welcome(welcome, {wire::protocol_version, static_cast<std::uint8_t>(misses_),
                                               static_cast<std::uint32_t>(interval_.count())});
                ::send(fd, welcome.data(), welcome.size(), MSG_NOSIGNAL);
            }
            else if (f.type == wire::frame_type::beat && !p.id.empty()) {
                std::uint32_t seq = 0;
                wire::parse_sequence(f, seq);
                if (!p.online) {
                    p.online = true;
                    std::printf("online %s %lld\n", p.id.c_str(), ns(at));
                    next_sweep = std::min(next_sweep, at + timeout_);
                }
                p.last_seen = at;
                const auto echo = wire::encode_echo(seq);
                ::send(fd, echo.data(), echo.size(), MSG_NOSIGNAL);
            }
        });
        if (bad || st != wire::decode_status::ok)
            drop(fd, p, at);
    }

    void drop(int fd, peer& p, steady::time_point at)
    {
        if (p.online)
            print_offline_(p.id, heartbeat::offline_reason::disconnected, ns(at), ns(p.last_seen));
        ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        p = peer{};
    }

    // Declares the overdue offline and returns when the next one falls due.
    steady::time_point sweep(steady::time_point now)
    {
        auto next = steady::time_point::max();
        for (auto& slot : peers_) {
            if (!slot || !slot->online)
                continue;
            const auto due = slot->last_seen + timeout_;
            if (due <= now) {
                slot->online = false;
                print_offline_(slot->id, heartbeat::offline_reason::timeout, ns(now), ns(slot->last_seen));
            }
            else {
                next = std::min(next, due);
            }
        }
        return next;
    }

    std::chrono::milliseconds interval_;
    std::chrono::milliseconds timeout_;
    unsigned misses_;
    std::chrono::microseconds batch_;
    offline_printer print_offline_;
    int epoll_ = -1;
    std::vector<std::unique_ptr<peer>> peers_; // by descriptor
    std::uint64_t frames_ = 0;
};

} // namespace heartbeat_test

#endif
