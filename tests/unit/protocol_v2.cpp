// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).

// Protocol version 2 end to end on virtual time: a client_session and a
// server_session joined by a simulated link with a one-way delay, both on
// one manual clock, so every instant is exact. The registry's side (touch,
// hold, the deadline) is modelled by the link's server driver.

#include <heartbeat/session/client_session.hpp>
#include <heartbeat/session/server_session.hpp>
#include <heartbeat/testing/manual_clock.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace {
using namespace std::chrono_literals;
namespace wire = heartbeat::wire;
using heartbeat::error;
using heartbeat::offline_reason;
using test_clock = heartbeat::testing::basic_manual_clock<struct protocol_v2_tag>;
using server = heartbeat::server_session<test_clock>;
using client = heartbeat::client_session<test_clock>;
using time_point = test_clock::time_point;
using duration = test_clock::duration;

struct in_flight {
    time_point arrives;
    std::string bytes;
};

// Frames as they crossed the link, by direction: type and payload size.
struct seen_frame {
    wire::frame_type type;
    std::size_t size;
};

std::vector<seen_frame> split(const std::string& bytes)
{
    std::vector<seen_frame> out;
    std::size_t i = 0;
    while (i + wire::header_size <= bytes.size()) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data() + i);
        const std::size_t n = (std::size_t(p[1]) << 16) | (std::size_t(p[2]) << 8) | p[3];
        out.push_back({static_cast<wire::frame_type>(p[0]), n});
        i += wire::header_size + n;
    }
    return out;
}

struct link {
    server::options server_options;
    client::options client_options;
    duration delay = 2ms; // one way
    std::optional<server> srv;
    std::optional<client> cli;

    std::deque<in_flight> to_server, to_client;
    std::string server_input, client_input; // kept while the machines read them
    std::optional<time_point> server_timer, client_timer;
    std::vector<seen_frame> sent_by_server, sent_by_client;

    // The registry's view of the peer.
    bool registered = false;
    time_point last_touch{};
    duration held_interval{};
    unsigned held_misses = 0;
    duration longest_silence_over_terms = duration::min(); // silence minus the held timeout, worst case
    std::vector<offline_reason> released;
    std::optional<client::ending> ended;
    error client_error{};
    std::vector<duration> client_terms; // established / terms_changed intervals
    bool server_closed = false;
    server::admission::outcome admit_as = server::admission::outcome::admitted;

    // The registry's deadline (R9), modelled when `expire` is set: the
    // peer goes offline the first tick after misses x interval + grace of
    // silence, and the session hears timed_out.
    bool expire = false;
    std::optional<time_point> went_offline_at;
    // A client in a background tab: its timers stop (it neither beats nor
    // watches), while what arrives is still read. Frozen: it reads nothing
    // either (a page whose script is stopped).
    bool client_timers_stopped = false;
    bool client_frozen = false;

    std::optional<time_point> registry_deadline() const
    {
        if (!expire || !registered)
            return std::nullopt;
        return last_touch + held_interval * static_cast<int>(held_misses) + server_options.grace + duration(1);
    }

    link()
    {
        client_options.id = "peer";
        client_options.interval = 100ms;
        server_options.default_interval = 100ms;
    }

    void start()
    {
        test_clock::reset();
        srv.emplace(server_options);
        cli.emplace(client_options);
        srv->start(test_clock::now());
        cli->start(test_clock::now());
        pump();
    }

    void send(std::deque<in_flight>& q, std::vector<seen_frame>& log, std::string_view bytes)
    {
        const auto f = split(std::string(bytes));
        log.insert(log.end(), f.begin(), f.end());
        q.push_back({test_clock::now() + delay, std::string(bytes)});
    }

    void touch(time_point at)
    {
        if (registered) {
            const duration silence = at - last_touch;
            longest_silence_over_terms =
                std::max(longest_silence_over_terms, silence - held_interval * static_cast<int>(held_misses));
        }
        last_touch = at;
    }

