// The watcher's server controls over real loopback sockets: kick, the
// asynchronous authenticator and the context it attaches, session records,
// and sends that report back-pressure.
#include "support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace heartbeat_test;
using heartbeat::error;

namespace {

// What the authenticator attaches in these tests.
struct user {
    int id;
    std::vector<std::string> roles;
};

// Answers authenticators from threads of its own after a delay; joins them
// before the server (declared earlier) goes.
class answerer {
public:
    ~answerer()
    {
        for (auto& t : threads_)
            t.join();
    }

    void later(watcher_type::auth_handler done, heartbeat::auth_verdict v, steady::duration delay = 100ms)
    {
        std::lock_guard<std::mutex> lock(mu_);
        threads_.emplace_back([done = std::move(done), v = std::move(v), delay]() mutable {
            std::this_thread::sleep_for(delay);
            done(std::move(v));
        });
    }

private:
    std::mutex mu_;
    std::vector<std::thread> threads_;
};

// A completion delivered through a promise (see outcome() in support.hpp
// for why not use_future), bounded.
template <class Result>
struct completion {
    std::shared_ptr<std::promise<std::pair<heartbeat::error_code, Result>>> promise =
        std::make_shared<std::promise<std::pair<heartbeat::error_code, Result>>>();
    std::future<std::pair<heartbeat::error_code, Result>> future = promise->get_future();

    auto handler()
    {
        return [p = promise](heartbeat::error_code ec, Result r) { p->set_value({ec, r}); };
    }
    std::pair<heartbeat::error_code, Result> get()
    {
        REQUIRE(future.wait_for(5s) == std::future_status::ready);
        return future.get();
    }
};

std::pair<heartbeat::error_code, heartbeat::send_result> send(watcher_type& w, const std::string& id,
                                                               const std::string& bytes)
{
    completion<heartbeat::send_result> c;
    w.async_send(id, bytes, c.handler());
    return c.get();
}

std::pair<heartbeat::error_code, heartbeat::broadcast_result> broadcast(watcher_type& w, const std::string& bytes)
{
    completion<heartbeat::broadcast_result> c;
    w.async_broadcast(bytes, c.handler());
    return c.get();
}

std::string local_address(pulse_type& p)
{
    return "127.0.0.1:" + std::to_string(p.next_layer().local_endpoint().port());
}

} // namespace

TEST_CASE("controls: kick without an error says GOODBYE kicked", "[controls]")
{
    server srv;
    client c(srv, "kicked-1");
    c.run();
    REQUIRE(srv.rec.wait_for("kicked-1", true));
    CHECK_FALSE(srv.watcher().kick("nobody"));
    REQUIRE(srv.watcher().kick("kicked-1"));
    CHECK(outcome(c.done) == error::kicked);
    const auto off = srv.rec.wait_for("kicked-1", false);
    REQUIRE(off);
    CHECK(off->reason == heartbeat::offline_reason::kicked);
    CHECK(eventually([&] { return !srv.watcher().session_info("kicked-1"); }));
}

TEST_CASE("controls: kick with an error ends the session with that ERROR", "[controls]")
{
    server srv;
    client c(srv, "kicked-2");
    c.run();
    REQUIRE(srv.rec.wait_for("kicked-2", true));
    REQUIRE(srv.watcher().kick("kicked-2", error::auth_failed)); // a token revoked
    CHECK(outcome(c.done) == error::auth_failed);
    const auto off = srv.rec.wait_for("kicked-2", false);
    REQUIRE(off);
    CHECK(off->reason == heartbeat::offline_reason::kicked);
}

