// Soak: thousands of clients connect, beat, go silent, come back, leave
// and drop at random against one watcher for a bounded time. Afterwards:
// every peer's events alternate online/offline, the online set equals the
// model's, each welcome produced exactly one online event, and no session,
// file descriptor or memory has leaked.
//
//   heartbeat_soak [--clients 5000] [--seconds 20] [--seed 1] [--interval-ms 250]
//                  [--server-threads 2]
//
// The clients speak the wire protocol by hand (they must be able to go
// silent with the socket open, which a well-behaved pulse never does), on
// one io thread; the watcher runs on --server-threads. Exit status 0 means every check
// held; the report says what was measured.
#include "../integration/support.hpp"

#include <heartbeat/heartbeat.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace net = heartbeat::net;
namespace wire = heartbeat::wire;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool sanitized = true;
#else
constexpr bool sanitized = false;
#endif
#else
constexpr bool sanitized = false;
#endif

std::size_t open_fds()
{
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
        ++n;
    return n;
}

long rss_kib()
{
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0)
            return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
}

struct settings {
    int clients = 5000;
    int seconds = 20;
    unsigned seed = 1;
    std::chrono::milliseconds interval{250};
    int server_threads = 2;
};

/// One simulated client. All of its handlers run on the single client io
/// thread, so it needs no locking; the main thread only posts to it.
class actor : public std::enable_shared_from_this<actor> {
public:
    enum class state { idle, connecting, greeting, beating, silent, leaving };

    actor(net::io_context& io, tcp::endpoint server, std::string id, std::chrono::milliseconds interval,
          unsigned seed)
        : io_(io), server_(server), id_(std::move(id)), interval_(interval), beat_timer_(io),
          action_timer_(io), rng_(seed)
    {
    }

    void start() { schedule_action(); }

    /// Final phase: no more random actions; a silent actor drops its
    /// connection so the expected state is plain (beating = online).
    void settle()
    {
        settled_ = true;
        action_timer_.cancel();
        if (state_ == state::silent)
            drop();
    }

    void close_all()
    {
        settled_ = true;
        action_timer_.cancel();
        if (socket_)
            drop();
    }

    state current() const { return state_; }
    const std::string& id() const { return id_; }
    std::uint64_t welcomes() const { return welcomes_; }

private:
    void schedule_action()
    {
        if (settled_)
            return;
        std::uniform_int_distribution<int> delay_ms(500, 5000);
        action_timer_.expires_after(std::chrono::milliseconds(delay_ms(rng_)));
        action_timer_.async_wait([self = shared_from_this()](const heartbeat::error_code& ec) {
            if (!ec && !self->settled_)
                self->act();
        });
    }

    void act()
    {
        std::uniform_int_distribution<int> die(0, 99);
        const int roll = die(rng_);
        switch (state_) {
        case state::idle: connect(); break;
        case state::beating:
            if (roll < 40)
                state_ = state::silent;
            else if (roll < 70)
                leave();
            else
                drop();
            break;
        case state::silent:
            if (roll < 50) {
                // Back to beating; if the server already timed the session
                // out, the EOF it sent will say so.
                state_ = state::beating;
                send_beat();
            }
            else
                drop();
            break;
        default: break; // in transition: try again later
        }
        schedule_action();
    }

    void connect()
    {
        state_ = state::connecting;
        socket_ = std::make_unique<tcp::socket>(io_);
        decoder_.reset();
        socket_->async_connect(server_, [self = shared_from_this(), s = socket_.get()](const heartbeat::error_code& ec) {
            if (s != self->socket_.get())
                return;
            if (ec)
                return self->drop();
            self->state_ = state::greeting;
            std::vector<std::uint8_t> hello;
            wire::append_hello(hello, {wire::protocol_version, static_cast<std::uint32_t>(self->interval_.count()),
                                       self->id_, {}});
            self->write(std::move(hello));
            self->read();
        });
    }

    void read()
    {
        socket_->async_read_some(
            net::buffer(buf_), [self = shared_from_this(), s = socket_.get()](const heartbeat::error_code& ec, std::size_t n) {
                if (s != self->socket_.get())
                    return;
                if (ec)
                    return self->drop();
                self->decoder_.feed(self->buf_.data(), n, [&](const wire::frame_view& f) {
                    if (f.type == wire::frame_type::welcome && self->state_ == state::greeting) {
                        ++self->welcomes_;
                        self->state_ = state::beating;
                        self->arm_beat();
                    }
                });
                if (self->socket_.get() == s)
                    self->read();
            });
    }