    void pump_server()
    {
        for (;;) {
            const auto a = srv->next();
            using k = server::kind;
            switch (a.type) {
            case k::idle:
            case k::read: return;
            case k::authenticate: srv->authenticated(std::nullopt, test_clock::now()); break;
            case k::admit:
                if (admit_as != server::admission::outcome::admitted) {
                    srv->admitted({admit_as, {}}, test_clock::now());
                    break;
                }
                registered = true;
                held_interval = a.interval;
                held_misses = server_options.misses;
                last_touch = a.at;
                srv->admitted({server::admission::outcome::admitted, a.interval}, test_clock::now());
                break;
            case k::touch: touch(a.at); break;
            case k::hold:
                held_interval = a.interval;
                held_misses = a.misses;
                break;
            case k::release:
                registered = false;
                released.push_back(a.reason);
                break;
            case k::write:
            case k::close_after: send(to_client, sent_by_server, a.bytes()); break;
            case k::wait_until: server_timer = a.at; break;
            case k::cancel_timer: server_timer.reset(); break;
            case k::close: server_closed = true; break;
            default: break;
            }
        }
    }

    void pump_client()
    {
        for (;;) {
            const auto a = cli->next();
            using k = client::kind;
            switch (a.type) {
            case k::idle:
            case k::read: return;
            case k::write:
            case k::close_after:
                // The write starts and completes at once.
                cli->write_started();
                send(to_server, sent_by_client, a.bytes());
                cli->write_done(test_clock::now());
                break;
            case k::established:
            case k::terms_changed: client_terms.push_back(a.interval); break;
            case k::wait_until: client_timer = a.at; break;
            case k::cancel_timer: client_timer.reset(); break;
            case k::finish:
                ended = a.end;
                client_error = a.code;
                break;
            default: break;
            }
        }
    }

    void pump()
    {
        pump_server();
        pump_client();
    }

    // Runs every event due up to `until`, in time order.
    void run_until(time_point until)
    {
        for (int guard = 0; guard < 1'000'000; ++guard) {
            std::optional<time_point> next;
            auto consider = [&](std::optional<time_point> t) {
                if (t && (!next || *t < *next))
                    next = t;
            };
            const auto offline_at = registry_deadline();
            consider(offline_at);
            consider(server_timer);
            if (!client_timers_stopped && !client_frozen)
                consider(client_timer);
            if (!to_server.empty())
                consider(to_server.front().arrives);
            if (!to_client.empty() && !client_frozen)
                consider(to_client.front().arrives);
            if (!next || *next > until || ended)
                break;
            test_clock::advance_to(std::max(*next, test_clock::now()));
            const auto now = test_clock::now();
            if (offline_at && *offline_at <= now) {
                registered = false;
                went_offline_at = now;
                srv->timed_out(now);
            }
            else if (!to_server.empty() && to_server.front().arrives <= now) {
                server_input = std::move(to_server.front().bytes);
                to_server.pop_front();
                if (!server_closed)
                    srv->feed(reinterpret_cast<const std::uint8_t*>(server_input.data()), server_input.size(), now, 0);
            }
            else if (!client_frozen && !to_client.empty() && to_client.front().arrives <= now) {
                client_input = std::move(to_client.front().bytes);
                to_client.pop_front();
                cli->feed(reinterpret_cast<const std::uint8_t*>(client_input.data()), client_input.size(), now);
            }
            else if (server_timer && *server_timer <= now) {
                server_timer.reset();
                srv->timer_fired(now);
            }
            else if (!client_timers_stopped && !client_frozen && client_timer && *client_timer <= now) {
                client_timer.reset();
                cli->timer_fired(now);
            }
            pump();
        }
        if (!ended && test_clock::now() < until)
            test_clock::advance_to(until);
    }

    void run_for(duration d) { run_until(test_clock::now() + d); }

    bool server_sent(wire::frame_type t) const
    {
        return std::any_of(sent_by_server.begin(), sent_by_server.end(), [&](const seen_frame& f) { return f.type == t; });
    }
    std::size_t size_sent_by_server(wire::frame_type t) const
    {
        for (const auto& f : sent_by_server)
            if (f.type == t)
                return f.size;
        return 0;
    }
    std::size_t largest_sent_by_client(wire::frame_type t) const
    {
        std::size_t n = 0;
        for (const auto& f : sent_by_client)
            if (f.type == t)
                n = std::max(n, f.size);
        return n;
    }
    std::size_t count_sent_by_server(wire::frame_type t) const
    {
        return static_cast<std::size_t>(std::count_if(sent_by_server.begin(), sent_by_server.end(),
                                                      [&](const seen_frame& f) { return f.type == t; }));
    }
    std::uint8_t highest_type_to_client() const
    {
        std::uint8_t t = 0;
        for (const auto& f : sent_by_server)
            t = std::max(t, static_cast<std::uint8_t>(f.type));
        return t;
    }
};

} // namespace

