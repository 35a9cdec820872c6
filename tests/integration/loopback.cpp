// watcher and pulse over real loopback TCP, with short intervals and stated
// bounds. Each bound is generous (sanitizers, a loaded 2-core machine); the
// lower bounds are exact consequences of the rules.
#include "support.hpp"

#include <catch2/catch.hpp>

#include <array>

using namespace heartbeat_test;
using heartbeat::error;
using heartbeat::offline_reason;
using frame_type = heartbeat::wire::frame_type;

namespace {
// Slack added to every upper bound on detection time.
constexpr auto slack = 300ms;
} // namespace

TEST_CASE("loopback: online on hello, echoes, data both ways, leave", "[loopback]")
{
    server srv;
    client c(srv, "alice");
    std::promise<std::pair<pulse_type::duration, unsigned>> welcomed;
    c.p->on_welcome([&](auto interval, unsigned misses) { welcomed.set_value({interval, misses}); });
    std::vector<std::string> got;
    std::mutex got_mu;
    c.p->on_message([&](std::string_view m) {
        std::lock_guard<std::mutex> lock(got_mu);
        got.emplace_back(m);
    });
    c.run();
    auto terms = welcomed.get_future();
    REQUIRE(terms.wait_for(5s) == std::future_status::ready);
    CHECK(terms.get() == std::pair<pulse_type::duration, unsigned>(50ms, 3u));
    REQUIRE(srv.rec.wait_for("alice", true));
    CHECK(srv.watcher().is_online("alice"));
    CHECK(srv.watcher().online_count() == 1);

    auto sent = c.p->async_send("hi server", net::use_future);
    CHECK(outcome(sent) == heartbeat::error_code());
    REQUIRE(srv.rec.wait_messages(1));
    CHECK(srv.rec.messages() == std::vector<std::string>{"alice:hi server"});

    CHECK(srv.watcher().send("alice", "hi alice"));
    CHECK_FALSE(srv.watcher().send("nobody", "lost"));

    // Beats are echoed and timed.
    const auto start = steady::now();
    while (c.p->echoes_received() < 3 && steady::now() - start < 5s)
        std::this_thread::yield();
    CHECK(c.p->echoes_received() >= 3);
    CHECK(c.p->smoothed_rtt().has_value());
    const auto kernel_rtt = srv.watcher().kernel_rtt("alice");
    REQUIRE(kernel_rtt.has_value());
    CHECK(*kernel_rtt < 1s);
    // Version 2: the server measured the round trip itself.
    CHECK(c.p->version() == 2);
    const auto rtt = srv.watcher().rtt("alice");
    REQUIRE(rtt.has_value());
    CHECK(*rtt < 1s);
    CHECK(srv.watcher().rtt_variation("alice").has_value());
    CHECK_FALSE(srv.watcher().rtt("nobody").has_value());
    CHECK_FALSE(srv.watcher().kernel_rtt("nobody").has_value());
    {
        std::lock_guard<std::mutex> lock(got_mu);
        CHECK(got == std::vector<std::string>{"hi alice"});
    }

    c.p->leave();
    CHECK(outcome(c.done) == heartbeat::error_code());
    const auto off = srv.rec.wait_for("alice", false);
    REQUIRE(off);
    CHECK(off->reason == offline_reason::left);
    CHECK_FALSE(srv.watcher().is_online("alice"));
}

TEST_CASE("loopback: offline(timeout) within [N*I, N*I + slack] when a peer goes silent with its socket open",
          "[loopback]")
{
    server srv(fast_watcher_options(20ms));  // I = 20 ms, N = 3
    raw_peer peer;
    peer.connect(srv.endpoint());
    peer.send_hello("silent", 20);
    const auto welcome = peer.read_frame();
    REQUIRE(welcome);
    REQUIRE(welcome->type == frame_type::welcome);
    peer.send_beat(1);
    const auto last_byte = steady::now();  // the server got it no earlier

    const auto off = srv.rec.wait_for("silent", false);
    REQUIRE(off);
    CHECK(off->reason == offline_reason::timeout);
    const auto took = ms_between(last_byte, off->at);
    CHECK(took >= 60ms);
    CHECK(took <= 60ms + slack);

    // The server closed the session (close_on_timeout): the peer sees EOF
    // after the echo of its beat.
    while (peer.read_frame(2s))
    {
    }
    CHECK(peer.eof());
    CHECK_FALSE(srv.watcher().is_online("silent"));
}