TEST_CASE("controls: an asynchronous authenticator accepts from another thread with a context", "[controls]")
{
    server srv;
    answerer answers;
    std::atomic<int> asked{0};
    std::string remote_seen;
    srv.watcher().set_async_authenticator(
        [&](const watcher_type::hello_info& h, watcher_type::auth_handler done) {
            ++asked;
            remote_seen = std::string(h.remote_address);
            answers.later(std::move(done), heartbeat::auth_verdict::accept(user{42, {"admin", "ops"}}));
        });
    // What the callbacks find, on the strand, at the peer's online and
    // offline events.
    std::mutex mu;
    std::optional<watcher_type::session_record> at_online;
    std::optional<watcher_type::session_record> at_offline;
    bool offline_seen = false;
    srv.watcher().on_event([&](const watcher_type::event_type& e) {
        std::lock_guard<std::mutex> lock(mu);
        if (e.kind == heartbeat::transition::online)
            at_online = srv.watcher().session_info(e.key);
        else {
            at_offline = srv.watcher().session_info(e.key);
            offline_seen = true;
        }
    });

    auto o = client::options("with-context");
    o.max_frame = 4096; // stated in TERMS_ACK: the record shows it
    client c(srv, o);
    const auto started = steady::now();
    c.run();
    REQUIRE(srv.rec.wait_for("with-context", true));
    CHECK(steady::now() - started >= 90ms); // the answer's delay
    CHECK(asked == 1);
    {
        std::lock_guard<std::mutex> lock(mu);
        REQUIRE(at_online);
        const user* u = at_online->context.get<user>();
        REQUIRE(u);
        CHECK(u->id == 42);
        CHECK(u->roles == std::vector<std::string>{"admin", "ops"});
        CHECK(at_online->context.get<int>() == nullptr); // typed
        CHECK(at_online->remote_address == local_address(*c.p));
        CHECK(remote_seen == at_online->remote_address);
    }
    // From the test's thread too, once TERMS_ACK has come.
    REQUIRE(eventually([&] {
        const auto r = srv.watcher().session_info("with-context");
        return r && r->peer_max_frame == 4096;
    }));
    const auto r = *srv.watcher().session_info("with-context");
    CHECK(r.id == "with-context");
    CHECK(r.version == 2);
    CHECK(r.interval == 50ms);
    CHECK(r.misses == 3);
    CHECK(r.context.get<user>()->id == 42);
    REQUIRE(eventually([&] {
        const auto now = srv.watcher().session_info("with-context");
        return now && now->rtt.has_value();
    }));
    const auto all = srv.watcher().sessions();
    REQUIRE(all.size() == 1);
    CHECK(all[0].id == "with-context");

    c.p->leave();
    REQUIRE(srv.rec.wait_for("with-context", false));
    {
        std::lock_guard<std::mutex> lock(mu);
        REQUIRE(offline_seen);
        REQUIRE(at_offline); // the offline event's callbacks still find it
        CHECK(at_offline->context.get<user>()->id == 42);
    }
    CHECK(eventually([&] { return !srv.watcher().session_info("with-context"); }));
    CHECK(srv.watcher().sessions().empty());
}

TEST_CASE("controls: an asynchronous authenticator refuses from another thread", "[controls]")
{
    server srv;
    answerer answers;
    std::mutex mu;
    std::vector<watcher_type::refusal> refusals;
    srv.watcher().on_refused([&](const watcher_type::refusal& r) {
        std::lock_guard<std::mutex> lock(mu);
        refusals.push_back(r);
    });
    srv.watcher().set_async_authenticator(
        [&](const watcher_type::hello_info& h, watcher_type::auth_handler done) {
            answers.later(std::move(done), h.credential == "good" ? heartbeat::auth_verdict::accept()
                                                                  : heartbeat::auth_verdict::refuse());
        });
    client bad(srv, "intruder", 50ms, "bad");
    bad.run();
    CHECK(outcome(bad.done) == error::auth_failed);
    REQUIRE(eventually([&] {
        std::lock_guard<std::mutex> lock(mu);
        return refusals.size() == 1;
    }));
    CHECK(refusals[0].error == error::auth_failed);
    CHECK(refusals[0].claimed_id == std::optional<std::string>("intruder"));
    CHECK(srv.rec.about("intruder").empty());

    client good(srv, "friend", 50ms, "good");
    good.run();
    REQUIRE(srv.rec.wait_for("friend", true));
    CHECK_FALSE(srv.watcher().session_info("friend")->context.has_value()); // accepted without one
}

