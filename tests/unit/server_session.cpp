#include <heartbeat/session/server_session.hpp>

#include <heartbeat/testing/manual_clock.hpp>

#include "frames.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

// The server's protocol rules on virtual time: every instant below is
// exact. Each test plays the driver: it feeds bytes, answers the
// authenticator and the registry, and checks the actions that come out.

namespace {
using namespace std::chrono_literals;
namespace wire = heartbeat::wire;
using namespace heartbeat_test::frames;
namespace frames = heartbeat_test::frames;
using heartbeat::error;
using heartbeat::offline_reason;
using heartbeat::send_verdict;
using test_clock = heartbeat::testing::basic_manual_clock<struct server_session_tag>;
using machine = heartbeat::server_session<test_clock>;
using kind = machine::kind;
using admission = machine::admission;
using time_point = test_clock::time_point;

const time_point t0 = time_point(10s);

// An action with its views copied out.
struct step {
    kind type;
    bool urgent = false;
    bool replace = false;
    offline_reason reason{};
    std::optional<error> cause;
    time_point at{};
    test_clock::duration interval{};
    std::string id;
    std::string credential;
    std::string bytes;
};

std::string error_frame(error e) { return frames::error_frame(heartbeat::to_wire(e), heartbeat::describe(e)); }

// The driver's side, scripted: verdicts and admissions are answered at
// once unless the test holds them.
struct driver {
    machine m;
    std::optional<error> verdict;
    bool hold_verdict = false;
    admission::outcome admit = admission::outcome::admitted;
    test_clock::duration held = 1s;
    std::size_t queued = 0;
    std::string input; // kept alive while the machine reads it

    explicit driver(machine::options o = {}) : m(o) {}

    // Takes actions until the machine waits.
    std::vector<step> drain()
    {
        std::vector<step> out;
        for (;;) {
            const auto a = m.next();
            if (a.type == kind::idle)
                return out;
            step s{a.type, a.urgent, a.replace, a.reason, a.cause, a.at, a.interval,
                   std::string(a.id), std::string(a.credential), std::string(a.bytes())};
            out.push_back(s);
            if (a.type == kind::read)
                return out;
            if (a.type == kind::authenticate && !hold_verdict)
                m.authenticated(verdict, test_clock::now());
            if (a.type == kind::admit)
                m.admitted({admit, admit == admission::outcome::admitted ? held : test_clock::duration{}},
                           test_clock::now());
        }
    }

    std::vector<step> feed(std::string bytes, bool eof = false)
    {
        input = std::move(bytes);
        m.feed(reinterpret_cast<const std::uint8_t*>(input.data()), input.size(), test_clock::now(), queued, eof);
        return drain();
    }

    std::vector<step> timer() { m.timer_fired(test_clock::now()); return drain(); }

    // Starts at t0 and completes a HELLO for `id`.
    void welcome_peer(std::string_view id = "peer")
    {
        test_clock::reset();
        test_clock::advance_to(t0);
        m.start(test_clock::now());
        drain();
        feed(hello(id, 1000));
        REQUIRE(m.online());
    }
};

std::vector<kind> kinds(const std::vector<step>& steps)
{
    std::vector<kind> k;
    for (const auto& s : steps)
        k.push_back(s.type);
    return k;
}

// The refusal every rule ends with: arm the linger, write ERROR, close
// after flushing.
void check_refusal(std::vector<step> steps, error e, bool was_registered)
{
    // A refusal decided while reading reads on: the linger drains input.
    if (!steps.empty() && steps.back().type == kind::read)
        steps.pop_back();
    std::vector<kind> want;
    if (was_registered)
        want.push_back(kind::release);
    want.insert(want.end(), {kind::wait_until, kind::close_after});
    REQUIRE(kinds(steps) == want);
    const auto& last = steps.back();
    CHECK(last.bytes == error_frame(e));
    CHECK(last.cause == e);
    CHECK(steps[steps.size() - 2].at == test_clock::now() + 1s); // close_timeout
}
} // namespace