TEST_CASE("loopback: offline(disconnected) at once when the connection closes", "[loopback]")
{
    server srv(fast_watcher_options(400ms));  // timeout 1.2 s: far from "at once"
    client c(srv, "bob", 400ms);
    c.run();
    REQUIRE(srv.rec.wait_for("bob", true));
    const auto closed = steady::now();
    c.p->stop();
    CHECK(outcome(c.done) == net::error::operation_aborted);
    const auto off = srv.rec.wait_for("bob", false);
    REQUIRE(off);
    CHECK(off->reason == offline_reason::disconnected);
    CHECK(ms_between(closed, off->at) < 400ms);
}

TEST_CASE("loopback: a client detects a silent server", "[loopback]")
{
    net::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    tcp::socket s(io);
    s.connect(acceptor.local_endpoint());
    tcp::socket server_side = acceptor.accept();

    pulse_type::options o;
    o.id = "carol";
    o.interval = 20ms;
    pulse_type p(std::move(s), o);
    std::promise<heartbeat::error_code> result;
    auto done = result.get_future();
    p.async_run([&](heartbeat::error_code ec) { result.set_value(ec); });
    std::thread io_thread([&] { io.run(); });

    // Play the server by hand: read HELLO, WELCOME it, then never answer.
    std::vector<std::uint8_t> buf(64);
    server_side.read_some(net::buffer(buf));
    std::vector<std::uint8_t> welcome;
    heartbeat::wire::append_welcome(welcome, {heartbeat::wire::protocol_version, 3, 20});
    net::write(server_side, net::buffer(welcome));
    const auto welcomed = steady::now();

    SECTION("no echoes at all")
    {
        CHECK(outcome(done) == error::peer_lost);
    }
    SECTION("only stale echoes: an echo of beat 1 does not answer beats 2, 3, 4")
    {
        const auto stale = heartbeat::wire::encode_echo(1);
        // Beat 1 must have left first: an echo of a beat never sent is a
        // protocol error. Reading it waits exactly that long.
        std::array<std::uint8_t, 8> first_beat{};
        net::read(server_side, net::buffer(first_beat));
        CHECK(first_beat == heartbeat::wire::encode_beat(1));
        for (int i = 0; i < 50 && done.wait_for(15ms) != std::future_status::ready; ++i) {
            heartbeat::error_code ec;
            net::write(server_side, net::buffer(stale), ec);
        }
        CHECK(outcome(done) == error::peer_lost);
    }
    const auto took = ms_between(welcomed, steady::now());
    // The first beat leaves one interval after WELCOME; the third goes
    // unanswered one interval after its write: about 4 intervals in all.
    CHECK(took >= 60ms);
    CHECK(took <= 80ms + slack);
    CHECK(p.beats_sent() >= 3);
    io_thread.join();
}

TEST_CASE("loopback: every inbound byte counts as life, not only beats", "[loopback]")
{
    server srv(fast_watcher_options(20ms));  // timeout 60 ms
    raw_peer peer;
    peer.connect(srv.endpoint());
    peer.send_hello("streamer", 20);
    REQUIRE(peer.read_frame());
    REQUIRE(srv.rec.wait_for("streamer", true));

    // A 4,000-byte DATA frame dribbled 10 bytes every 10 ms: 400 ms of no
    // BEAT at all, yet never 60 ms of silence.
    std::vector<std::uint8_t> header(heartbeat::wire::header_size);
    heartbeat::wire::encode_header(header.data(), frame_type::data, 4000);
    peer.send(header);
    for (int i = 0; i < 400; ++i) {
        peer.send(std::vector<std::uint8_t>(10, 'x'));
        std::this_thread::sleep_for(1ms);
    }
    CHECK(srv.rec.about("streamer").size() == 1);  // still just the online event
    REQUIRE(srv.rec.wait_messages(1));
    CHECK(srv.rec.messages().front().size() == std::string("streamer:").size() + 4000);
    // Now it falls silent.
    const auto off = srv.rec.wait_for("streamer", false);
    REQUIRE(off);
    CHECK(off->reason == offline_reason::timeout);
}

