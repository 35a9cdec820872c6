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
// RTT) is refreshed every second, laid out for the terminal's size.
//
//   demo               the script above
//   demo --fast        the same at a third of the time scale, no live table
//   demo --columns N   draw the live table for N columns even when stdout
//                      is not a terminal (the test checks the widths)
#include <heartbeat/heartbeat.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <sys/ioctl.h>
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

// The terminal's size: stdout's window if it is a terminal, else $COLUMNS
// and $LINES, else 80x24. A forced width (--columns) wins.
struct term_size {
    int columns = 80;
    int lines = 24;
};

int env_int(const char* name, int fallback)
{
    const char* v = std::getenv(name);
    if (v == nullptr)
        return fallback;
    const int n = std::atoi(v);
    return n > 0 ? n : fallback;
}

term_size query_size(int forced_columns)
{
    term_size t;
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        t.columns = ws.ws_col;
        t.lines = ws.ws_row > 0 ? ws.ws_row : t.lines;
    }
    else {
        t.columns = env_int("COLUMNS", t.columns);
        t.lines = env_int("LINES", t.lines);
    }
    if (forced_columns > 0)
        t.columns = forced_columns;
    return t;
}

// The table's word for a peer that went offline: the reason, shortened to
// fit a cell ("dropped" is what the script calls a disconnect).
const char* short_reason(const std::string& why)
{
    if (why == "disconnected")
        return "dropped";
    if (why == "protocol_error")
        return "error";
    return why.c_str();
}

} // namespace

