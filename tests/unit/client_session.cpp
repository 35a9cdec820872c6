#include <heartbeat/session/client_session.hpp>

#include <heartbeat/core/phi_accrual.hpp>
#include <heartbeat/testing/manual_clock.hpp>

#include "frames.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

// The client's protocol rules on virtual time, with exact instants. Each
// test plays the driver: writes complete when the test says so, the timer
// fires when the test moves the clock to its deadline.

namespace {
using namespace std::chrono_literals;
namespace wire = heartbeat::wire;
using namespace heartbeat_test::frames;
namespace frames = heartbeat_test::frames;
using heartbeat::error;
using test_clock = heartbeat::testing::basic_manual_clock<struct client_session_tag>;
using machine = heartbeat::client_session<test_clock>;
using kind = machine::kind;
using ending = machine::ending;
using time_point = test_clock::time_point;

struct step {
    kind type;
    bool urgent = false;
    ending end = ending::none;
    error code{};
    time_point at{};
    test_clock::duration interval{};
    unsigned misses = 0;
    std::string bytes;
};

std::string error_frame(wire::error_code_value code) { return frames::error_frame(code, "no"); }

machine::options defaults()
{
    machine::options o;
    o.id = "client";
    o.interval = 100ms;
    return o;
}

template <class Machine = machine>
struct driver {
    Machine m;
    std::string input;
    std::optional<time_point> timer; // what the machine armed
    bool writing = false;

    explicit driver(typename Machine::options o = defaults()) : m(std::move(o)) {}

    std::vector<step> drain()
    {
        std::vector<step> out;
        for (;;) {
            const auto a = m.next();
            if (a.type == kind::idle)
                return out;
            out.push_back({a.type, a.urgent, a.end, a.code, a.at, a.interval, a.misses, std::string(a.bytes())});
            if (a.type == kind::wait_until)
                timer = a.at;
            if (a.type == kind::cancel_timer || a.type == kind::finish)
                timer.reset();
            if (a.type == kind::read)
                return out;
        }
    }

    std::vector<step> feed(std::string bytes, bool eof = false)
    {
        input = std::move(bytes);
        m.feed(reinterpret_cast<const std::uint8_t*>(input.data()), input.size(), test_clock::now(), eof);
        return drain();
    }

    // Moves the clock to the armed deadline and fires the timer.
    std::vector<step> fire()
    {
        REQUIRE(timer);
        test_clock::advance_to(*timer);
        m.timer_fired(test_clock::now());
        return drain();
    }

    // A write of everything queued starts now and completes after `takes`.
    void write(test_clock::duration takes = 0ns)
    {
        m.write_started();
        test_clock::advance(takes);
        m.write_done(test_clock::now());
        drain();
    }

    // From start to running, at t = 0, with the server's terms.
    void establish(std::uint8_t misses = 3, std::uint32_t interval_ms = 100)
    {
        test_clock::reset();
        m.start(test_clock::now());
        drain();
        write();
        feed(welcome(misses, interval_ms));
        REQUIRE(m.established());
    }

    // Lets the next beat fall due and go out at once.
    void beat_now()
    {
        const auto s = fire();
        REQUIRE(std::any_of(s.begin(), s.end(), [](const step& x) { return x.type == kind::write && x.urgent; }));
        write();
    }
};

std::vector<kind> kinds(const std::vector<step>& steps)
{
    std::vector<kind> k;
    for (const auto& s : steps)
        k.push_back(s.type);
    return k;
}

void check_finish(const std::vector<step>& s, ending how, error code = {})
{
    REQUIRE_FALSE(s.empty());
    CHECK(s.back().type == kind::finish);
    CHECK(s.back().end == how);
    if (how == ending::error)
        CHECK(s.back().code == code);
}
} // namespace