TEST_CASE("controls: frames sent behind the HELLO wait out an asynchronous authenticator", "[controls]")
{
    // The watcher reads every TCP session into one buffer; bytes the
    // machine holds while its authenticator thinks must survive the other
    // sessions' reads meanwhile.
    server srv;
    answerer answers;
    srv.watcher().set_async_authenticator([&](const watcher_type::hello_info& h, watcher_type::auth_handler done) {
        if (h.id == "patient")
            answers.later(std::move(done), heartbeat::auth_verdict::accept(), 200ms);
        else
            done(heartbeat::auth_verdict::accept());
    });
    raw_peer patient;
    patient.connect(srv.endpoint());
    std::vector<std::uint8_t> bytes;
    heartbeat::wire::append_hello(bytes, {heartbeat::wire::protocol_version, 50, "patient", ""});
    const std::string text = "sent behind the hello";
    const std::size_t at = bytes.size();
    bytes.resize(at + heartbeat::wire::header_size + text.size());
    heartbeat::wire::encode_header(bytes.data() + at, heartbeat::wire::frame_type::data, text.size());
    std::copy(text.begin(), text.end(), bytes.begin() + static_cast<std::ptrdiff_t>(at + heartbeat::wire::header_size));
    const auto beat = heartbeat::wire::encode_beat(7);
    bytes.insert(bytes.end(), beat.begin(), beat.end());
    patient.send(bytes); // one write: the HELLO and what follows it arrive together

    // Meanwhile another peer's bytes (more than the patient one sent)
    // pass through the shared buffer.
    raw_peer busy;
    busy.connect(srv.endpoint());
    busy.send_hello("busy", 50, std::string(200, 'c'));
    REQUIRE(srv.rec.wait_for("busy", true));
    for (std::uint32_t seq = 1; seq <= 3; ++seq)
        busy.send_beat(seq);

    const auto welcome = patient.read_frame();
    REQUIRE(welcome);
    CHECK(welcome->type == heartbeat::wire::frame_type::welcome);
    const auto echo = patient.read_frame();
    REQUIRE(echo);
    CHECK(echo->type == heartbeat::wire::frame_type::echo);
    CHECK(eventually([&] {
        const auto m = srv.rec.messages();
        return std::find(m.begin(), m.end(), "patient:" + text) != m.end();
    }));
}

TEST_CASE("controls: an authenticator that never answers leaves the peer to the hello timeout", "[controls]")
{
    server srv; // hello_timeout 500 ms
    std::mutex mu;
    std::vector<watcher_type::auth_handler> kept;
    std::optional<watcher_type::hello_info> asked; // views, valid while a handler is kept
    std::vector<watcher_type::refusal> refusals;
    srv.watcher().on_refused([&](const watcher_type::refusal& r) {
        std::lock_guard<std::mutex> lock(mu);
        refusals.push_back(r);
    });
    srv.watcher().set_async_authenticator([&](const watcher_type::hello_info& h, watcher_type::auth_handler done) {
        std::lock_guard<std::mutex> lock(mu);
        kept.push_back(std::move(done));
        asked.emplace(h);
    });
    client c(srv, "waiting");
    const auto started = steady::now();
    c.run();
    CHECK(outcome(c.done) == error::hello_timeout);
    CHECK(steady::now() - started >= 450ms);
    REQUIRE(eventually([&] {
        std::lock_guard<std::mutex> lock(mu);
        return refusals.size() == 1;
    }));
    CHECK(refusals[0].error == error::hello_timeout);
    CHECK(refusals[0].claimed_id == std::optional<std::string>("waiting"));
    // The session is gone; what the authenticator was asked still reads
    // (a slow check that logs the address after its query).
    REQUIRE(eventually([&] { return srv.watcher().session_count() == 0; }));
    {
        std::lock_guard<std::mutex> lock(mu);
        REQUIRE(asked);
        CHECK(asked->id == "waiting");
        CHECK(std::string(asked->remote_address) == refusals[0].remote_address);
    }

    // A verdict after the timeout is dropped.
    {
        std::lock_guard<std::mutex> lock(mu);
        REQUIRE(kept.size() == 1);
        kept[0](heartbeat::auth_verdict::accept());
        kept[0](heartbeat::auth_verdict::accept()); // and a second call is ignored
    }
    std::promise<void> drained; // the verdict's dispatch has run by then
    net::post(srv.watcher().get_executor(), [&] { drained.set_value(); });
    REQUIRE(drained.get_future().wait_for(5s) == std::future_status::ready);
    CHECK(srv.rec.about("waiting").empty());
    CHECK_FALSE(srv.watcher().session_info("waiting"));
    CHECK(srv.watcher().refused_count() == 1);
}

