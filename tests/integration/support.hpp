// Loopback test support: a watcher on its own io thread, an event recorder
// to wait on (with bounds, never plain sleeps), and a raw peer that speaks
// the wire protocol by hand.
#ifndef HEARTBEAT_TESTS_INTEGRATION_SUPPORT_HPP
#define HEARTBEAT_TESTS_INTEGRATION_SUPPORT_HPP

#include "../support/eventually.hpp"

#include <heartbeat/heartbeat.hpp>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace heartbeat_test {

namespace net = heartbeat::net;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct observed {
    std::string key;
    bool online;
    heartbeat::offline_reason reason;
    steady::time_point at;
};

class recorder {
public:
    void online(const std::string& k) { add({k, true, heartbeat::offline_reason::none, steady::now()}); }
    void offline(const std::string& k, heartbeat::offline_reason r) { add({k, false, r, steady::now()}); }

    void message(const std::string& k, std::string_view m)
    {
        std::lock_guard<std::mutex> lock(mu_);
        messages_.push_back(k + ":" + std::string(m));
        cv_.notify_all();
    }

    /// Waits (bounded) until `pred(events)` holds.
    template <class Pred>
    bool wait(Pred pred, steady::duration timeout = 5s)
    {
        std::unique_lock<std::mutex> lock(mu_);
        return cv_.wait_for(lock, timeout, [&] { return pred(events_); });
    }

    /// Waits for the n-th (1-based) event about `key` matching `online`.
    std::optional<observed> wait_for(const std::string& key, bool online, int nth = 1,
                                     steady::duration timeout = 5s)
    {
        std::optional<observed> found;
        wait(
            [&](const std::vector<observed>& evs) {
                int seen = 0;
                for (const auto& e : evs)
                    if (e.key == key && e.online == online && ++seen == nth) {
                        found = e;
                        return true;
                    }
                return false;
            },
            timeout);
        return found;
    }

    bool wait_messages(std::size_t n, steady::duration timeout = 5s)
    {
        std::unique_lock<std::mutex> lock(mu_);
        return cv_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
    }

    std::vector<observed> events() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return events_;
    }

    std::vector<std::string> messages() const
    {
        std::lock_guard<std::mutex> lock(mu_);
        return messages_;
    }

    std::vector<observed> about(const std::string& key) const
    {
        std::vector<observed> out;
        for (const auto& e : events())
            if (e.key == key)
                out.push_back(e);
        return out;
    }

private:
    void add(observed e)
    {
        std::lock_guard<std::mutex> lock(mu_);
        events_.push_back(std::move(e));
        cv_.notify_all();
    }

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<observed> events_;
    std::vector<std::string> messages_;
};

using watcher_type = heartbeat::watcher<tcp::socket>;
using pulse_type = heartbeat::pulse<tcp::socket>;

inline watcher_type::options fast_watcher_options(std::chrono::milliseconds interval = 50ms, unsigned misses = 3)
{
    watcher_type::options o;
    o.detection.interval = interval;
    o.detection.misses = misses;
    o.detection.min_interval = 10ms;
    o.detection.max_interval = 2s;
    o.hello_timeout = 500ms;
    return o;
}

/// A watcher accepting on 127.0.0.1, its io_context on a thread of its own.
class server {
public:
    explicit server(const watcher_type::options& opts = fast_watcher_options(), unsigned short port = 0,
                    int threads = 1)
        : work_(net::make_work_guard(io_)), watcher_(io_, opts), acceptor_(io_)
    {
        const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), port);
        acceptor_.open(ep.protocol());
        acceptor_.set_option(tcp::acceptor::reuse_address(true));
        acceptor_.bind(ep);
        acceptor_.listen();
        watcher_.on_online([this](const std::string& k) { rec.online(k); });
        watcher_.on_offline([this](const std::string& k, heartbeat::offline_reason r) { rec.offline(k, r); });
        watcher_.on_message([this](const std::string& k, std::string_view m) { rec.message(k, m); });
        watcher_.accept_from(acceptor_);
        for (int i = 0; i < threads; ++i)
            threads_.emplace_back([this] { io_.run(); });
    }

    ~server() { shut_down(); }

    /// Stops the watcher and closes the listening socket; joins the threads.
    void shut_down()
    {
        if (threads_.empty())
            return;
        watcher_.stop();
        std::promise<void> closed;
        net::post(watcher_.get_executor(), [&] {
            heartbeat::error_code ignored;
            acceptor_.close(ignored);
            closed.set_value();
        });
        closed.get_future().wait_for(5s);
        // Let the goodbyes go out: sessions count as gone once flushed and
        // closed. Stopping the io_context sooner would cut them off.
        eventually([&] { return watcher_.session_count() == 0; });
        work_.reset();
        io_.stop();
        for (auto& t : threads_)
            t.join();
        threads_.clear();
    }

    tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }
    net::io_context& io() { return io_; }
    watcher_type& watcher() { return watcher_; }

    recorder rec;