TEST_CASE("loopback: announced intervals are clamped to the server's bounds", "[loopback]")
{
    auto opts = fast_watcher_options();
    opts.detection.min_interval = 15ms;
    opts.detection.max_interval = 100ms;
    server srv(opts);
    for (auto [asked, held] : {std::pair<std::uint32_t, std::uint32_t>{1, 15}, {5000, 100}, {30, 30}, {0, 50}}) {
        raw_peer peer;
        peer.connect(srv.endpoint());
        peer.send_hello("clamp-" + std::to_string(asked), asked);
        const auto f = peer.read_frame();
        REQUIRE(f);
        REQUIRE(f->type == frame_type::welcome);
        heartbeat::wire::welcome w;
        REQUIRE(heartbeat::wire::parse_welcome({f->type, f->payload.data(), f->payload.size()}, w) ==
                heartbeat::wire::decode_status::ok);
        CHECK(w.interval_ms == held);
        CHECK(w.misses == 3);
    }
}

TEST_CASE("loopback: a second connection with a live id", "[loopback]")
{
    SECTION("replace: the old session goes offline(replaced) and is told so")
    {
        server srv;
        client first(srv, "dup");
        first.run();
        REQUIRE(srv.rec.wait_for("dup", true));
        client second(srv, "dup");
        second.run();
        CHECK(outcome(first.done) == error::replaced);
        REQUIRE(srv.rec.wait_for("dup", true, 2));
        const auto evs = srv.rec.about("dup");
        REQUIRE(evs.size() == 3);
        CHECK(evs[0].online);
        CHECK_FALSE(evs[1].online);
        CHECK(evs[1].reason == offline_reason::replaced);
        CHECK(evs[2].online);
        CHECK(srv.watcher().is_online("dup"));
        second.p->leave();  // it ran on until told to leave
        CHECK(outcome(second.done) == heartbeat::error_code());
    }
    SECTION("reject: the newcomer gets duplicate_id, the first stays")
    {
        auto opts = fast_watcher_options();
        opts.on_duplicate = heartbeat::duplicate_policy::reject;
        server srv(opts);
        client first(srv, "dup");
        first.run();
        REQUIRE(srv.rec.wait_for("dup", true));
        client second(srv, "dup");
        second.run();
        CHECK(outcome(second.done) == error::duplicate_id);
        CHECK(srv.rec.about("dup").size() == 1);
        CHECK(srv.watcher().is_online("dup"));
        first.p->leave();
        CHECK(outcome(first.done) == heartbeat::error_code());
    }
}

TEST_CASE("loopback: the authenticator decides who gets in", "[loopback]")
{
    server srv;
    srv.watcher().set_authenticator([](const watcher_type::hello_info& h) -> heartbeat::error_code {
        if (h.credential == "sesame")
            return {};
        return error::auth_failed;
    });
    client bad(srv, "mallory", 20ms, "guess");
    bad.run();
    CHECK(outcome(bad.done) == error::auth_failed);
    client good(srv, "trent", 20ms, "sesame");
    good.run();
    REQUIRE(srv.rec.wait_for("trent", true));
    CHECK(srv.rec.about("mallory").empty());
    CHECK_FALSE(srv.watcher().info("mallory").has_value());
}

TEST_CASE("loopback: HELLO must arrive within the hello timeout", "[loopback]")
{
    auto opts = fast_watcher_options();
    opts.hello_timeout = 100ms;
    server srv(opts);
    raw_peer peer;
    const auto start = steady::now();
    peer.connect(srv.endpoint());
    const auto f = peer.read_frame(5s);
    REQUIRE(f);
    REQUIRE(f->type == frame_type::error);
    heartbeat::wire::error_frame e;
    REQUIRE(heartbeat::wire::parse_error({f->type, f->payload.data(), f->payload.size()}, e) ==
            heartbeat::wire::decode_status::ok);
    CHECK(e.code == static_cast<std::uint16_t>(heartbeat::wire::error_code_value::hello_timeout));
    CHECK(ms_between(start, steady::now()) >= 100ms);
    CHECK_FALSE(peer.read_frame(2s));
    CHECK(peer.eof());
    CHECK(srv.rec.events().empty());
}