TEST_CASE("controls: async_send reports not_online and too_large for the peer's limit", "[controls]")
{
    server srv;
    auto o = client::options("small-frames");
    o.max_frame = 1024; // its TERMS_ACK says so
    client small(srv, o);
    small.run();
    client big(srv, "big-frames");
    big.run();
    REQUIRE(srv.rec.wait_for("small-frames", true));
    REQUIRE(srv.rec.wait_for("big-frames", true));
    REQUIRE(eventually([&] {
        const auto r = srv.watcher().session_info("small-frames");
        return r && r->peer_max_frame == 1024;
    }));

    const auto absent = send(srv.watcher(), "nobody", "x");
    CHECK(absent.first == net::error::not_connected);
    CHECK(absent.second.verdict == heartbeat::send_verdict::not_online);
    CHECK(absent.second.queued_bytes == 0);

    const std::string large(2000, 'L');
    const auto refused = send(srv.watcher(), "small-frames", large);
    CHECK(refused.first == error::message_too_large);
    CHECK(refused.second.verdict == heartbeat::send_verdict::too_large);

    const auto fits = send(srv.watcher(), "small-frames", std::string(1000, 's'));
    CHECK_FALSE(fits.first);
    CHECK(fits.second.verdict == heartbeat::send_verdict::queued);
    CHECK(fits.second.queued_bytes >= 1000 + heartbeat::wire::header_size);
    // A use_future completion, for a result without an error.
    CHECK(srv.watcher().async_send("big-frames", large, net::use_future).get().verdict ==
          heartbeat::send_verdict::queued);

    const auto spread = broadcast(srv.watcher(), large);
    CHECK_FALSE(spread.first);
    CHECK(spread.second.queued == 1);  // big-frames
    CHECK(spread.second.dropped == 1); // small-frames
    CHECK(srv.watcher().is_online("small-frames")); // refused locally: the peer never saw it
}