TEST_CASE("server_session: HELLO, authenticator, admission, WELCOME", "[server_session]")
{
    test_clock::reset();
    test_clock::advance_to(t0);
    driver d;
    d.m.start(t0);
    auto s = d.drain();
    REQUIRE(kinds(s) == std::vector<kind>{kind::wait_until, kind::read});
    CHECK(s[0].at == t0 + 5s); // hello_timeout

    test_clock::advance(30ms);
    d.held = 250ms;
    s = d.feed(hello("sensor-1", 200, "secret"));
    REQUIRE(kinds(s) == std::vector<kind>{kind::authenticate, kind::admit, kind::cancel_timer, kind::write, kind::read});
    CHECK(s[0].id == "sensor-1");
    CHECK(s[0].credential == "secret");
    CHECK(s[0].interval == 200ms);
    CHECK(s[1].id == "sensor-1");
    CHECK(s[1].interval == 200ms);
    CHECK(s[1].replace); // duplicate_policy::replace by default
    CHECK(s[1].at == t0 + 30ms);
    CHECK(s[3].bytes == welcome(3, 250)); // the interval the registry held it to
    CHECK_FALSE(s[3].urgent);
    CHECK(d.m.online());
    CHECK(d.m.registered());
}

TEST_CASE("server_session: a peer that announces no interval gets the default", "[server_session]")
{
    machine::options o;
    o.default_interval = 700ms;
    o.misses = 4;
    driver d(o);
    test_clock::reset();
    d.m.start(test_clock::now());
    d.drain();
    d.held = 700ms;
    const auto s = d.feed(hello("p", 0));
    CHECK(s[1].interval == 700ms);
    CHECK(s[3].bytes == welcome(4, 700));
}

TEST_CASE("server_session: WELCOME's terms are clamped to what the wire carries", "[server_session]")
{
    machine::options o;
    o.misses = 1000;
    driver d(o);
    test_clock::reset();
    d.m.start(test_clock::now());
    d.drain();
    d.held = 100us; // under a millisecond still says 1 ms, never 0
    const auto s = d.feed(hello("p", 1));
    CHECK(s[3].bytes == welcome(255, 1));
}

TEST_CASE("server_session: the hello timeout fires at exactly hello_timeout", "[server_session]")
{
    test_clock::reset();
    driver d;
    d.m.start(test_clock::now());
    d.drain();
    d.feed(hello("p").substr(0, 5)); // a HELLO that never completes
    test_clock::advance(5s - 1ns);
    CHECK(d.timer().empty());
    test_clock::advance(1ns);
    check_refusal(d.timer(), error::hello_timeout, false);
    // The linger: bytes are discarded, then the close deadline closes.
    CHECK(kinds(d.feed(hello("p"))) == std::vector<kind>{kind::read});
    test_clock::advance(1s - 1ns);
    CHECK(d.timer().empty());
    test_clock::advance(1ns);
    const auto s = d.timer();
    REQUIRE(kinds(s) == std::vector<kind>{kind::close});
    CHECK(d.m.closed());
}

TEST_CASE("server_session: half-close then EOF ends the linger", "[server_session]")
{
    test_clock::reset();
    driver d;
    d.m.start(test_clock::now());
    d.drain();
    check_refusal(d.feed(beat(1)), error::protocol_error, false);
    CHECK(kinds(d.feed("", true)) == std::vector<kind>{kind::close});
    CHECK(d.m.closed());
    CHECK(d.m.next().type == kind::idle);
}