TEST_CASE("loopback: a frame other than HELLO first is a protocol error", "[loopback]")
{
    server srv;
    raw_peer peer;
    peer.connect(srv.endpoint());
    peer.send_beat(1);
    const auto f = peer.read_frame();
    REQUIRE(f);
    CHECK(f->type == frame_type::error);
    CHECK_FALSE(peer.read_frame(2s));
    CHECK(peer.eof());
    // The server half-closed after its ERROR; the session ends once the
    // peer closes too.
    peer.socket().close();
    CHECK(eventually([&] { return srv.watcher().session_count() == 0; }));
}

TEST_CASE("loopback: push to one peer and broadcast to all", "[loopback]")
{
    server srv;
    struct inbox {
        std::mutex mu;
        std::vector<std::string> got;
    };
    inbox a_box, b_box;
    client a(srv, "a"), b(srv, "b");
    a.p->on_message([&](std::string_view m) {
        std::lock_guard<std::mutex> lock(a_box.mu);
        a_box.got.emplace_back(m);
    });
    b.p->on_message([&](std::string_view m) {
        std::lock_guard<std::mutex> lock(b_box.mu);
        b_box.got.emplace_back(m);
    });
    a.run();
    b.run();
    REQUIRE(srv.rec.wait_for("a", true));
    REQUIRE(srv.rec.wait_for("b", true));
    CHECK(srv.watcher().send("a", "for a"));
    CHECK(srv.watcher().broadcast("for all") == 2);
    auto count = [](inbox& box) {
        std::lock_guard<std::mutex> lock(box.mu);
        return box.got.size();
    };
    const auto start = steady::now();
    while ((count(a_box) < 2 || count(b_box) < 1) && steady::now() - start < 5s)
        std::this_thread::sleep_for(1ms);
    std::lock_guard<std::mutex> la(a_box.mu), lb(b_box.mu);
    CHECK(a_box.got == std::vector<std::string>{"for a", "for all"});
    CHECK(b_box.got == std::vector<std::string>{"for all"});
}

TEST_CASE("loopback: a reconnecting client comes back after the server restarts", "[loopback]")
{
    auto srv = std::make_unique<server>();
    const auto port = srv->endpoint().port();

    net::io_context io;
    auto work = net::make_work_guard(io);
    heartbeat::reconnecting_client<>::options o;
    o.port = std::to_string(port);
    o.session.id = "phoenix";
    o.session.interval = 20ms;
    o.backoff_initial = 10ms;
    o.backoff_max = 100ms;
    o.seed = 7;
    heartbeat::reconnecting_client<> c(io, o);
    // Callbacks run on the io thread: record, check here.
    recorder client_rec;
    std::atomic<int> retries{0};
    std::atomic<bool> bad_retry{false};
    std::mutex lost_mu;
    std::vector<heartbeat::error_code> lost;
    c.on_connected([&] { client_rec.online("phoenix"); });
    c.on_lost([&](heartbeat::error_code ec) {
        {
            std::lock_guard<std::mutex> lock(lost_mu);
            lost.push_back(ec);
        }
        client_rec.offline("phoenix", offline_reason::disconnected);
    });
    c.on_reconnecting([&](unsigned attempt, auto delay) {
        if (attempt < 1u || delay > 100ms)
            bad_retry = true;
        ++retries;
    });
    c.start();
    std::thread t([&] { io.run(); });

    REQUIRE(client_rec.wait_for("phoenix", true));
    REQUIRE(srv->rec.wait_for("phoenix", true));
    srv.reset();  // stops: the client is told, then refused while it retries
    REQUIRE(client_rec.wait_for("phoenix", false));
    const auto wait_start = steady::now();
    while (retries.load() < 3 && steady::now() - wait_start < 5s)
        std::this_thread::sleep_for(1ms);
    CHECK(retries.load() >= 3);  // refused connections are retried, not fatal
    CHECK_FALSE(bad_retry.load());
    {
        std::lock_guard<std::mutex> lock(lost_mu);
        CHECK(lost == std::vector<heartbeat::error_code>{error::shutting_down});  // the server said why
    }

    srv = std::make_unique<server>(fast_watcher_options(), port);
    REQUIRE(client_rec.wait_for("phoenix", true, 2));
    REQUIRE(srv->rec.wait_for("phoenix", true));
    CHECK(c.sessions() == 2);
    CHECK(c.is_connected());

    c.stop();
    REQUIRE(srv->rec.wait_for("phoenix", false));
    CHECK(srv->rec.about("phoenix").back().reason == offline_reason::left);
    work.reset();
    t.join();
}

