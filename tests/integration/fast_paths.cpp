// The watcher's fast paths on a stream socket (writes at once, reads on
// readiness into one shared buffer, the single_threaded option, the
// io_context-typed heartbeat::tcp_socket) and run_batched, over loopback.
#include "support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

using namespace heartbeat_test;

namespace {

// A watcher of `Socket` on its own io thread, accepting on 127.0.0.1.
template <class Socket>
class fast_server {
public:
    using watcher_type = heartbeat::watcher<Socket>;

    explicit fast_server(bool single_threaded, std::size_t max_send_queue = 1024 * 1024)
        : work_(net::make_work_guard(io_)), watcher_(io_, make_options(single_threaded, max_send_queue)), acceptor_(io_)
    {
        const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), 0);
        acceptor_.open(ep.protocol());
        acceptor_.bind(ep);
        acceptor_.listen();
        watcher_.on_online([this](const std::string& k) { rec.online(k); });
        watcher_.on_offline([this](const std::string& k, heartbeat::offline_reason r) { rec.offline(k, r); });
        watcher_.on_message([this](const std::string& k, std::string_view m) {
            // single_threaded: a beat's read, and what it delivers, skip the strand.
            (watcher_.get_executor().running_in_this_thread() ? on_strand : off_strand)++;
            rec.message(k, m);
        });
        watcher_.accept_from(acceptor_);
        thread_ = std::thread([this] { io_.run(); });
    }

    ~fast_server()
    {
        watcher_.stop();
        net::post(io_, [this] {
            heartbeat::error_code ignored;
            acceptor_.close(ignored);
        });
        eventually([&] { return watcher_.session_count() == 0; });
        work_.reset();
        io_.stop();
        thread_.join();
    }

    tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }
    watcher_type& watcher() { return watcher_; }
    recorder rec;
    std::atomic<int> on_strand{0};
    std::atomic<int> off_strand{0};

private:
    static typename watcher_type::options make_options(bool single_threaded, std::size_t max_send_queue)
    {
        typename watcher_type::options o;
        o.detection.interval = 50ms;
        o.detection.misses = 3;
        o.detection.min_interval = 10ms;
        o.hello_timeout = 500ms;
        o.single_threaded = single_threaded;
        o.max_send_queue = max_send_queue;
        return o;
    }

    net::io_context io_;
    net::executor_work_guard<net::io_context::executor_type> work_;
    watcher_type watcher_;
    tcp::acceptor acceptor_;
    std::thread thread_;
};

std::vector<std::uint8_t> data_frame(const std::string& payload)
{
    std::vector<std::uint8_t> f(heartbeat::wire::header_size + payload.size());
    heartbeat::wire::encode_header(f.data(), heartbeat::wire::frame_type::data, payload.size());
    std::copy(payload.begin(), payload.end(), f.begin() + static_cast<std::ptrdiff_t>(heartbeat::wire::header_size));
    return f;
}

std::string pattern(std::size_t size, char seed)
{
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i)
        s[i] = static_cast<char>('a' + (static_cast<std::size_t>(seed) + i * 7) % 26);
    return s;
}

// A whole session: HELLO, BEATs echoed, a DATA larger than the shared read
// buffer delivered intact, two sessions at once, then a close.
template <class Socket>
void session_end_to_end(bool single_threaded)
{
    fast_server<Socket> srv(single_threaded);
    raw_peer a, b;
    a.connect(srv.endpoint());
    b.connect(srv.endpoint());
    a.send_hello("a", 50);
    b.send_hello("b", 50);
    for (auto* p : {&a, &b}) {
        const auto w = p->read_frame();
        REQUIRE(w);
        CHECK(w->type == heartbeat::wire::frame_type::welcome);
    }
    REQUIRE(srv.rec.wait_for("a", true));
    REQUIRE(srv.rec.wait_for("b", true));

    for (std::uint32_t seq = 1; seq <= 5; ++seq) {
        a.send_beat(seq);
        b.send_beat(100 + seq);
        const auto ea = a.read_frame();
        const auto eb = b.read_frame();
        REQUIRE(ea);
        REQUIRE(eb);
        CHECK(ea->type == heartbeat::wire::frame_type::echo);
        CHECK(eb->type == heartbeat::wire::frame_type::echo);
    }

    // 40 KiB: more than one read of the 16 KiB buffer, interleaved with the
    // other session's bytes.
    const auto big = pattern(40 * 1024, 'x');
    const auto small = pattern(100, 'y');
    a.send(data_frame(big));
    b.send(data_frame(small));
    CHECK(eventually([&] { return srv.rec.messages().size() == 2; }));
    const auto m = srv.rec.messages();
    CHECK(std::count(m.begin(), m.end(), "a:" + big) == 1);
    CHECK(std::count(m.begin(), m.end(), "b:" + small) == 1);
    CHECK(srv.on_strand == (single_threaded ? 0 : 2));
    CHECK(srv.off_strand == (single_threaded ? 2 : 0));

    a.socket().close();
    const auto off = srv.rec.wait_for("a", false);
    REQUIRE(off);
    CHECK(off->reason == heartbeat::offline_reason::disconnected);
    CHECK(srv.watcher().is_online("b"));
}

} // namespace