TEST_CASE("protocol v2: all four pairings of client and server versions", "[protocol_v2]")
{
    struct pairing {
        std::uint8_t client_version, server_version, runs;
    };
    for (const pairing p : {pairing{1, 1, 1}, pairing{2, 1, 1}, pairing{1, 2, 1}, pairing{2, 2, 2}}) {
        CAPTURE(p.client_version, p.server_version);
        link l;
        l.client_options.max_version = p.client_version;
        l.server_options.max_version = p.server_version;
        l.start();
        l.run_for(1s);
        REQUIRE_FALSE(l.ended); // no refusal in any pairing
        REQUIRE(l.cli->established());
        CHECK(l.cli->version() == p.runs);
        CHECK(l.srv->version() == p.runs);
        CHECK(l.size_sent_by_server(wire::frame_type::welcome) == (p.runs == 2 ? 15u : 6u));
        CHECK(l.size_sent_by_server(wire::frame_type::echo) == (p.runs == 2 ? 8u : 4u));
        CHECK(l.largest_sent_by_client(wire::frame_type::beat) == (p.runs == 2 ? 12u : 4u));
        if (p.runs == 1) {
            // What a version 1 client rejects never reaches it.
            CHECK(l.highest_type_to_client() <= wire::last_v1_frame_type);
            CHECK_FALSE(l.srv->smoothed_rtt());
            CHECK(l.largest_sent_by_client(wire::frame_type::terms_ack) == 0);
        }
        else {
            CHECK(l.largest_sent_by_client(wire::frame_type::terms_ack) == 6u);
            CHECK(l.cli->server_max_frame() == wire::default_max_payload);
        }
        CHECK(l.cli->smoothed_rtt() == 4ms); // the client's own echo RTT in every pairing
    }
}

TEST_CASE("protocol v2: the server measures the round trip less the client's hold", "[protocol_v2]")
{
    link l;
    l.delay = 3ms;
    l.start();
    l.run_for(2s);
    REQUIRE(l.srv->version() == 2);
    // Every stamp went out in an ECHO, was held until the next beat (about
    // an interval) and came back: the server's sample is the wire time alone.
    CHECK(l.srv->last_rtt() == 6ms);
    CHECK(l.srv->smoothed_rtt() == 6ms);
    CHECK(l.srv->rtt_variation() < 1ms);
    CHECK(l.cli->smoothed_rtt() == 6ms);
}

TEST_CASE("protocol v2: WELCOME states grace limit and detection", "[protocol_v2]")
{
    link l;
    l.server_options.grace = 250ms;
    l.server_options.max_frame = 4096;
    l.server_options.misses = 4;
    l.server_options.detection = wire::detection_kind::adaptive;
    l.start();
    l.run_for(100ms);
    REQUIRE(l.cli->established());
    CHECK(l.cli->misses() == 4);
    CHECK(l.cli->server_grace() == 250ms);
    CHECK(l.cli->server_max_frame() == 4096u);
    CHECK(l.cli->server_detection() == wire::detection_kind::adaptive);
}

TEST_CASE("protocol v2: TERMS_ACK tells the server the client's frame limit", "[protocol_v2]")
{
    link l;
    l.client_options.max_frame = 1000;
    l.start();
    CHECK(l.srv->peer_max_frame() == wire::default_max_payload); // assumed until the ack
    l.run_for(100ms);
    CHECK(l.srv->peer_max_frame() == 1000u);
    CHECK(l.srv->accept_send(1000, 1004, 0, test_clock::now()) == heartbeat::send_verdict::queued);
    CHECK(l.srv->accept_send(1001, 1005, 0, test_clock::now()) == heartbeat::send_verdict::too_large);
}