    void arm_beat()
    {
        beat_timer_.expires_after(interval_);
        beat_timer_.async_wait([self = shared_from_this(), s = socket_.get()](const heartbeat::error_code& ec) {
            if (ec || s != self->socket_.get())
                return;
            if (self->state_ == state::beating)
                self->send_beat();
            if (self->state_ == state::beating || self->state_ == state::silent)
                self->arm_beat();
        });
    }

    void send_beat()
    {
        const auto f = wire::encode_beat(++seq_);
        write({f.begin(), f.end()});
    }

    void leave()
    {
        // GOODBYE, then half-close and wait for the server's EOF (a close
        // here could race a reset past the GOODBYE).
        state_ = state::leaving;
        const auto f = wire::encode_goodbye(wire::goodbye_reason::normal);
        write({f.begin(), f.end()}, true);
    }

    void write(std::vector<std::uint8_t> bytes, bool then_shutdown = false)
    {
        if (writing_) {
            if (then_shutdown) // a beat is in flight: queue the goodbye behind it
                pending_goodbye_ = std::move(bytes);
            return; // a beat can be skipped
        }
        writing_ = true;
        auto data = std::make_shared<std::vector<std::uint8_t>>(std::move(bytes));
        net::async_write(*socket_, net::buffer(*data),
                         [self = shared_from_this(), data, s = socket_.get(), then_shutdown](
                             const heartbeat::error_code& ec, std::size_t) {
                             if (s != self->socket_.get())
                                 return;
                             self->writing_ = false;
                             if (ec)
                                 return self->drop();
                             if (then_shutdown) {
                                 heartbeat::error_code ignored;
                                 self->socket_->shutdown(tcp::socket::shutdown_send, ignored);
                             }
                             else if (!self->pending_goodbye_.empty())
                                 self->write(std::exchange(self->pending_goodbye_, {}), true);
                         });
    }

    /// Closes the connection abruptly (or after the server's EOF).
    void drop()
    {
        beat_timer_.cancel();
        if (socket_) {
            heartbeat::error_code ignored;
            socket_->close(ignored);
            socket_.reset();
        }
        writing_ = false;
        pending_goodbye_.clear();
        state_ = state::idle;
    }

    net::io_context& io_;
    tcp::endpoint server_;
    std::string id_;
    std::chrono::milliseconds interval_;
    net::steady_timer beat_timer_;
    net::steady_timer action_timer_;
    std::mt19937 rng_;
    std::unique_ptr<tcp::socket> socket_;
    wire::decoder decoder_;
    std::array<std::uint8_t, 128> buf_{};
    std::vector<std::uint8_t> pending_goodbye_;
    std::uint32_t seq_ = 0;
    std::uint64_t welcomes_ = 0;
    bool writing_ = false;
    bool settled_ = false;
    state state_ = state::idle;
};

/// Per-peer event history as the watcher reported it.
class event_log {
public:
    void add(const std::string& id, bool online, heartbeat::offline_reason r)
    {
        std::lock_guard<std::mutex> lock(mu_);
        auto& h = history_[id];
        if (!h.empty() && h.back() == online)
            ++alternation_errors_;
        if (h.empty() && !online)
            ++alternation_errors_;
        h.push_back(online);
        ++(online ? onlines_ : offlines_);
        ++reasons_[static_cast<int>(r)];
    }

    template <class F>
    void with(F f) const
    {
        std::lock_guard<std::mutex> lock(mu_);
        f(history_, alternation_errors_, onlines_, offlines_, reasons_);
    }

private:
    mutable std::mutex mu_;
    std::map<std::string, std::vector<bool>> history_;
    std::uint64_t alternation_errors_ = 0, onlines_ = 0, offlines_ = 0;
    std::map<int, std::uint64_t> reasons_;
};

template <class F>
auto on(net::io_context& io, F f)
{
    std::promise<decltype(f())> p;
    auto result = p.get_future();
    net::post(io, [&] { p.set_value(f()); });
    return result.get();
}

int failures = 0;