TEST_CASE("client_session: HELLO, then WELCOME's terms are adopted", "[client_session]")
{
    test_clock::reset();
    driver<> d;
    d.m.start(test_clock::now());
    auto s = d.drain();
    REQUIRE(kinds(s) == std::vector<kind>{kind::write, kind::wait_until, kind::read});
    std::vector<std::uint8_t> hello;
    wire::append_hello(hello, {wire::protocol_version, 100, "client", {}, wire::hello_flags::v2 | wire::hello_flags::probes});
    CHECK(s[0].bytes == bytes_of(hello)); // asks for version 2 (and offers probes); the v1 WELCOME below runs version 1
    CHECK(s[1].at == time_point(5s)); // hello_timeout
    d.write();
    test_clock::advance(40ms);
    s = d.feed(welcome(4, 250));
    REQUIRE(kinds(s) == std::vector<kind>{kind::established, kind::wait_until, kind::read});
    CHECK(s[0].interval == 250ms);
    CHECK(s[0].misses == 4);
    CHECK(s[1].at == time_point(40ms + 250ms)); // the first beat
    CHECK(d.m.interval() == 250ms);
    CHECK(d.m.misses() == 4);
}

TEST_CASE("client_session: the hello timeout at exactly hello_timeout", "[client_session]")
{
    test_clock::reset();
    driver<> d;
    d.m.start(test_clock::now());
    d.drain();
    test_clock::advance(5s - 1ns);
    d.m.timer_fired(test_clock::now());
    CHECK(kinds(d.drain()) == std::vector<kind>{kind::wait_until});
    check_finish(d.fire(), ending::error, error::hello_timeout);
}