TEST_CASE("server_session: hostile first frames get their own error", "[server_session]")
{
    auto refused = [](std::string first) {
        test_clock::reset();
        machine::options o;
        o.max_frame = 1024;
        driver d(o);
        d.m.start(test_clock::now());
        d.drain();
        return d.feed(std::move(first));
    };
    SECTION("not a HELLO") { check_refusal(refused(beat(1)), error::protocol_error, false); }
    SECTION("garbage type byte") { check_refusal(refused(std::string("\x42\x00\x00\x00", 4)), error::unknown_frame_type, false); }
    SECTION("bad magic")
    {
        auto h = hello("p");
        h[4] = 'X';
        check_refusal(refused(h), error::bad_magic, false);
    }
    SECTION("another version")
    {
        auto h = hello("p");
        h[6] = 9;
        check_refusal(refused(h), error::unsupported_version, false);
    }
    SECTION("a frame over the limit is refused at its header")
    {
        check_refusal(refused(header(wire::frame_type::data, 1025)), error::frame_too_large, false);
    }
    SECTION("a BEAT claiming a megabyte")
    {
        check_refusal(refused(header(wire::frame_type::beat, 1000)), error::protocol_error, false);
    }
    SECTION("an empty id") { check_refusal(refused(hello("")), error::bad_id, false); }
    SECTION("a HELLO whose id overruns it")
    {
        auto h = hello("abc");
        h[4 + 8] = static_cast<char>(200); // the id length byte
        check_refusal(refused(h), error::protocol_error, false);
    }
}

TEST_CASE("server_session: the authenticator's verdicts", "[server_session]")
{
    test_clock::reset();
    driver d;
    d.m.start(test_clock::now());
    d.drain();
    SECTION("any error refuses with auth_failed")
    {
        d.verdict = error::rejected;
        const auto s = d.feed(hello("p"));
        REQUIRE(s.front().type == kind::authenticate);
        check_refusal({s.begin() + 1, s.end()}, error::auth_failed, false);
    }
    SECTION("bad_id stays bad_id")
    {
        d.verdict = error::bad_id;
        const auto s = d.feed(hello("p"));
        check_refusal({s.begin() + 1, s.end()}, error::bad_id, false);
    }
}

TEST_CASE("server_session: an asynchronous authenticator holds the input and the deadline", "[server_session]")
{
    test_clock::reset();
    driver d;
    d.hold_verdict = true;
    d.m.start(test_clock::now());
    d.drain();
    // HELLO and a BEAT in one read: the BEAT waits for the verdict.
    auto s = d.feed(hello("p") + beat(1));
    REQUIRE(kinds(s) == std::vector<kind>{kind::authenticate});
    CHECK(d.m.state() == machine::phase::authenticating);
    CHECK(d.drain().empty()); // no read while the verdict is out

    SECTION("the verdict comes: admitted, then the held BEAT is echoed")
    {
        test_clock::advance(2s);
        d.m.authenticated(std::nullopt, test_clock::now());
        s = d.drain();
        REQUIRE(kinds(s) == std::vector<kind>{kind::admit, kind::cancel_timer, kind::write, kind::write,
                                              kind::sample_rtt, kind::read});
        CHECK(s[0].at == time_point(2s));
        CHECK(s[3].bytes == echo(1));
    }
    SECTION("it does not come within hello_timeout")
    {
        test_clock::advance(5s);
        check_refusal(d.timer(), error::hello_timeout, false);
        d.m.authenticated(std::nullopt, test_clock::now()); // too late: ignored
        CHECK(d.drain().empty());
    }
}