TEST_CASE("loopback: 40 clients on a 4-thread io_context", "[loopback][threads]")
{
    server srv(fast_watcher_options(), 0, 4);
    std::vector<std::unique_ptr<client>> clients;
    for (int i = 0; i < 40; ++i) {
        clients.push_back(std::make_unique<client>(srv, "peer-" + std::to_string(i)));
        clients.back()->run();
    }
    REQUIRE(srv.rec.wait([](const std::vector<observed>& evs) { return evs.size() >= 40; }));
    CHECK(srv.watcher().online_count() == 40);
    CHECK(srv.watcher().snapshot().size() == 40);

    // Queries and pushes from this thread while the io threads work.
    for (int i = 0; i < 40; ++i) {
        CHECK(srv.watcher().is_online("peer-" + std::to_string(i)));
        srv.watcher().send("peer-" + std::to_string(i), "ping");
    }
    srv.watcher().broadcast("all");

    // A third leave, a third drop their connection, a third go on beating.
    for (std::size_t i = 0; i < 40; ++i) {
        if (i % 3 == 0)
            clients[i]->p->leave();
        else if (i % 3 == 1)
            clients[i]->p->stop();
    }
    REQUIRE(srv.rec.wait([](const std::vector<observed>& evs) { return evs.size() >= 40 + 27; }));
    for (int i = 0; i < 40; ++i) {
        const auto evs = srv.rec.about("peer-" + std::to_string(i));
        if (i % 3 == 2) {
            CHECK(evs.size() == 1);
            continue;
        }
        REQUIRE(evs.size() == 2);
        CHECK(evs[0].online);
        CHECK(evs[1].reason == (i % 3 == 0 ? offline_reason::left : offline_reason::disconnected));
    }
    CHECK(srv.watcher().online_count() == 13);
    // The server stops: the remaining clients are told why.
    srv.watcher().stop();
    for (std::size_t i = 0; i < 40; ++i)
        if (i % 3 == 2)
            CHECK(outcome(clients[i]->done) == error::shutting_down);
    CHECK(srv.rec.wait([](const std::vector<observed>& evs) { return evs.size() == 80; }));
}

TEST_CASE("loopback: a watcher with the phi-accrual policy", "[loopback][phi]")
{
    using phi_watcher = heartbeat::watcher<tcp::socket, std::string, heartbeat::phi_accrual<>>;
    phi_watcher::options o;
    o.detection.interval = 20ms;
    o.detection.min_interval = 10ms;
    o.detection.min_std_dev = 10ms;
    o.detection.threshold = 8;
    net::io_context io;
    auto work = net::make_work_guard(io);
    phi_watcher w(io, o);
    recorder rec;
    w.on_offline([&](const std::string& k, offline_reason r) { rec.offline(k, r); });
    w.on_online([&](const std::string& k) { rec.online(k); });
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    w.accept_from(acceptor);
    std::thread io_thread([&] { io.run(); });
    raw_peer peer;
    peer.connect(acceptor.local_endpoint());
    peer.send_hello("phi-peer", 20);
    REQUIRE(peer.read_frame());
    for (std::uint32_t i = 1; i <= 20; ++i) {
        peer.send_beat(i);
        std::this_thread::sleep_for(20ms);
    }
    const auto phi_now = w.suspicion("phi-peer");
    REQUIRE(phi_now);
    CHECK(*phi_now < 8);
    const auto last = steady::now();
    const auto off = rec.wait_for("phi-peer", false);
    REQUIRE(off);
    CHECK(off->reason == offline_reason::timeout);
    // Learned mean ~20 ms, deviation floored at 10 ms: phi = 8 about 5
    // deviations past the mean, ~70 ms after the last beat.
    CHECK(ms_between(last, off->at) >= 20ms);
    CHECK(ms_between(last, off->at) <= 70ms + slack);
    w.stop();
    work.reset();
    io.stop();
    io_thread.join();
}