TEST_CASE("controls: async_send reports the queue growing for a peer that does not read", "[controls]")
{
    auto opts = fast_watcher_options();
    opts.max_send_queue = 4 * 1024 * 1024;
    server srv(opts);
    raw_peer peer; // says HELLO, then neither reads nor beats: 3 x 2 s before it times out
    peer.socket().open(tcp::v4());
    peer.socket().set_option(net::socket_base::receive_buffer_size(4096));
    peer.connect(srv.endpoint());
    peer.send_hello("stuck", 2000);
    REQUIRE(srv.rec.wait_for("stuck", true));

    const std::string chunk(32 * 1024, 'c');
    std::size_t first = 0;
    std::size_t last = 0;
    std::size_t sent = 0;
    heartbeat::send_result r;
    // The kernel's buffers fill first; then the watcher's queue grows.
    while (sent < 120 && last < 1024 * 1024) {
        const auto one = send(srv.watcher(), "stuck", chunk);
        REQUIRE_FALSE(one.first);
        r = one.second;
        REQUIRE(r.verdict == heartbeat::send_verdict::queued);
        if (first == 0)
            first = r.queued_bytes;
        last = r.queued_bytes;
        ++sent;
    }
    INFO("messages sent: " << sent << ", queued first " << first << ", last " << last);
    CHECK(last >= 1024 * 1024);
    CHECK(last > first);
    const auto spread = broadcast(srv.watcher(), "x");
    CHECK(spread.second.queued == 1);
    CHECK(spread.second.max_queued_bytes >= last);

    // Past max_send_queue the peer is closed instead of buffered.
    heartbeat::send_result over;
    for (int i = 0; i < 200 && over.verdict != heartbeat::send_verdict::overflow; ++i) {
        const auto one = send(srv.watcher(), "stuck", chunk);
        over = one.second;
        if (over.verdict == heartbeat::send_verdict::overflow)
            CHECK(one.first == error::send_queue_full);
    }
    CHECK(over.verdict == heartbeat::send_verdict::overflow);
    const auto off = srv.rec.wait_for("stuck", false);
    REQUIRE(off);
    CHECK(off->reason == heartbeat::offline_reason::disconnected);
}

TEST_CASE("controls: a fire-and-forget send that overflows a peer's queue closes it", "[controls]")
{
    server srv;                                  // max_send_queue 1 MiB
    raw_peer peer;                               // reads nothing
    peer.socket().open(tcp::v4());
    peer.socket().set_option(net::socket_base::receive_buffer_size(4096));
    peer.connect(srv.endpoint());
    peer.send_hello("stuck", 2000);
    REQUIRE(srv.rec.wait_for("stuck", true));
    const std::string chunk(32 * 1024, 'c');
    // Past the kernel's buffers and the queue: the session ends on the
    // strand, and the sends after it find the peer gone.
    for (int i = 0; i < 400 && srv.watcher().send("stuck", chunk); ++i) {
    }
    const auto off = srv.rec.wait_for("stuck", false);
    REQUIRE(off);
    CHECK(off->reason == heartbeat::offline_reason::disconnected);
    CHECK(eventually([&] { return !srv.watcher().session_info("stuck"); }));
}

TEST_CASE("controls: set_terms and kick from inside a callback of the same session", "[controls]")
{
    server srv;
    // From on_message, which runs inside the session's own action loop:
    // two renegotiations and a kick, each carried out in order.
    srv.watcher().on_message([&](const std::string& id, std::string_view) {
        srv.watcher().set_terms(id, 80ms, 4);
        srv.watcher().set_terms(id, 120ms, 5);
        srv.watcher().kick(id);
    });
    client c(srv, "busy");
    std::mutex mu;
    std::vector<std::pair<pulse_type::duration, unsigned>> terms;
    c.p->on_terms([&](pulse_type::duration i, unsigned m) {
        std::lock_guard<std::mutex> lock(mu);
        terms.emplace_back(i, m);
    });
    c.run();
    REQUIRE(srv.rec.wait_for("busy", true));
    // The server counts it online on HELLO; the client may send once WELCOME is in.
    REQUIRE(eventually([&] { return c.p->is_established(); }));
    auto sent = c.p->async_send("go", net::use_future);
    CHECK(outcome(sent) == heartbeat::error_code());
    CHECK(outcome(c.done) == error::kicked);
    std::lock_guard<std::mutex> lock(mu);
    // In order; the kick's last frame drops what was still queued behind a
    // write (PROTOCOL R21), so the client may see fewer.
    const std::vector<std::pair<pulse_type::duration, unsigned>> sent_terms{{80ms, 4u}, {120ms, 5u}};
    REQUIRE(terms.size() <= sent_terms.size());
    CHECK(std::equal(terms.begin(), terms.end(), sent_terms.begin()));
}