TEST_CASE("protocol v2: longer terms hold at once and shorter ones from the ack", "[protocol_v2]")
{
    SECTION("lengthened: held from the TERMS, adopted by the client on arrival")
    {
        link l;
        l.start();
        l.run_for(1s);
        const time_point sent = test_clock::now();
        REQUIRE(l.srv->renegotiate(sent, 400ms, 5));
        l.pump();
        CHECK(l.held_interval == 400ms); // before any ack
        CHECK(l.held_misses == 5u);
        l.run_until(sent + l.delay);
        CHECK(l.cli->interval() == 400ms);
        CHECK(l.cli->misses() == 5u);
        l.run_for(5s);
        CHECK_FALSE(l.ended);
        CHECK(l.longest_silence_over_terms < duration::zero());
    }
    SECTION("shortened: held only once the ack is in")
    {
        link l;
        l.client_options.interval = 1s;
        l.server_options.default_interval = 1s;
        l.start();
        l.run_for(1500ms);
        const time_point sent = test_clock::now();
        REQUIRE(l.srv->renegotiate(sent, 100ms, 2));
        l.pump();
        CHECK(l.held_interval == 1s); // still the old terms
        l.run_until(sent + 2 * l.delay - 1ns);
        CHECK(l.held_interval == 1s);
        l.run_until(sent + 2 * l.delay);
        CHECK(l.held_interval == 100ms); // the ack arrived
        CHECK(l.held_misses == 2u);
        l.run_for(3s);
        CHECK_FALSE(l.ended);
        // The client beat on the new terms from the ack: never silent for
        // longer than 2 x 100 ms held.
        CHECK(l.longest_silence_over_terms <= -100ms + 2 * l.delay);
        CHECK(l.longest_silence_over_terms < duration::zero());
    }
}

TEST_CASE("protocol v2: a renegotiation that crosses a beat in flight", "[protocol_v2]")
{
    link l;
    l.delay = 20ms;
    l.client_options.interval = 500ms;
    l.server_options.default_interval = 500ms;
    l.start();
    // WELCOME reaches the client at 40 ms; beats leave at 540, 1040, ...
    // and take 20 ms. Send shorter terms while beat 2 is on the wire.
    l.run_until(time_point(1045ms));
    REQUIRE(l.to_server.size() == 1); // beat 2, arriving at 1060 ms
    CHECK(l.to_server.front().arrives == time_point(1060ms));
    REQUIRE(l.srv->renegotiate(test_clock::now(), 100ms, 3));
    l.pump();
    l.run_until(time_point(1060ms));
    CHECK(l.held_interval == 500ms); // the beat is not the ack
    l.run_until(time_point(1085ms - 1ns));
    CHECK(l.held_interval == 500ms);
    CHECK(l.cli->interval() == 100ms); // adopted at 1065 ms
    l.run_until(time_point(1085ms));
    CHECK(l.held_interval == 100ms); // the ack is in
    l.run_for(2s);
    CHECK_FALSE(l.ended);
    CHECK(l.longest_silence_over_terms < duration::zero());
}

TEST_CASE("protocol v2: renegotiation needs an online version 2 peer", "[protocol_v2]")
{
    link l;
    l.client_options.max_version = 1;
    l.start();
    l.run_for(200ms);
    CHECK_FALSE(l.srv->renegotiate(test_clock::now(), 200ms, 3));
    l.pump();
    CHECK_FALSE(l.server_sent(wire::frame_type::terms));
}

TEST_CASE("protocol v2: a client refuses TERMS outside its bounds", "[protocol_v2]")
{
    link l;
    l.start();
    l.run_for(200ms);
    REQUIRE(l.srv->renegotiate(test_clock::now(), 5ms, 3)); // the server's own clamp is the watcher's
    l.pump();
    l.run_for(100ms);
    REQUIRE(l.ended);
    CHECK(l.client_error == error::unacceptable_terms);
}