TEST_CASE("server_session: duplicate ids follow the policy", "[server_session]")
{
    SECTION("replace asks to take over; reject asks only for a free id")
    {
        for (auto policy : {heartbeat::duplicate_policy::replace, heartbeat::duplicate_policy::reject}) {
            machine::options o;
            o.on_duplicate = policy;
            driver d(o);
            test_clock::reset();
            d.m.start(test_clock::now());
            d.drain();
            const auto s = d.feed(hello("p"));
            CHECK(s[1].replace == (policy == heartbeat::duplicate_policy::replace));
        }
    }
    SECTION("an id that is taken is refused with duplicate_id")
    {
        driver d;
        test_clock::reset();
        d.admit = admission::outcome::taken;
        d.m.start(test_clock::now());
        d.drain();
        const auto s = d.feed(hello("p"));
        check_refusal({s.begin() + 2, s.end()}, error::duplicate_id, false);
    }
    SECTION("a full registry refuses with server_full")
    {
        driver d;
        test_clock::reset();
        d.admit = admission::outcome::full;
        d.m.start(test_clock::now());
        d.drain();
        const auto s = d.feed(hello("p"));
        check_refusal({s.begin() + 2, s.end()}, error::server_full, false);
    }
    SECTION("the replaced session says goodbye and lingers")
    {
        driver d;
        d.welcome_peer();
        d.m.replaced(test_clock::now());
        const auto s = d.drain();
        REQUIRE(kinds(s) == std::vector<kind>{kind::release, kind::wait_until, kind::close_after});
        CHECK(s[0].reason == offline_reason::replaced);
        CHECK(s[2].bytes == goodbye(wire::goodbye_reason::replaced));
        CHECK_FALSE(d.m.registered());
    }
}

TEST_CASE("server_session: beats are echoed urgently and every byte is life", "[server_session]")
{
    driver d;
    d.welcome_peer();
    test_clock::advance(1s);
    auto s = d.feed(beat(7));
    REQUIRE(kinds(s) == std::vector<kind>{kind::touch, kind::write, kind::sample_rtt, kind::read});
    CHECK(s[0].at == test_clock::now());
    CHECK(s[1].bytes == echo(7));
    CHECK(s[1].urgent);
    // Half a DATA frame is still a sign of life.
    test_clock::advance(1s);
    s = d.feed(data_frame("hello").substr(0, 6));
    REQUIRE(kinds(s) == std::vector<kind>{kind::touch, kind::read});
    s = d.feed(data_frame("hello").substr(6));
    REQUIRE(kinds(s) == std::vector<kind>{kind::touch, kind::deliver, kind::read});
    CHECK(s[1].bytes == "hello");
}

TEST_CASE("server_session: RTT samples at most every rtt_sample_interval", "[server_session]")
{
    machine::options o;
    o.rtt_sample_interval = 10s;
    driver d(o);
    d.welcome_peer();
    auto samples = [&] {
        const auto s = d.feed(beat(1));
        return std::count_if(s.begin(), s.end(), [](const step& x) { return x.type == kind::sample_rtt; });
    };
    CHECK(samples() == 1);
    test_clock::advance(10s - 1ns);
    CHECK(samples() == 0);
    test_clock::advance(1ns);
    CHECK(samples() == 1);
}

TEST_CASE("server_session: the frame-rate limit's budget, to the frame", "[server_session]")
{
    machine::options o;
    o.max_frame_rate = 10;
    o.max_frame_burst = 5;
    driver d(o);
    d.welcome_peer(); // the HELLO took one token: 4 left
    std::string four;
    for (std::uint32_t i = 1; i <= 4; ++i)
        four += beat(i);
    auto s = d.feed(four);
    CHECK(std::count_if(s.begin(), s.end(), [](const step& x) { return x.type == kind::write; }) == 4);
    // 100 ms refill one token at 10 per second: one more beat, then the next is over budget.
    test_clock::advance(100ms);
    s = d.feed(beat(5) + beat(6));
    REQUIRE(kinds(s) == std::vector<kind>{kind::touch, kind::write, kind::release, kind::wait_until,
                                          kind::close_after, kind::read});
    CHECK(s[2].reason == offline_reason::protocol_error);
    CHECK(s[4].bytes == error_frame(error::rate_limited));
}