TEST_CASE("fast paths: tcp::socket, strand", "[fast_paths]")
{
    session_end_to_end<tcp::socket>(false);
}

TEST_CASE("fast paths: tcp::socket, single_threaded", "[fast_paths]")
{
    session_end_to_end<tcp::socket>(true);
}

TEST_CASE("fast paths: heartbeat::tcp_socket, strand", "[fast_paths]")
{
    session_end_to_end<heartbeat::tcp_socket>(false);
}

TEST_CASE("fast paths: heartbeat::tcp_socket, single_threaded", "[fast_paths]")
{
    session_end_to_end<heartbeat::tcp_socket>(true);
}

TEST_CASE("fast paths: writes the socket cannot take at once go out later, whole and in order", "[fast_paths]")
{
    // A peer that does not read while the watcher sends it 10 MiB (more
    // than loopback's socket buffers hold): the buffers fill, a write at
    // once goes out in part or not at all, the rest follows
    // asynchronously, and later messages queue behind it. What is checked
    // is that every byte arrives, in order, through that path.
    fast_server<heartbeat::tcp_socket> srv(true, 16 * 1024 * 1024);
    raw_peer p;
    p.connect(srv.endpoint());
    p.send_hello("slow-reader", 2000); // it sends no beat while it reads: a long deadline
    REQUIRE(srv.rec.wait_for("slow-reader", true));
    const std::size_t count = 160;
    for (std::size_t i = 0; i < count; ++i)
        REQUIRE(srv.watcher().send("slow-reader", pattern(64 * 1024 - 64, static_cast<char>(i))));

    std::size_t seen = 0;
    bool welcome = false;
    while (seen < count) {
        const auto f = p.read_frame(5s);
        REQUIRE(f);
        if (f->type == heartbeat::wire::frame_type::welcome) {
            welcome = true;
            continue;
        }
        if (f->type != heartbeat::wire::frame_type::data)
            continue;
        const std::string got(f->payload.begin(), f->payload.end());
        CHECK(got == pattern(64 * 1024 - 64, static_cast<char>(seen)));
        ++seen;
    }
    CHECK(welcome);
}

TEST_CASE("fast paths: run_batched runs every handler and returns when out of work or stopped", "[fast_paths]")
{
    SECTION("out of work")
    {
        net::io_context io;
        int chained = 0;
        std::function<void()> next = [&] {
            if (++chained < 50)
                net::post(io, next);
        };
        net::post(io, next);
        net::steady_timer timer(io, 5ms);
        bool fired = false;
        timer.async_wait([&](const heartbeat::error_code& ec) { fired = !ec; });
        const auto handlers = heartbeat::run_batched(io, {std::chrono::microseconds(500)});
        CHECK(chained == 50);
        CHECK(fired);
        CHECK(handlers == 51);
    }
    SECTION("stopped, with work outstanding")
    {
        net::io_context io;
        auto work = net::make_work_guard(io);
        net::steady_timer timer(io, 5ms);
        timer.async_wait([&](const heartbeat::error_code&) { io.stop(); });
        CHECK(heartbeat::run_batched(io, {std::chrono::microseconds(2000)}) == 1);
        CHECK(io.stopped());
    }
    SECTION("a zero period is io_context::run")
    {
        net::io_context io;
        int ran = 0;
        for (int i = 0; i < 3; ++i)
            net::post(io, [&] { ++ran; });
        CHECK(heartbeat::run_batched(io, {std::chrono::microseconds(0)}) == 3);
        CHECK(ran == 3);
    }
}
