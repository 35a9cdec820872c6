// heartbeat demo: a watcher and 100 clients over loopback TCP, in one
// program, for about 16 seconds.
//
//   t=0      100 clients connect and beat every 250 ms (offline after 3 missed)
//   t=4 s    10 clients hang: they stop beating, their sockets stay open
//   t=6 s    10 clients drop their connections
//   t=8 s    10 clients leave gracefully (GOODBYE)
//   t=10 s   5 of the dropped clients come back
//   t=16 s   summary
//
// The server prints each transition with its reason and how long it took
// to notice; on a terminal a live table of all peers (state, last seen,
// RTT) is refreshed every second.
//
//   demo            the script above
//   demo --fast     the same at a third of the time scale, no live table
#include <heartbeat/heartbeat.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace net = heartbeat::net;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;
using heartbeat::offline_reason;

namespace {

constexpr int client_count = 100;

std::string peer_name(int i)
{
    char buf[16];
    std::snprintf(buf, sizeof buf, "c-%03d", i);
    return buf;
}

long long millis(clock_type::duration d) { return std::chrono::duration_cast<ms>(d).count(); }

// A client that hangs: it speaks the protocol by hand so that it can stop
// mid-session with its socket open, as a stopped or deadlocked process does.
class hanging_client {
public:
    hanging_client(net::io_context& io, std::string id, ms interval)
        : socket_(io), timer_(io), id_(std::move(id)), interval_(interval)
    {
    }

    void start(const tcp::endpoint& server)
    {
        socket_.connect(server);
        auto hello = std::make_shared<std::vector<std::uint8_t>>();
        heartbeat::wire::append_hello(*hello, {heartbeat::wire::protocol_version,
                                               static_cast<std::uint32_t>(interval_.count()), id_, {}});
        net::async_write(socket_, net::buffer(*hello), [hello](heartbeat::error_code, std::size_t) {});
        read();
        beat();
    }

    void hang()
    {
        hung_ = true;
        timer_.cancel();
    }

    void close()
    {
        timer_.cancel();
        heartbeat::error_code ignored;
        socket_.close(ignored);
    }

private:
    void beat()
    {
        timer_.expires_after(interval_);
        timer_.async_wait([this](heartbeat::error_code ec) {
            if (ec || hung_)
                return;
            beat_frame_ = heartbeat::wire::encode_beat(++seq_);
            net::async_write(socket_, net::buffer(beat_frame_), [](heartbeat::error_code, std::size_t) {});
            beat();
        });
    }

    void read()
    {
        socket_.async_read_some(net::buffer(buffer_), [this](heartbeat::error_code ec, std::size_t) {
            if (!ec && !hung_)  // a hung process reads nothing either
                read();
        });
    }

    tcp::socket socket_;
    net::steady_timer timer_;
    std::string id_;
    ms interval_;
    std::uint32_t seq_ = 0;
    heartbeat::wire::beat_frame beat_frame_{};
    std::array<std::uint8_t, 256> buffer_{};
    bool hung_ = false;
};

struct peer_view {
    std::string state = "-";
    std::string note;
    clock_type::time_point since{};
};

} // namespace