TEST_CASE("server_session: a peer that beats but never reads is held to the send queue", "[server_session]")
{
    machine::options o;
    o.max_send_queue = 100;
    driver d(o);
    d.welcome_peer();
    d.queued = 92;
    auto s = d.feed(beat(1));
    CHECK(s[1].type == kind::write); // 92 + 8 fits exactly
    d.queued = 93;
    s = d.feed(beat(2));
    REQUIRE(s.size() == 5);
    CHECK(s[1].reason == offline_reason::disconnected);
    CHECK(s[3].bytes == error_frame(error::send_queue_full));
}

TEST_CASE("server_session: application sends are held to the send queue", "[server_session]")
{
    machine::options o;
    o.max_send_queue = 100;
    driver d(o);
    CHECK(d.m.accept_send(6, 10, 0, test_clock::now()) == send_verdict::not_online);
    d.welcome_peer();
    CHECK(d.m.accept_send(56, 60, 40, test_clock::now()) == send_verdict::queued);
    CHECK(d.m.accept_send(57, 61, 40, test_clock::now()) == send_verdict::overflow);
    const auto s = d.drain();
    REQUIRE(kinds(s) == std::vector<kind>{kind::release, kind::wait_until, kind::close_after});
    CHECK(s[0].reason == offline_reason::disconnected);
}

TEST_CASE("server_session: GOODBYE, EOF and frames out of place", "[server_session]")
{
    driver d;
    d.welcome_peer();
    SECTION("GOODBYE: left, closed at once; what follows is ignored")
    {
        const auto s = d.feed(goodbye(wire::goodbye_reason::normal) + beat(1));
        REQUIRE(kinds(s) == std::vector<kind>{kind::touch, kind::release, kind::close});
        CHECK(s[1].reason == offline_reason::left);
        CHECK_FALSE(s[2].cause);
    }
    SECTION("EOF after a last beat: the beat is answered first")
    {
        const auto s = d.feed(beat(1), true);
        REQUIRE(kinds(s) == std::vector<kind>{kind::touch, kind::write, kind::sample_rtt, kind::release,
                                              kind::close});
        CHECK(s[3].reason == offline_reason::disconnected);
    }
    SECTION("a reset in the middle of a frame drops the partial frame")
    {
        const auto s = d.feed(data_frame("partial").substr(0, 6), true);
        REQUIRE(kinds(s) == std::vector<kind>{kind::touch, kind::release, kind::close});
        CHECK(s[1].reason == offline_reason::disconnected);
    }
    SECTION("a write that fails is a disconnect")
    {
        d.m.write_failed(test_clock::now());
        const auto s = d.drain();
        REQUIRE(kinds(s) == std::vector<kind>{kind::release, kind::close});
        CHECK(s[0].reason == offline_reason::disconnected);
    }
    SECTION("a second HELLO")
    {
        const auto s = d.feed(hello("p"));
        CHECK(s[1].type == kind::release);
        CHECK(s[1].reason == offline_reason::protocol_error);
        check_refusal({s.begin() + 1, s.end()}, error::protocol_error, true);
    }
    SECTION("a frame only servers send")
    {
        const auto s = d.feed(welcome(3, 1000));
        check_refusal({s.begin() + 1, s.end()}, error::protocol_error, true);
    }
    SECTION("a BEAT with the wrong length")
    {
        const auto s = d.feed(header(wire::frame_type::beat, 3) + "abc");
        check_refusal({s.begin() + 1, s.end()}, error::protocol_error, true);
    }
}

TEST_CASE("server_session: a timed-out peer is closed, or kept if asked", "[server_session]")
{
    SECTION("close_on_timeout (the default)")
    {
        driver d;
        d.welcome_peer();
        d.m.timed_out(test_clock::now());
        const auto s = d.drain();
        // The peer hears why, if it still reads: ERROR(timeout), then the
        // linger of any close.
        REQUIRE(kinds(s) == std::vector<kind>{kind::release, kind::wait_until, kind::close_after});
        CHECK(s[0].reason == offline_reason::timeout);
        CHECK(s[1].at == test_clock::now() + 1s);
        CHECK(s[2].bytes == error_frame(error::timeout));
        CHECK(s[2].cause == error::timeout);
    }
    SECTION("close_on_timeout = false: the session stays and its bytes touch again")
    {
        machine::options o;
        o.close_on_timeout = false;
        driver d(o);
        d.welcome_peer();
        d.m.timed_out(test_clock::now());
        CHECK(d.drain().empty());
        CHECK(kinds(d.feed(beat(1))).front() == kind::touch);
    }
}