private:
    net::io_context io_;
    net::executor_work_guard<net::io_context::executor_type> work_;
    watcher_type watcher_;
    tcp::acceptor acceptor_;
    std::vector<std::thread> threads_;
};

/// Turns a use_future result into the error code it carries.
inline heartbeat::error_code outcome(std::future<void>& f, steady::duration timeout = 5s)
{
    if (f.wait_for(timeout) != std::future_status::ready)
        return net::error::timed_out;
    try {
        f.get();
        return {};
    }
    catch (const heartbeat::system_error& e) {
        return e.code();
    }
}

/// The error code a completion delivered through a promise. (Sessions
/// completed with an error use this rather than use_future: a future that
/// rethrows across threads trips ThreadSanitizer inside an uninstrumented
/// libstdc++.)
inline heartbeat::error_code outcome(std::future<heartbeat::error_code>& f, steady::duration timeout = 5s)
{
    if (f.wait_for(timeout) != std::future_status::ready)
        return net::error::timed_out;
    return f.get();
}

/// A pulse connected to `srv`, running on the server's io_context.
class client {
public:
    /// A client whose pulse the test makes itself.
    client() = default;

    client(server& srv, const std::string& id, std::chrono::milliseconds interval = 50ms,
           std::string credential = {}, unsigned misses = 3)
        : client(srv, options(id, interval, std::move(credential), misses))
    {
    }

    client(server& srv, const pulse_type::options& o)
    {
        tcp::socket s(srv.io());
        s.connect(srv.endpoint());
        p = std::make_unique<pulse_type>(std::move(s), o);
    }

    static pulse_type::options options(const std::string& id, std::chrono::milliseconds interval = 50ms,
                                       std::string credential = {}, unsigned misses = 3)
    {
        pulse_type::options o;
        o.id = id;
        o.credential = std::move(credential);
        o.interval = interval;
        o.misses = misses;
        return o;
    }

    void run()
    {
        auto result = std::make_shared<std::promise<heartbeat::error_code>>();
        done = result->get_future();
        p->async_run([result](heartbeat::error_code ec) { result->set_value(ec); });
    }

    std::unique_ptr<pulse_type> p;
    std::future<heartbeat::error_code> done;
};

/// A peer that speaks the protocol by hand, with blocking calls on its own
/// io_context, for the cases a well-behaved pulse never produces.
class raw_peer {
public:
    raw_peer() : socket_(io_) {}

    void connect(const tcp::endpoint& ep) { socket_.connect(ep); }

    void send(const std::vector<std::uint8_t>& bytes) { net::write(socket_, net::buffer(bytes)); }

    void send_hello(const std::string& id, std::uint32_t interval_ms, const std::string& cred = {})
    {
        std::vector<std::uint8_t> f;
        heartbeat::wire::append_hello(f, {heartbeat::wire::protocol_version, interval_ms, id, cred});
        send(f);
    }

    void send_beat(std::uint32_t seq)
    {
        const auto f = heartbeat::wire::encode_beat(seq);
        send({f.begin(), f.end()});
    }

    struct frame {
        heartbeat::wire::frame_type type;
        std::vector<std::uint8_t> payload;
    };

    /// The next frame, or nothing on timeout or end of stream (then eof()
    /// tells which).
    std::optional<frame> read_frame(steady::duration timeout = 2s)
    {
        const auto deadline = steady::now() + timeout;
        while (pending_.empty() && !eof_ && steady::now() < deadline) {
            std::uint8_t buf[512];
            bool done = false;
            socket_.async_read_some(net::buffer(buf), [&](const heartbeat::error_code& ec, std::size_t n) {
                done = true;
                if (ec) {
                    eof_ = ec != net::error::operation_aborted;
                    return;
                }
                decoder_.feed(buf, n, [&](const heartbeat::wire::frame_view& f) {
                    pending_.push_back({f.type, {f.payload, f.payload + f.size}});
                });
            });
            io_.restart();
            io_.run_for(deadline - steady::now());
            if (!done) {
                socket_.cancel();
                io_.restart();
                io_.run();
            }
        }
        if (pending_.empty())
            return std::nullopt;
        frame f = std::move(pending_.front());
        pending_.erase(pending_.begin());
        return f;
    }

    bool eof() const { return eof_; }
    tcp::socket& socket() { return socket_; }

private:
    net::io_context io_;
    tcp::socket socket_;
    heartbeat::wire::decoder decoder_;
    std::vector<frame> pending_;
    bool eof_ = false;
};

inline std::chrono::milliseconds ms_between(steady::time_point a, steady::time_point b)
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(b - a);
}

} // namespace heartbeat_test

#endif