void check(bool ok, const std::string& what)
{
    std::printf("%s %s\n", ok ? "  ok  " : "  FAIL", what.c_str());
    if (!ok)
        ++failures;
}

} // namespace

int main(int argc, char** argv)
{
    settings cfg;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i];
        const long v = std::strtol(argv[i + 1], nullptr, 10);
        if (k == "--clients") cfg.clients = static_cast<int>(v);
        else if (k == "--seconds") cfg.seconds = static_cast<int>(v);
        else if (k == "--seed") cfg.seed = static_cast<unsigned>(v);
        else if (k == "--interval-ms") cfg.interval = std::chrono::milliseconds(v);
        else if (k == "--server-threads") cfg.server_threads = static_cast<int>(v);
        else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            return 2;
        }
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    std::printf("soak: %d clients, %d s, interval %lld ms, seed %u, %d server threads%s\n", cfg.clients,
                cfg.seconds, static_cast<long long>(cfg.interval.count()), cfg.seed, cfg.server_threads,
                sanitized ? " (sanitized build)" : "");

    net::io_context server_io;
    auto server_work = net::make_work_guard(server_io);
    heartbeat::watcher<tcp::socket>::options wo;
    wo.detection.interval = cfg.interval;
    wo.detection.misses = 3;
    wo.detection.min_interval = 10ms;
    wo.hello_timeout = 2s;
    heartbeat::watcher<tcp::socket> watcher(server_io, wo);
    event_log log;
    watcher.on_online([&](const std::string& id) { log.add(id, true, heartbeat::offline_reason::none); });
    watcher.on_offline([&](const std::string& id, heartbeat::offline_reason r) { log.add(id, false, r); });
    tcp::acceptor acceptor(server_io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    acceptor.listen(4096);
    watcher.accept_from(acceptor);
    const auto endpoint = acceptor.local_endpoint();
    std::vector<std::thread> server_threads;
    for (int i = 0; i < cfg.server_threads; ++i)
        server_threads.emplace_back([&] { server_io.run(); });

    net::io_context client_io;
    auto client_work = net::make_work_guard(client_io);
    std::thread client_thread([&] { client_io.run(); });

    // The client io_context opens its reactor's descriptors on first use:
    // use it before counting, so the baseline includes them.
    net::steady_timer reactor_warmup(client_io);
    std::this_thread::sleep_for(50ms);
    const std::size_t fds_before = open_fds();

    std::vector<std::shared_ptr<actor>> actors;
    std::mt19937 seeder(cfg.seed);
    for (int i = 0; i < cfg.clients; ++i)
        actors.push_back(std::make_shared<actor>(client_io, endpoint, "soak-" + std::to_string(i), cfg.interval,
                                                 static_cast<unsigned>(seeder())));
    net::post(client_io, [&] {
        for (auto& a : actors)
            a->start();
    });

    // Run, sampling RSS once a second.
    std::vector<long> rss;
    std::size_t peak_online = 0;
    const auto start = steady::now();
    while (steady::now() - start < std::chrono::seconds(cfg.seconds)) {
        std::this_thread::sleep_for(1s);
        rss.push_back(rss_kib());
        peak_online = std::max(peak_online, watcher.online_count());
    }

    // Settle: no more random actions; wait until every silence has timed
    // out and every handshake finished.
    net::post(client_io, [&] {
        for (auto& a : actors)
            a->settle();
    });
    const auto settle_wait = 3 * cfg.interval + 2s;
    heartbeat_test::eventually([&] {
        return on(client_io, [&] {
            for (auto& a : actors)
                if (a->current() != actor::state::idle && a->current() != actor::state::beating)
                    return false;
            return true;
        });
    }, 10s);
    std::this_thread::sleep_for(settle_wait);

    const auto model = on(client_io, [&] {
        std::map<std::string, std::uint64_t> beating_welcomes;
        for (auto& a : actors)
            beating_welcomes[a->id()] = a->current() == actor::state::beating ? 1 : 0;
        return beating_welcomes;
    });
    const auto welcomes = on(client_io, [&] {
        std::map<std::string, std::uint64_t> w;
        for (auto& a : actors)
            w[a->id()] = a->welcomes();
        return w;
    });
    std::size_t expected_online = 0;
    for (const auto& [id, beating] : model)
        expected_online += beating;

    std::map<std::string, bool> server_online;
    for (const auto& p : watcher.snapshot())
        server_online[p.key] = p.status == heartbeat::peer_status::online;

    std::printf("after %d s: %zu of %d clients beating; watcher says %zu online (peak %zu)\n", cfg.seconds,
                expected_online, cfg.clients, watcher.online_count(), peak_online);
    std::size_t mismatches = 0;
    for (const auto& [id, beating] : model) {
        const auto it = server_online.find(id);
        const bool online = it != server_online.end() && it->second;
        if (online != (beating == 1)) {
            if (++mismatches <= 5)
                std::printf("  mismatch: %s is %s, the watcher says %s\n", id.c_str(),
                            beating ? "beating" : "idle", online ? "online" : "not online");
        }
    }
    check(mismatches == 0, "the watcher's online set equals the model's (" + std::to_string(mismatches) +
                               " mismatches)");
    check(watcher.online_count() == expected_online, "online_count() equals the model's");

    std::uint64_t total_welcomes = 0;
    for (const auto& [id, n] : welcomes)
        total_welcomes += n;
    log.with([&](const auto& history, std::uint64_t alternation_errors, std::uint64_t onlines,
                 std::uint64_t offlines, const auto& reasons) {
        std::printf("events: %llu online, %llu offline (", static_cast<unsigned long long>(onlines),
                    static_cast<unsigned long long>(offlines));
        for (const auto& [r, n] : reasons)
            std::printf(" %s=%llu", std::string(heartbeat::to_string(static_cast<heartbeat::offline_reason>(r))).c_str(),
                        static_cast<unsigned long long>(n));
        std::printf(" ); %llu welcomes\n", static_cast<unsigned long long>(total_welcomes));
        check(alternation_errors == 0, "each peer's events alternate online/offline, starting online");
        std::size_t per_peer_mismatch = 0, last_state_mismatch = 0;
        for (const auto& [id, w] : welcomes) {
            const auto it = history.find(id);
            const std::size_t ons = it == history.end() ? 0 : static_cast<std::size_t>(
                                                                  std::count(it->second.begin(), it->second.end(), true));
            per_peer_mismatch += ons != w;
            const bool last_online = it != history.end() && !it->second.empty() && it->second.back();
            last_state_mismatch += last_online != (model.at(id) == 1);
        }
        check(per_peer_mismatch == 0, "every welcome produced exactly one online event, per peer");
        check(last_state_mismatch == 0, "each peer's last event agrees with the model");
    });

    // Memory: after warm-up (the first third), RSS stays flat.
    if (rss.size() >= 6) {
        const std::size_t third = rss.size() / 3;
        const long warm = *std::max_element(rss.begin() + static_cast<long>(third), rss.begin() + static_cast<long>(2 * third));
        const long late = *std::max_element(rss.begin() + static_cast<long>(2 * third), rss.end());
        std::printf("RSS (KiB) after warm-up: middle third peak %ld, last third peak %ld\n", warm, late);
        if (!sanitized)
            check(late <= warm + warm / 10 + 2048, "RSS flat after warm-up (last third within 10% + 2 MiB of the middle third)");
    }

    // Everyone leaves: no session and no descriptor may remain.
    net::post(client_io, [&] {
        for (auto& a : actors)
            a->close_all();
    });
    const bool sessions_ended = heartbeat_test::eventually([&] { return watcher.session_count() == 0; }, 20s);
    check(sessions_ended, "every session ended after the clients closed (" +
                              std::to_string(watcher.session_count()) + " left)");
    check(heartbeat_test::eventually([&] { return watcher.online_count() == 0; }, 20s), "no peer online after the clients closed");
    client_work.reset();
    client_thread.join();
    actors.clear();
    const std::size_t fds_after = open_fds();
    std::printf("descriptors: %zu before, %zu after\n", fds_before, fds_after);
    check(fds_after == fds_before, "no file descriptor leaked");

    watcher.stop();
    heartbeat::error_code ignored;
    net::post(watcher.get_executor(), [&] { acceptor.close(ignored); }); // the watcher cancels it there
    server_work.reset();
    for (auto& t : server_threads)
        t.join();
    std::printf("soak: %s\n", failures == 0 ? "passed" : "FAILED");
    return failures == 0 ? 0 : 1;
}