TEST_CASE("protocol v2: a timed-out peer hears ERROR timeout", "[protocol_v2]")
{
    for (std::uint8_t v : {std::uint8_t{1}, std::uint8_t{2}}) {
        CAPTURE(v);
        link l;
        l.client_options.max_version = v;
        l.start();
        l.run_for(300ms);
        l.srv->timed_out(test_clock::now());
        l.pump();
        l.run_for(50ms);
        REQUIRE(l.ended);
        CHECK(l.client_error == error::timeout);
        CHECK(l.released == std::vector<offline_reason>{offline_reason::timeout});
    }
}

TEST_CASE("protocol v2: kick ends a session with GOODBYE kicked or an ERROR", "[protocol_v2]")
{
    SECTION("goodbye")
    {
        link l;
        l.start();
        l.run_for(300ms);
        CHECK(l.srv->kick(test_clock::now()));
        l.pump();
        l.run_for(50ms);
        REQUIRE(l.ended);
        CHECK(l.client_error == error::kicked);
        CHECK(l.released == std::vector<offline_reason>{offline_reason::kicked});
    }
    SECTION("error")
    {
        link l;
        l.start();
        l.run_for(300ms);
        CHECK(l.srv->kick(test_clock::now(), error::auth_failed));
        l.pump();
        l.run_for(50ms);
        REQUIRE(l.ended);
        CHECK(l.client_error == error::auth_failed);
        CHECK(l.released == std::vector<offline_reason>{offline_reason::kicked});
        CHECK_FALSE(l.srv->kick(test_clock::now())); // not online any more
    }
}

TEST_CASE("protocol v2: server_full comes with RETRY_AFTER for a version 2 client only", "[protocol_v2]")
{
    for (std::uint8_t v : {std::uint8_t{1}, std::uint8_t{2}}) {
        CAPTURE(v);
        link l;
        l.client_options.max_version = v;
        l.server_options.server_full_retry_after = 7s;
        l.admit_as = server::admission::outcome::full;
        l.start();
        l.run_for(50ms);
        REQUIRE(l.ended);
        CHECK(l.client_error == error::server_full);
        if (v == 2)
            CHECK(l.cli->retry_after() == 7s);
        else {
            CHECK_FALSE(l.cli->retry_after());
            CHECK_FALSE(l.server_sent(wire::frame_type::retry_after));
        }
    }
}

TEST_CASE("protocol v2: a client's ERROR closes the session without an answer", "[protocol_v2]")
{
    link l;
    l.start();
    l.run_for(300ms);
    std::vector<std::uint8_t> e;
    wire::append_error(e, wire::error_code_value::protocol_error, "bad echo");
    const auto before = l.sent_by_server.size();
    l.server_input.assign(e.begin(), e.end());
    l.srv->feed(reinterpret_cast<const std::uint8_t*>(l.server_input.data()), l.server_input.size(),
                test_clock::now(), 0);
    l.pump_server();
    CHECK(l.server_closed);
    CHECK(l.sent_by_server.size() == before);
    CHECK(l.released == std::vector<offline_reason>{offline_reason::disconnected});
}

TEST_CASE("protocol v2: frames of version 2 in a version 1 session are protocol errors", "[protocol_v2]")
{
    link l;
    l.client_options.max_version = 1;
    l.start();
    l.run_for(300ms);
    std::uint8_t ack[wire::header_size + wire::terms_ack_payload_size];
    wire::encode_terms_ack(ack, {0, 1000});
    l.server_input.assign(reinterpret_cast<const char*>(ack), sizeof ack);
    l.srv->feed(reinterpret_cast<const std::uint8_t*>(l.server_input.data()), l.server_input.size(),
                test_clock::now(), 0);
    l.pump_server();
    CHECK(l.released == std::vector<offline_reason>{offline_reason::protocol_error});
}