TEST_CASE("server_session: shutdown", "[server_session]")
{
    SECTION("a welcomed peer hears GOODBYE(shutting_down)")
    {
        driver d;
        d.welcome_peer();
        d.m.shutdown(test_clock::now());
        const auto s = d.drain();
        REQUIRE(kinds(s) == std::vector<kind>{kind::release, kind::wait_until, kind::close_after});
        CHECK(s[0].reason == offline_reason::shutdown);
        CHECK(s[2].bytes == goodbye(wire::goodbye_reason::shutting_down));
    }
    SECTION("a peer not yet welcomed hears ERROR shutting_down")
    {
        driver d;
        test_clock::reset();
        d.m.start(test_clock::now());
        d.drain();
        d.m.shutdown(test_clock::now());
        const auto s = d.drain();
        REQUIRE(kinds(s) == std::vector<kind>{kind::wait_until, kind::close_after});
        CHECK(s[1].bytes == error_frame(error::shutting_down));
        CHECK(s[1].cause == error::shutting_down);
    }
    SECTION("a peer still in its transport handshake is closed: it cannot carry a frame")
    {
        driver d;
        test_clock::reset();
        d.m.start(test_clock::now(), true);
        d.drain();
        d.m.shutdown(test_clock::now());
        CHECK(kinds(d.drain()) == std::vector<kind>{kind::close});
    }
}

TEST_CASE("server_session: a transport handshake comes first, within the hello timeout", "[server_session]")
{
    test_clock::reset();
    driver d;
    d.m.start(test_clock::now(), true);
    auto s = d.drain();
    REQUIRE(kinds(s) == std::vector<kind>{kind::wait_until, kind::handshake});
    CHECK(d.drain().empty()); // no read before the handshake
    SECTION("done: the HELLO is read next")
    {
        d.m.handshake_done(test_clock::now(), true);
        CHECK(kinds(d.drain()) == std::vector<kind>{kind::read});
    }
    SECTION("failed: closed without a frame")
    {
        d.m.handshake_done(test_clock::now(), false);
        s = d.drain();
        REQUIRE(kinds(s) == std::vector<kind>{kind::close});
        CHECK(s[0].cause == error::handshake_failed); // the driver reports the refusal
    }
    SECTION("never finished: closed at the hello deadline, without a frame")
    {
        test_clock::advance(5s);
        s = d.timer();
        REQUIRE(kinds(s) == std::vector<kind>{kind::close});
        CHECK(s[0].cause == error::hello_timeout);
    }
}

TEST_CASE("server_session: identity from the transport instead of HELLO", "[server_session]")
{
    test_clock::reset();
    driver d;
    d.m.start(test_clock::now());
    d.drain();
    d.m.identify({wire::protocol_version, 500, "from-upgrade", "cookie"}, test_clock::now());
    const auto s = d.drain();
    REQUIRE(kinds(s) == std::vector<kind>{kind::authenticate, kind::admit, kind::cancel_timer, kind::write});
    CHECK(s[0].id == "from-upgrade");
    CHECK(s[0].credential == "cookie");
    CHECK(d.m.online());
}