TEST_CASE("client_session: a WELCOME with terms outside the bounds is refused", "[client_session]")
{
    auto answer = [](std::string w) {
        driver<> d;
        test_clock::reset();
        d.m.start(test_clock::now());
        d.drain();
        return d.feed(std::move(w));
    };
    check_finish(answer(welcome(3, 9)), ending::error, error::unacceptable_terms);          // under 10 ms
    check_finish(answer(welcome(3, 600'001)), ending::error, error::unacceptable_terms);    // over 10 min
    check_finish(answer(welcome(3, 0xFFFF'FFFF)), ending::error, error::unacceptable_terms); // 49 days
    check_finish(answer(welcome(7, 600'000)), ending::error, error::unacceptable_terms);    // 70 min to notice
    check_finish(answer(welcome(0, 1000)), ending::error, error::protocol_error);           // no misses at all
    CHECK(answer(welcome(6, 600'000)).front().type == kind::established);                   // the bounds themselves
    CHECK(answer(welcome(255, 1000)).front().type == kind::established);
    CHECK(answer(welcome(1, 10)).front().type == kind::established);
}

TEST_CASE("client_session: refusals and goodbyes end the session with their reason", "[client_session]")
{
    auto ended_by = [](std::string frames, bool established) {
        driver<> d;
        if (established)
            d.establish();
        else {
            test_clock::reset();
            d.m.start(test_clock::now());
            d.drain();
        }
        return d.feed(std::move(frames));
    };
    check_finish(ended_by(error_frame(wire::error_code_value::auth_failed), false), ending::error, error::auth_failed);
    check_finish(ended_by(error_frame(wire::error_code_value::server_full), false), ending::error, error::server_full);
    check_finish(ended_by(error_frame(wire::error_code_value(999)), false), ending::error, error::rejected);
    check_finish(ended_by(echo(1), false), ending::error, error::protocol_error); // before WELCOME
    check_finish(ended_by(goodbye(wire::goodbye_reason::replaced), true), ending::error, error::replaced);
    check_finish(ended_by(goodbye(wire::goodbye_reason::shutting_down), true), ending::error, error::shutting_down);
    check_finish(ended_by(goodbye(wire::goodbye_reason::normal), true), ending::error, error::peer_left);
    check_finish(ended_by(beat(1), true), ending::error, error::protocol_error); // servers do not beat
    check_finish(ended_by(std::string("\x0b\x00\x00\x00", 4), true), ending::error, error::unknown_frame_type);
    check_finish(ended_by(welcome(3, 100), true), ending::error, error::protocol_error);
}

TEST_CASE("client_session: DATA past max_frame ends the session at its header", "[client_session]")
{
    auto o = defaults();
    o.max_frame = 100;
    driver<> d(o);
    d.establish();
    auto s = d.feed(data_frame(std::string(100, 'x')));
    CHECK(s.front().type == kind::deliver);
    check_finish(d.feed(header(wire::frame_type::data, 101)), ending::error, error::frame_too_large);
}

TEST_CASE("client_session: the watchdog fires at exactly the misses-th overdue echo", "[client_session]")
{
    driver<> d;
    d.establish(3, 100); // I = 100 ms, N = 3
    // Beats leave at 100, 200 and 300 ms (each write takes 2 ms); no echo.
    for (int i = 0; i < 3; ++i) {
        d.fire();
        d.write(2ms);
    }
    CHECK(d.m.unanswered() == 3);
    // Each write completed 2 ms after its beat fell due: beats left at 102,
    // 202 and 302 ms. The third one's echo is overdue one interval after it
    // left: lost the first tick after 402 ms, not before.
    test_clock::advance_to(time_point(400ms));
    d.m.timer_fired(test_clock::now()); // the fourth beat is due, not the loss
    auto s = d.drain();
    CHECK(std::none_of(s.begin(), s.end(), [](const step& x) { return x.type == kind::finish; }));
    REQUIRE(d.timer == time_point(402ms + 1ns));
    test_clock::advance_to(time_point(402ms));
    d.m.timer_fired(test_clock::now());
    s = d.drain();
    CHECK(std::none_of(s.begin(), s.end(), [](const step& x) { return x.type == kind::finish; }));
    check_finish(d.fire(), ending::error, error::peer_lost);
    CHECK(test_clock::now() == time_point(402ms + 1ns));
}

TEST_CASE("client_session: echoes are matched by sequence number", "[client_session]")
{
    driver<> d;
    d.establish(2, 100);
    d.beat_now(); // seq 1 at 100 ms
    d.beat_now(); // seq 2 at 200 ms
    SECTION("a late echo of an old beat excuses nothing newer")
    {
        test_clock::advance(30ms);
        d.feed(echo(1));
        CHECK(d.m.unanswered() == 1);
        CHECK(d.m.last_rtt() == 130ms);
        d.beat_now(); // seq 3 at 300 ms: beats 2 and 3 unanswered, N = 2
        d.fire();     // 400 ms: the fourth beat is due; beat 3's echo is not late yet
        check_finish(d.fire(), ending::error, error::peer_lost);
        CHECK(test_clock::now() == time_point(400ms + 1ns));
    }
    SECTION("the echo of the newest beat answers every older one")
    {
        test_clock::advance(10ms);
        d.feed(echo(2));
        CHECK(d.m.unanswered() == 0);
        CHECK(d.m.last_rtt() == 10ms);
        CHECK(d.m.echoes_received() == 1);
    }
    SECTION("an echo for a beat never sent is a protocol error")
    {
        check_finish(d.feed(echo(3)), ending::error, error::protocol_error);
    }
    SECTION("an echo for a beat queued but not yet written is from the future too")
    {
        d.fire(); // seq 3 queued
        check_finish(d.feed(echo(3)), ending::error, error::protocol_error);
    }
}

TEST_CASE("client_session: an echo that overtakes its write's completion counts", "[client_session]")
{
    driver<> d;
    d.establish(1, 100);
    d.fire();             // seq 1 queued at 100 ms
    d.m.write_started();  // on the wire...
    test_clock::advance(1ms);
    d.feed(echo(1));      // ...and answered before our completion handler ran
    d.m.write_done(test_clock::now());
    d.drain();
    CHECK(d.m.unanswered() == 0); // no miss counted for it
    CHECK(d.m.beats_sent() == 1);
}

TEST_CASE("client_session: any traffic but an echo is an answer", "[client_session]")
{
    driver<> d;
    d.establish(3, 100);
    d.beat_now();
    d.beat_now();
    CHECK(d.m.unanswered() == 2);
    SECTION("a whole DATA frame")
    {
        const auto s = d.feed(data_frame("push"));
        CHECK(s.front().type == kind::deliver);
        CHECK(s.front().bytes == "push");
        CHECK(d.m.unanswered() == 0);
    }
    SECTION("part of one")
    {
        d.feed(data_frame("push").substr(0, 5));
        CHECK(d.m.unanswered() == 0);
    }
}

TEST_CASE("client_session: one beat at a time waits for a write in flight", "[client_session]")
{
    driver<> d;
    d.establish(3, 100);
    auto s = d.fire(); // seq 1 queued; the driver's write is stuck
    CHECK(std::count_if(s.begin(), s.end(), [](const step& x) { return x.type == kind::write; }) == 1);
    CHECK(s.front().urgent); // ahead of any queued DATA
    s = d.fire();            // the next interval: still queued, no second beat
    CHECK(std::count_if(s.begin(), s.end(), [](const step& x) { return x.type == kind::write; }) == 0);
    d.write();
    s = d.fire();
    REQUIRE(s.front().type == kind::write);
    CHECK(s.front().bytes == beat(2));
}

TEST_CASE("client_session: beat_only_when_idle skips a beat after traffic both ways", "[client_session]")
{
    auto o = defaults();
    o.beat_only_when_idle = true;
    driver<> d(o);
    d.establish(3, 100);
    // The first interval carried HELLO out and WELCOME in: no beat.
    auto s = d.fire();
    CHECK(std::none_of(s.begin(), s.end(), [](const step& x) { return x.type == kind::write; }));
    // A quiet interval: beat.
    s = d.fire();
    CHECK(std::any_of(s.begin(), s.end(), [](const step& x) { return x.type == kind::write; }));
}

TEST_CASE("client_session: smoothed RTT with the configured gain", "[client_session]")
{
    auto o = defaults();
    o.rtt_gain = 0.5;
    driver<> d(o);
    d.establish(3, 100);
    d.beat_now();
    test_clock::advance(40ms);
    d.feed(echo(1));
    d.beat_now();
    test_clock::advance(20ms);
    d.feed(echo(2));
    CHECK(d.m.last_rtt() == 20ms);
    CHECK(d.m.smoothed_rtt() == 30ms);
}

TEST_CASE("client_session: leave", "[client_session]")
{
    driver<> d;
    d.establish(3, 100);
    test_clock::advance(10ms);
    d.m.leave(test_clock::now());
    auto s = d.drain();
    REQUIRE(kinds(s) == std::vector<kind>{kind::wait_until, kind::close_after});
    CHECK(s[0].at == test_clock::now() + 1s);
    CHECK(s[1].bytes == goodbye(wire::goodbye_reason::normal));
    SECTION("the server closes: success") { check_finish(d.feed("", true), ending::success); }
    SECTION("the server says goodbye too: success") { check_finish(d.feed(goodbye(wire::goodbye_reason::normal)), ending::success); }
    SECTION("nobody closes: success at close_timeout")
    {
        check_finish(d.fire(), ending::success);
        CHECK(test_clock::now() == time_point(10ms + 1s));
    }
    SECTION("no beats while leaving") { CHECK(kinds(d.feed(data_frame("late"))) == std::vector<kind>{kind::deliver, kind::read}); }
}

TEST_CASE("client_session: leave before WELCOME arrives", "[client_session]")
{
    test_clock::reset();
    driver<> d;
    d.m.start(test_clock::now());
    d.drain();
    d.m.leave(test_clock::now());
    d.drain();
    // The WELCOME that crossed our GOODBYE is not a protocol error.
    CHECK(kinds(d.feed(welcome(3, 100))) == std::vector<kind>{kind::read});
    check_finish(d.feed("", true), ending::success);
}

TEST_CASE("client_session: an id the protocol cannot carry", "[client_session]")
{
    auto o = defaults();
    o.id = std::string(256, 'x');
    driver<> d(o);
    d.m.start(test_clock::now());
    check_finish(d.drain(), ending::error, error::bad_id);
}

TEST_CASE("client_session: the transport ends", "[client_session]")
{
    driver<> d;
    d.establish();
    SECTION("EOF") { check_finish(d.feed("", true), ending::transport); }
    SECTION("a failed write")
    {
        d.m.write_failed(test_clock::now());
        check_finish(d.drain(), ending::transport);
    }
    SECTION("stop") {
        d.m.abort();
        check_finish(d.drain(), ending::aborted);
    }
}

TEST_CASE("client_session: with phi-accrual, answers feed the policy", "[client_session]")
{
    using phi_machine = heartbeat::client_session<test_clock, heartbeat::phi_accrual<test_clock>>;
    static_assert(!phi_machine::counts_echoes);
    phi_machine::options o;
    o.id = "phi";
    driver<phi_machine> d(o);
    d.establish(3, 100);
    // Answers every 100 ms teach it the server's rhythm; then silence.
    for (int i = 1; i <= 20; ++i) {
        d.beat_now();
        test_clock::advance(1ms);
        d.feed(echo(static_cast<std::uint32_t>(i)));
    }
    CHECK(d.m.unanswered() == 0);
    // A silent server: beats keep going out, and the policy gives up at
    // the instant it names; the list of unanswered beats stays bounded.
    std::vector<step> s;
    for (int i = 0; i < 1000 && (s.empty() || s.back().type != kind::finish); ++i) {
        s = d.fire();
        if (!s.empty() && s.back().type != kind::finish)
            d.write();
    }
    check_finish(s, ending::error, error::peer_lost);
    CHECK(d.m.unanswered() <= 256);
}

namespace {
// The client's HELLO flags for these options.
unsigned hello_flags_of(machine::options o)
{
    test_clock::reset();
    driver<> d(std::move(o));
    d.m.start(test_clock::now());
    const auto s = d.drain();
    REQUIRE_FALSE(s.empty());
    REQUIRE(s[0].bytes.size() > 7);
    return static_cast<std::uint8_t>(s[0].bytes[7]);
}

// Running version 2 from WELCOME at 0 s (3 x 100 ms), TERMS_ACK 0 written.
void establish_v2(driver<>& d)
{
    test_clock::reset();
    d.m.start(test_clock::now());
    d.drain();
    d.write();
    d.feed(welcome_v2(3, 100));
    REQUIRE(d.m.established());
    REQUIRE(d.m.version() == 2);
    d.write();
}
} // namespace

TEST_CASE("client_session: HELLO offers to answer probes unless told not to", "[client_session]")
{
    CHECK(hello_flags_of(defaults()) == unsigned{wire::hello_flags::v2 | wire::hello_flags::probes});
    auto quiet = defaults();
    quiet.answer_probes = false;
    CHECK(hello_flags_of(quiet) == unsigned{wire::hello_flags::v2});
    auto v1 = defaults();
    v1.max_version = 1;
    CHECK(hello_flags_of(v1) == 0u); // the flag means nothing without version 2
}

TEST_CASE("client_session: a PROBE is answered at once by the next BEAT and leaves the schedule alone",
          "[client_session]")
{
    driver<> d;
    establish_v2(d);
    d.beat_now(); // seq 1 at 100 ms
    test_clock::advance(30ms);
    d.feed(echo_v2(1, 77)); // at 130 ms: a stamp to return
    test_clock::advance(20ms);
    auto s = d.feed(probe(1)); // at 150 ms
    REQUIRE(kinds(s) == std::vector<kind>{kind::write, kind::read});
    CHECK(s[0].urgent); // ahead of queued DATA
    CHECK(s[0].bytes == beat_v2(2, 77, 20'000)); // the stamp, held 20 ms
    CHECK(d.m.probes_received() == 1u);
    d.write();
    CHECK(d.timer == time_point(200ms)); // the schedule did not move
    s = d.fire();
    CHECK(test_clock::now() == time_point(200ms));
    REQUIRE_FALSE(s.empty());
    CHECK(s.front().bytes == beat(3)); // the next seq; no new stamp to return
    SECTION("a beat already queued answers it")
    {
        s = d.feed(probe(2)); // beat 3 not written yet
        CHECK(kinds(s) == std::vector<kind>{kind::read});
        d.write();
        CHECK(d.m.beats_sent() == 3u);
    }
    SECTION("its echo is matched like any other")
    {
        d.write();
        test_clock::advance(5ms);
        d.feed(probe(2));
        d.write(); // beat 4
        test_clock::advance(3ms);
        d.feed(echo_v2(4, 90));
        CHECK(d.m.unanswered() == 0u);
        CHECK(d.m.last_rtt() == 3ms);
    }
}

TEST_CASE("client_session: a PROBE is traffic for the watchdog (R13)", "[client_session]")
{
    driver<> d;
    establish_v2(d);
    d.beat_now();
    d.beat_now();
    REQUIRE(d.m.unanswered() == 2u);
    d.feed(probe(1));
    CHECK(d.m.unanswered() == 0u);
}

TEST_CASE("client_session: a PROBE the client did not offer to answer ends the session", "[client_session]")
{
    SECTION("version 2 with answer_probes off: protocol_error")
    {
        auto o = defaults();
        o.answer_probes = false;
        driver<> d(o);
        establish_v2(d);
        check_finish(d.feed(probe(1)), ending::error, error::protocol_error);
    }
    SECTION("a version 1 session: a type it does not know")
    {
        driver<> d;
        d.establish(); // WELCOME version 1
        check_finish(d.feed(probe(1)), ending::error, error::unknown_frame_type);
    }
    SECTION("before WELCOME: out of order")
    {
        test_clock::reset();
        driver<> d;
        d.m.start(test_clock::now());
        d.drain();
        check_finish(d.feed(probe(1)), ending::error, error::protocol_error);
    }
    SECTION("leaving: ignored, GOODBYE is on its way")
    {
        driver<> d;
        establish_v2(d);
        d.m.leave(test_clock::now());
        d.drain();
        CHECK(kinds(d.feed(probe(1))) == std::vector<kind>{kind::read});
    }
}

TEST_CASE("client_session: a watchdog check that runs late gives the server its lateness again, once",
          "[client_session][lag]")
{
    const auto finished = [](const std::vector<step>& s) {
        return std::any_of(s.begin(), s.end(), [](const step& x) { return x.type == kind::finish; });
    };
    driver<> d;
    d.establish(3, 100); // I = 100 ms, N = 3: beats at 100, 200, 300 ms
    for (int i = 0; i < 3; ++i)
        d.beat_now();
    // Unanswered, the server counts as lost from 400 ms + 1 ns; this
    // client's loop is 40 ms late to look (over the 10 ms lag threshold).
    test_clock::advance_to(time_point(440ms + 1ns));
    d.m.timer_fired(test_clock::now());
    auto s = d.drain();
    CHECK_FALSE(finished(s));
    SECTION("the echo that waited unread is read within the deferral")
    {
        d.write(); // the fourth beat, due at 400 ms, leaves now
        test_clock::advance(5ms);
        d.feed(echo(4));
        CHECK(d.m.unanswered() == 0);
        CHECK(d.m.established());
    }
    SECTION("still silent when the deferral ends: lost, not deferred again")
    {
        d.write();
        REQUIRE(d.timer == time_point(480ms + 1ns));
        test_clock::advance_to(time_point(530ms)); // late again
        d.m.timer_fired(test_clock::now());
        check_finish(d.drain(), ending::error, error::peer_lost);
    }
}

TEST_CASE("client_session: lateness up to the lag threshold defers nothing; zero turns the rule off",
          "[client_session][lag]")
{
    auto o = defaults();
    SECTION("10 ms late, the threshold") {}
    SECTION("off") { o.lag_threshold = 0ms; }
    driver<> d(o);
    d.establish(3, 100);
    for (int i = 0; i < 3; ++i)
        d.beat_now();
    test_clock::advance_to(time_point(410ms + 1ns));
    d.m.timer_fired(test_clock::now());
    check_finish(d.drain(), ending::error, error::peer_lost);
}