int main(int argc, char** argv)
{
    const bool fast = argc > 1 && std::strcmp(argv[1], "--fast") == 0;
    const bool live_table = !fast && ::isatty(STDOUT_FILENO);
    const double scale = fast ? 1.0 / 3 : 1.0;
    auto at = [&](double seconds) { return ms(static_cast<long long>(seconds * 1000 * scale)); };
    const ms interval = at(0.25);
    const unsigned misses = 3;

    net::io_context io;
    using watcher_type = heartbeat::watcher<tcp::socket>;
    watcher_type::options opts;
    opts.detection.interval = interval;
    opts.detection.misses = misses;
    opts.detection.min_interval = ms(10);
    watcher_type server(io, opts);
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    server.accept_from(acceptor);
    const auto endpoint = acceptor.local_endpoint();

    const auto start = clock_type::now();
    std::map<std::string, peer_view> peers;
    std::map<std::string, clock_type::time_point> acted;  // when the script touched a peer
    std::map<std::string, std::vector<long long>> took;   // detection times by reason
    std::vector<std::string> recent;  // the last events, shown under the live table
    auto log_line = [&](const std::string& line) {
        if (!live_table) {
            std::printf("%s\n", line.c_str());
            return;
        }
        recent.push_back(line);
        if (recent.size() > 8)
            recent.erase(recent.begin());
    };
    auto format = [](auto... args) {
        char buf[256];
        std::snprintf(buf, sizeof buf, args...);
        return std::string(buf);
    };
    bool finishing = false;  // the closing stop is not part of the story
    std::size_t online_at_end = 0;
    int online_events = 0;
    int offline_events = 0;

    server.on_online([&](const std::string& id) {
        ++online_events;
        const bool back = peers[id].state == "offline";
        peers[id] = {"online", "", clock_type::now()};
        if (back || !live_table)
            log_line(format("%6lld ms  %s online%s", millis(clock_type::now() - start), id.c_str(),
                            back ? " again" : ""));
    });
    server.on_offline([&](const std::string& id, offline_reason reason) {
        if (finishing)
            return;
        ++offline_events;
        const auto now = clock_type::now();
        const std::string why(heartbeat::to_string(reason));
        // Measured from the moment the script acted on the peer.
        long long after = -1;
        if (auto it = acted.find(id); it != acted.end())
            after = millis(now - it->second);
        took[why].push_back(after);
        peers[id] = {"offline", why, now};
        log_line(format("%6lld ms  %s offline (%s), noticed %lld ms after it %s", millis(now - start), id.c_str(),
                        why.c_str(), after,
                        reason == offline_reason::timeout ? "hung"
                        : reason == offline_reason::left  ? "left"
                                                          : "dropped"));
    });

    std::printf("heartbeat demo: %d clients, beats every %lld ms, offline after %u missed (%lld ms)\n\n",
                client_count, static_cast<long long>(interval.count()), misses,
                static_cast<long long>((interval * misses).count()));

    // Clients 0-9 hang, 10-19 drop (15-19 come back), 20-29 leave, the rest
    // stay.
    std::vector<std::unique_ptr<hanging_client>> hanging;
    std::vector<std::unique_ptr<heartbeat::pulse<tcp::socket>>> pulses(client_count);
    auto connect_pulse = [&](int i) {
        tcp::socket s(io);
        s.connect(endpoint);
        heartbeat::pulse<tcp::socket>::options po;
        po.id = peer_name(i);
        po.interval = interval;
        pulses[i] = std::make_unique<heartbeat::pulse<tcp::socket>>(std::move(s), po);
        pulses[i]->async_run([](heartbeat::error_code) {});
    };
    for (int i = 0; i < client_count; ++i) {
        if (i < 10) {
            hanging.push_back(std::make_unique<hanging_client>(io, peer_name(i), interval));
            hanging.back()->start(endpoint);
        }
        else {
            connect_pulse(i);
        }
    }

    std::vector<std::unique_ptr<net::steady_timer>> timers;
    auto schedule = [&](ms when, auto action) {
        auto& t = *timers.emplace_back(std::make_unique<net::steady_timer>(io));
        t.expires_at(start + when);
        t.async_wait([action](heartbeat::error_code ec) mutable {
            if (!ec)
                action();
        });
    };
    auto note = [&](const char* what) {
        log_line(format("%6lld ms  --- %s", millis(clock_type::now() - start), what));
    };
    schedule(at(4), [&] {
        note("10 clients hang (sockets stay open)");
        for (int i = 0; i < 10; ++i) {
            hanging[i]->hang();
            acted[peer_name(i)] = clock_type::now();  // their last beat is at most one interval before
        }
    });
    schedule(at(6), [&] {
        note("10 clients drop their connections");
        for (int i = 10; i < 20; ++i) {
            acted[peer_name(i)] = clock_type::now();
            pulses[i]->stop();
        }
    });
    schedule(at(8), [&] {
        note("10 clients leave with GOODBYE");
        for (int i = 20; i < 30; ++i) {
            acted[peer_name(i)] = clock_type::now();
            pulses[i]->leave();
        }
    });
    schedule(at(10), [&] {
        note("5 dropped clients come back");
        for (int i = 15; i < 20; ++i)
            connect_pulse(i);
    });

    auto draw_table = [&] {
        std::printf("\x1b[H\x1b[2J");
        std::printf("heartbeat demo  t=%5.1f s  online %zu / %d   (Ctrl-C to quit)\n\n",
                    std::chrono::duration<double>(clock_type::now() - start).count(), server.online_count(),
                    client_count);
        for (int row = 0; row < client_count / 4; ++row) {
            for (int col = 0; col < 4; ++col) {
                const std::string id = peer_name(col * (client_count / 4) + row);
                const auto info = server.info(id);
                const auto rtt = server.rtt(id);
                const peer_view& v = peers[id];
                char seen[16] = "    -";
                if (info)
                    std::snprintf(seen, sizeof seen, "%5lld", millis(clock_type::now() - info->last_seen));
                char rtt_s[16] = "    -";
                if (rtt && info)
                    std::snprintf(rtt_s, sizeof rtt_s, "%5lld", static_cast<long long>(rtt->count()));
                std::printf("%s %-7s %-12s %s %s  ", id.c_str(), v.state.c_str(),
                            v.note.empty() ? "" : v.note.c_str(), seen, rtt_s);
            }
            std::printf("\n");
        }
        std::printf("\ncolumns: id, state, reason, last seen (ms ago), kernel RTT (us)\n\n");
        for (const auto& line : recent)
            std::printf("%s\n", line.c_str());
        std::fflush(stdout);
    };
    net::steady_timer refresh(io);
    std::function<void()> tick = [&] {
        if (live_table)
            draw_table();
        refresh.expires_after(std::chrono::seconds(1));
        refresh.async_wait([&](heartbeat::error_code ec) {
            if (!ec)
                tick();
        });
    };
    if (live_table)
        tick();

    schedule(at(16), [&] {
        finishing = true;
        online_at_end = server.online_count();
        refresh.cancel();
        for (auto& h : hanging)
            h->close();
        for (auto& p : pulses)
            if (p)
                p->stop();
        server.stop();
        acceptor.close();
        io.stop();
    });
    io.run();

    std::printf("\nsummary after %.1f s\n", std::chrono::duration<double>(clock_type::now() - start).count());
    std::printf("  online events %d, offline events %d, online at the end %zu\n", online_events, offline_events,
                online_at_end);
    for (auto& [why, times] : took) {
        std::sort(times.begin(), times.end());
        std::printf("  %-13s %2zu peers, noticed after %lld / %lld / %lld ms (min / median / max)\n", why.c_str(),
                    times.size(), times.front(), times[times.size() / 2], times.back());
    }
    std::printf("  a hung peer is due %lld ms after its last beat, and it hung up to one interval (%lld ms)\n"
                "  after that beat: expect timeouts %lld to %lld ms after the hang, plus scheduling\n",
                static_cast<long long>((interval * misses).count()), static_cast<long long>(interval.count()),
                static_cast<long long>((interval * (misses - 1)).count()),
                static_cast<long long>((interval * misses).count()));

    const bool ok = took["timeout"].size() == 10 && took["disconnected"].size() == 10 && took["left"].size() == 10
                    && online_events == client_count + 5 && online_at_end == client_count - 25;
    std::printf("%s\n", ok ? "demo finished as scripted" : "demo did NOT go as scripted");
    return ok ? 0 : 1;
}