TEST_CASE("server_session: probes driven by the server, for transports that have them", "[server_session]")
{
    machine::options o;
    o.probe_interval = 300ms;
    driver d(o);
    test_clock::reset();
    d.m.start(test_clock::now());
    d.drain();
    test_clock::advance(50ms);
    auto s = d.feed(hello("page"));
    REQUIRE(kinds(s) == std::vector<kind>{kind::authenticate, kind::admit, kind::wait_until, kind::write, kind::read});
    CHECK(s[2].at == time_point(350ms));
    test_clock::advance_to(time_point(350ms) - 1ns);
    CHECK(d.timer().empty());
    test_clock::advance(1ns);
    s = d.timer();
    REQUIRE(kinds(s) == std::vector<kind>{kind::wait_until, kind::probe});
    CHECK(s[0].at == time_point(650ms));
    // The answer is life.
    test_clock::advance(2ms);
    d.m.probe_answered(test_clock::now());
    s = d.drain();
    REQUIRE(kinds(s) == std::vector<kind>{kind::touch});
    CHECK(s[0].at == time_point(352ms));
    // A closing session probes no more.
    d.m.shutdown(test_clock::now());
    d.drain();
    test_clock::advance(300ms);
    s = d.timer();
    CHECK(std::none_of(s.begin(), s.end(), [](const step& x) { return x.type == kind::probe; }));
}

namespace {
// A server that probes every 300 ms.
machine::options probing(std::uint8_t max_version = wire::protocol_version_2)
{
    machine::options o;
    o.probe_interval = 300ms;
    o.max_version = max_version;
    return o;
}

// A peer whose HELLO (with `flags`) arrives at 50 ms.
void welcome_at_50ms(driver& d, std::uint8_t flags)
{
    test_clock::reset();
    d.m.start(test_clock::now());
    d.drain();
    test_clock::advance(50ms);
    const auto s = d.feed(hello_flagged(flags, "page", 100));
    REQUIRE(kinds(s) == std::vector<kind>{kind::authenticate, kind::admit, kind::wait_until, kind::write, kind::read});
    CHECK(s[2].at == time_point(350ms));
}

bool wrote(const std::vector<step>& s, const std::string& frame)
{
    return std::any_of(s.begin(), s.end(), [&](const step& x) { return x.type == kind::write && x.bytes == frame; });
}
} // namespace

TEST_CASE("server_session: a peer that answers PROBEs gets one after probe_interval of silence", "[server_session]")
{
    driver d(probing());
    welcome_at_50ms(d, wire::hello_flags::v2 | wire::hello_flags::probes);
    REQUIRE(d.m.version() == 2);
    CHECK(d.m.peer_answers_probes());
    test_clock::advance_to(time_point(350ms) - 1ns);
    CHECK(d.timer().empty());
    test_clock::advance(1ns);
    auto s = d.timer(); // silent since WELCOME at 50 ms
    REQUIRE(kinds(s) == std::vector<kind>{kind::wait_until, kind::write});
    CHECK(s[0].at == time_point(650ms));
    CHECK(s[1].bytes == probe(1));
    CHECK(s[1].urgent); // like an ECHO, ahead of DATA
    // Continued silence: another, numbered on.
    test_clock::advance_to(time_point(650ms));
    s = d.timer();
    REQUIRE(kinds(s) == std::vector<kind>{kind::wait_until, kind::write});
    CHECK(s[0].at == time_point(950ms));
    CHECK(s[1].bytes == probe(2));
}