int main(int argc, char** argv)
{
    bool fast = false;
    int forced_columns = 0;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--fast") == 0)
            fast = true;
        else if (std::strcmp(argv[i], "--columns") == 0 && i + 1 < argc)
            forced_columns = std::max(1, std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: demo [--fast] [--columns N]\n");
            return 2;
        }
    }
    const bool live_table = forced_columns > 0 || (!fast && ::isatty(STDOUT_FILENO));
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

    std::printf("heartbeat demo: %d clients beat every %lld ms, offline after %u missed (%lld ms)\n\n",
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

    // One cell per peer: id, state, RTT. The redraw runs every second, on
    // the same grid as the 250 ms beats (four beats a second), so a raw
    // "last seen" is always sampled just before a peer's next beat: every
    // healthy peer showed 234-251 ms, which reads as "almost one interval
    // late" when it is exactly on time. What a reader wants from that
    // column is whether beats are missing, so it says that instead: an
    // online peer heard from within 1.5 intervals (its next beat is not
    // overdue, with half an interval for scheduling jitter) is "online";
    // later than that it shows the beats it has missed ("1 missed", "2
    // missed"; at 3 it goes offline). An offline peer shows why and how
    // long ago it went offline.
    constexpr int cell_width = 23;  // "c-000 timeout 12s  1234"
    constexpr int cell_gap = 3;
    auto cell_text = [&](const std::string& id, bool* healthy) {
        const auto info = server.info(id);
        const auto rtt = server.rtt(id);
        const peer_view& v = peers[id];
        const auto now = clock_type::now();
        char state[32] = "-";
        *healthy = false;
        if (info && info->status == heartbeat::peer_status::online) {
            const auto age = now - info->last_seen;
            const auto missed = static_cast<long long>(age < interval + interval / 2 ? 0 : (age - interval / 2) / interval);
            *healthy = missed == 0;
            if (missed == 0)
                std::snprintf(state, sizeof state, "online");
            else
                std::snprintf(state, sizeof state, "%lld missed", missed);
        }
        else if (v.state == "offline") {
            const auto ago = static_cast<long long>(
                std::chrono::duration_cast<std::chrono::seconds>(now - v.since).count());
            std::snprintf(state, sizeof state, "%s %llds", short_reason(v.note), std::min(ago, 99LL));
        }
        char rtt_s[32] = "   -";
        if (rtt && info && info->status == heartbeat::peer_status::online) {
            const long long us = std::max(0LL, static_cast<long long>(rtt->count()));
            if (us > 9999)
                std::snprintf(rtt_s, sizeof rtt_s, "%3lldm", std::min(us / 1000, 999LL));
            else
                std::snprintf(rtt_s, sizeof rtt_s, "%4lld", us);
        }
        char cell[96];
        std::snprintf(cell, sizeof cell, "%s %-12.12s %4.4s", id.c_str(), state, rtt_s);
        return std::string(cell);
    };
    auto draw_table = [&] {
        const term_size term = query_size(forced_columns);
        const auto width = static_cast<std::size_t>(term.columns);
        // Every line is cut to the terminal's width: a wrapped line would
        // push the header off the top.
        auto put = [&](std::string line) {
            if (line.size() > width)
                line.resize(width);
            std::printf("%s\n", line.c_str());
        };
        std::printf("\x1b[H\x1b[2J");
        put(format("heartbeat demo  t=%5.1f s  online %zu / %d   (Ctrl-C to quit)",
                   std::chrono::duration<double>(clock_type::now() - start).count(), server.online_count(),
                   client_count));
        put("");

        // As many columns of peers as fit, at least one.
        const int columns = std::max(1, (term.columns + cell_gap) / (cell_width + cell_gap));
        std::vector<std::string> cells;
        std::vector<std::string> all;
        int healthy_count = 0;
        for (int i = 0; i < client_count; ++i) {
            bool healthy = false;
            all.push_back(cell_text(peer_name(i), &healthy));
            if (healthy)
                ++healthy_count;
            else
                cells.push_back(all.back());
        }
        // Lines besides the peers: header (2), legend (3) and one left
        // free for the cursor; then the recent events, at least 3 of them
        // when lines are short. If all peers do not fit, the healthy ones
        // are counted instead of listed; if the rest still do not fit, the
        // table is cut, with a note.
        const auto per_column = static_cast<std::size_t>(columns);
        auto rows_for = [&](std::size_t n) { return static_cast<int>((n + per_column - 1) / per_column); };
        const int fixed_lines = 6;
        const int min_recent = static_cast<int>(std::min<std::size_t>(recent.size(), 3));
        const int room = std::max(0, term.lines - fixed_lines - min_recent);
        const bool folded = healthy_count > 0 && rows_for(all.size()) > room;
        if (!folded)
            cells = std::move(all);
        const int rows = rows_for(cells.size());
        int rows_shown = rows;
        bool note = folded;
        if (rows_shown + (note ? 1 : 0) > room) {
            note = true;
            rows_shown = std::max(0, room - 1);
        }
        for (int row = 0; row < rows_shown; ++row) {
            std::string line;
            for (int col = 0; col < columns; ++col) {
                const auto k = static_cast<std::size_t>(col * rows + row);
                if (k >= cells.size())
                    break;
                if (col > 0)
                    line.append(static_cast<std::size_t>(cell_gap), ' ');
                line += cells[k];
            }
            put(line);
        }
        if (note && rows_shown == rows)
            put(format("+ %d peers online and on time, not listed (too few lines)", healthy_count));
        else if (note)
            put("+ more peers, not listed (too few lines)");
        const int recent_room = term.lines - fixed_lines - rows_shown - (note ? 1 : 0);
        const std::size_t recent_shown = std::min(recent.size(), static_cast<std::size_t>(std::max(0, recent_room)));
        put("");
        put("online: last beat on time; N missed: beats overdue (offline at 3);");
        put("offline: why, how long ago; last column: kernel RTT (us)");
        for (std::size_t k = recent.size() - recent_shown; k < recent.size(); ++k)
            put(recent[k]);
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
    std::printf("  a hung peer is due %lld ms after its last beat, and it hung up to one\n"
                "  interval (%lld ms) after that beat: expect timeouts %lld to %lld ms\n"
                "  after the hang, plus scheduling\n",
                static_cast<long long>((interval * misses).count()), static_cast<long long>(interval.count()),
                static_cast<long long>((interval * (misses - 1)).count()),
                static_cast<long long>((interval * misses).count()));

    const bool ok = took["timeout"].size() == 10 && took["disconnected"].size() == 10 && took["left"].size() == 10
                    && online_events == client_count + 5 && online_at_end == client_count - 25;
    std::printf("%s\n", ok ? "demo finished as scripted" : "demo did NOT go as scripted");
    return ok ? 0 : 1;
}