TEST_CASE("loopback: versions 1 and 2 meet in every pairing over TCP", "[loopback][version]")
{
    struct pairing {
        std::uint8_t client_version, server_version;
    };
    for (const pairing v : {pairing{1, 1}, pairing{2, 1}, pairing{1, 2}, pairing{2, 2}}) {
        CAPTURE(v.client_version, v.server_version);
        auto so = fast_watcher_options();
        so.max_version = v.server_version;
        server srv(so);
        auto co = client::options("peer");
        co.max_version = v.client_version;
        client c(srv, co);
        c.run();
        REQUIRE(srv.rec.wait_for("peer", true));
        REQUIRE(eventually([&] { return c.p->echoes_received() >= 3; }));
        const std::uint8_t runs = std::min(v.client_version, v.server_version);
        CHECK(c.p->version() == runs);
        const auto record = srv.watcher().session_info("peer");
        REQUIRE(record);
        CHECK(record->version == runs);
        // The server measures the peer only in version 2; the client
        // measures the server in both.
        CHECK(eventually([&] { return srv.watcher().rtt("peer").has_value(); }, 1s) == (runs == 2));
        CHECK(c.p->smoothed_rtt().has_value());
        c.p->leave();
        CHECK(outcome(c.done) == heartbeat::error_code());
        const auto off = srv.rec.wait_for("peer", false);
        REQUIRE(off);
        CHECK(off->reason == offline_reason::left);
    }
}

TEST_CASE("loopback: a peer that only answers PROBEs stays online, and one that stops goes offline",
          "[loopback][probe]")
{
    auto so = fast_watcher_options(100ms); // I = 100 ms, N = 3: 300 ms of silence is too much
    so.probe_interval = 50ms;
    server srv(so);
    raw_peer peer; // a page whose timers are throttled: it never beats by itself
    peer.connect(srv.endpoint());
    std::vector<std::uint8_t> hello;
    heartbeat::wire::append_hello(hello, {heartbeat::wire::protocol_version, 100, "tab", {},
                                          heartbeat::wire::hello_flags::v2 | heartbeat::wire::hello_flags::probes});
    peer.send(hello);
    const auto welcome = peer.read_frame();
    REQUIRE(welcome);
    REQUIRE(welcome->type == frame_type::welcome);
    REQUIRE(srv.rec.wait_for("tab", true));

    // For 1 s, three times the deadline, it answers each PROBE with a BEAT.
    std::uint32_t seq = 0;
    std::uint32_t probes = 0;
    auto last_sent = steady::now();
    const auto until = last_sent + 1s;
    while (steady::now() < until) {
        const auto f = peer.read_frame(500ms);
        REQUIRE(f);
        if (f->type != frame_type::probe)
            continue; // the echoes of our answers
        ++probes;
        std::uint32_t n = 0;
        REQUIRE(heartbeat::wire::parse_probe({f->type, f->payload.data(), f->payload.size()}, n)
                == heartbeat::wire::decode_status::ok);
        CHECK(n == probes); // counted from 1
        last_sent = steady::now(); // the server reads it no earlier
        peer.send_beat(++seq);
    }
    CHECK(probes >= 5); // one per 50 ms of silence, however loaded the machine
    CHECK(srv.watcher().is_online("tab"));
    CHECK(srv.rec.events().size() == 1); // online, and nothing since

    // It stops answering: the PROBEs do not stand in for it, and it goes
    // offline N x I after its last BEAT, as any silent peer does.
    const auto off = srv.rec.wait_for("tab", false);
    REQUIRE(off);
    CHECK(off->reason == offline_reason::timeout);
    CHECK(ms_between(last_sent, off->at) >= 300ms);
    CHECK(ms_between(last_sent, off->at) <= 300ms + slack);
}