TEST_CASE("server_session: traffic postpones the PROBE without re-arming the timer on reads", "[server_session]")
{
    driver d(probing());
    welcome_at_50ms(d, wire::hello_flags::v2 | wire::hello_flags::probes);
    // The peer beats at 150 and 250 ms: no read touches the timer.
    for (const auto at : {150ms, 250ms}) {
        test_clock::advance_to(time_point(at));
        const auto s = d.feed(beat(1));
        CHECK(std::none_of(s.begin(), s.end(), [](const step& x) { return x.type == kind::wait_until; }));
    }
    // At 350 ms the peer was heard 100 ms ago: the deadline moves to
    // 250 + 300 ms, and nothing is sent.
    test_clock::advance_to(time_point(350ms));
    auto s = d.timer();
    REQUIRE(kinds(s) == std::vector<kind>{kind::wait_until});
    CHECK(s[0].at == time_point(550ms));
    // Half a frame is traffic too (R9).
    test_clock::advance_to(time_point(400ms));
    d.feed(data_frame("late").substr(0, 3));
    test_clock::advance_to(time_point(550ms));
    s = d.timer();
    REQUIRE(kinds(s) == std::vector<kind>{kind::wait_until});
    CHECK(s[0].at == time_point(700ms));
    // Then silence: the probe goes exactly probe_interval after the last byte.
    test_clock::advance_to(time_point(700ms));
    s = d.timer();
    REQUIRE(kinds(s) == std::vector<kind>{kind::wait_until, kind::write});
    CHECK(s[0].at == time_point(1000ms));
    CHECK(s[1].bytes == probe(1));
}

TEST_CASE("server_session: without the probes flag, or in version 1, probe_interval means the probe action",
          "[server_session]")
{
    struct peer {
        std::uint8_t flags;
        std::uint8_t server_version;
    };
    for (const peer p : {peer{wire::hello_flags::v2, 2}, peer{wire::hello_flags::probes, 2},
                         peer{wire::hello_flags::v2 | wire::hello_flags::probes, 1}}) {
        CAPTURE(int{p.flags}, int{p.server_version});
        driver d(probing(p.server_version));
        welcome_at_50ms(d, p.flags);
        CHECK_FALSE(d.m.peer_answers_probes());
        // Traffic does not postpone the transport's probe: as before.
        test_clock::advance_to(time_point(300ms));
        d.feed(beat(1));
        test_clock::advance_to(time_point(350ms));
        auto s = d.timer();
        REQUIRE(kinds(s) == std::vector<kind>{kind::wait_until, kind::probe});
        CHECK(s[0].at == time_point(650ms));
        CHECK_FALSE(wrote(s, probe(1)));
    }
}

TEST_CASE("server_session: a transport probe's answer can carry an RTT sample", "[server_session]")
{
    driver d(probing());
    welcome_at_50ms(d, 0); // a version 1 peer behind a transport that pings
    test_clock::advance_to(time_point(350ms));
    d.timer();
    test_clock::advance(2ms);
    d.m.probe_answered(test_clock::now(), 1500us);
    auto s = d.drain();
    REQUIRE(kinds(s) == std::vector<kind>{kind::touch, kind::measured_rtt});
    CHECK(s[0].at == time_point(352ms));
    CHECK(d.m.last_rtt() == 1500us);
    CHECK(d.m.smoothed_rtt() == 1500us);
    CHECK(d.m.rtt_variation() == 750us);
    // RFC 6298's smoothing, as for the samples of version 2's BEATs.
    d.m.probe_answered(test_clock::now(), 2300us);
    CHECK(kinds(d.drain()) == std::vector<kind>{kind::touch, kind::measured_rtt});
    CHECK(d.m.last_rtt() == 2300us);
    CHECK(d.m.smoothed_rtt() == 1600us);  // 1500 + 800 / 8
    CHECK(d.m.rtt_variation() == 762500ns); // 750 + (800 - 750) / 4
    // Without a sample, or a negative one: life only.
    d.m.probe_answered(test_clock::now());
    CHECK(kinds(d.drain()) == std::vector<kind>{kind::touch});
    d.m.probe_answered(test_clock::now(), -1us);
    CHECK(kinds(d.drain()) == std::vector<kind>{kind::touch});
    CHECK(d.m.last_rtt() == 2300us);
    // A session that is ending takes none.
    d.m.shutdown(test_clock::now());
    d.drain();
    d.m.probe_answered(test_clock::now(), 100us);
    CHECK(d.drain().empty());
    CHECK(d.m.last_rtt() == 2300us);
}