TEST_CASE("protocol v2: a client whose timers stop but which answers PROBEs stays online", "[protocol_v2]")
{
    link l;
    l.expire = true;
    l.server_options.probe_interval = 250ms;
    l.start();
    l.run_for(1s);
    REQUIRE(l.srv->peer_answers_probes());
    CHECK(l.count_sent_by_server(wire::frame_type::probe) == 0); // beats every 100 ms: never probed
    // The tab goes to the background: no more beats. The last one reached
    // the server at 906 ms (WELCOME arrived at 4 ms, beats leave every
    // 100 ms and take 2 ms); a PROBE follows 250 ms of silence and its
    // answer arrives 4 ms later, so the server never hears nothing for
    // longer than 254 ms, within the 300 ms it holds the client to.
    CHECK(l.last_touch == time_point(906ms));
    l.client_timers_stopped = true;
    l.run_for(5s);
    CHECK_FALSE(l.ended);
    CHECK(l.registered);
    CHECK(l.released.empty());
    CHECK(l.count_sent_by_server(wire::frame_type::probe) == static_cast<std::size_t>((6s - 906ms) / 254ms)); // 20
    CHECK(l.longest_silence_over_terms == 254ms - 300ms);
    CHECK(l.cli->probes_received() == l.count_sent_by_server(wire::frame_type::probe));
    // The answers are BEATs: echoed, and stamped, so the RTT keeps coming.
    CHECK(l.srv->last_rtt() == 4ms);
}

TEST_CASE("protocol v2: a client that answers nothing goes offline at exactly its deadline", "[protocol_v2]")
{
    link l;
    l.expire = true;
    l.server_options.probe_interval = 250ms;
    l.server_options.grace = 50ms;
    l.start();
    l.run_for(1s);
    const time_point heard = l.last_touch;
    CHECK(heard == time_point(906ms));
    l.client_frozen = true; // the script stopped: PROBEs go unanswered
    l.run_for(2s);
    REQUIRE(l.went_offline_at);
    CHECK(*l.went_offline_at == heard + 3 * 100ms + 50ms + 1ns);
    CHECK(l.released == std::vector<offline_reason>{offline_reason::timeout});
    // One PROBE went out in the silence (at 906 + 250 ms), and ERROR
    // timeout after it.
    CHECK(l.count_sent_by_server(wire::frame_type::probe) == 1);
    CHECK(l.sent_by_server.back().type == wire::frame_type::error);
}

TEST_CASE("protocol v2: no PROBE where the client did not offer or the session runs version 1", "[protocol_v2]")
{
    struct setup {
        std::uint8_t max_version;
        bool answer_probes;
    };
    for (const setup c : {setup{2, false}, setup{1, true}}) {
        CAPTURE(int{c.max_version}, c.answer_probes);
        link l;
        l.expire = true;
        l.server_options.probe_interval = 250ms;
        l.client_options.max_version = c.max_version;
        l.client_options.answer_probes = c.answer_probes;
        l.start();
        l.run_for(1s);
        CHECK_FALSE(l.srv->peer_answers_probes());
        l.client_timers_stopped = true;
        l.run_for(1s);
        CHECK(l.count_sent_by_server(wire::frame_type::probe) == 0);
        REQUIRE(l.went_offline_at); // nothing stood in for the beats
        CHECK(*l.went_offline_at == time_point(906ms) + 300ms + 1ns);
    }
}

TEST_CASE("PROTOCOL R31: the client times its RTT from the write's start and its watchdog from the completion",
          "[protocol_v2][protocol]")
{
    test_clock::reset();
    client::options o;
    o.id = "peer";
    o.interval = 100ms;
    client c(o);
    auto drain = [&] {
        std::optional<time_point> armed;
        for (auto a = c.next(); a.type != client::kind::idle && a.type != client::kind::read; a = c.next())
            if (a.type == client::kind::wait_until)
                armed = a.at;
        return armed;
    };
    c.start(test_clock::now());
    drain();
    c.write_started(test_clock::now());
    c.write_done(test_clock::now());
    std::vector<std::uint8_t> w;
    wire::append_welcome(w, {wire::protocol_version, 3, 100});
    c.feed(w.data(), w.size(), test_clock::now());
    drain();
    test_clock::advance(100ms);
    c.timer_fired(test_clock::now()); // beat 1 queued
    drain();
    c.write_started(test_clock::now()); // leaves at 100 ms
    test_clock::advance(5ms);
    c.write_done(test_clock::now()); // completes at 105 ms
    const auto armed = drain();
    test_clock::advance(3ms);
    const auto e = wire::encode_echo(1);
    c.feed(e.data(), e.size(), test_clock::now());
    drain();
    CHECK(c.last_rtt() == 8ms); // 100 -> 108, not 105 -> 108
    (void)armed;
}
