// The rules of docs/PROTOCOL.md, one TEST_CASE per rule, named after it.
// Each drives a session machine on a manual clock at exact instants: the
// server's machine answered by a real registry (as the watcher does), the
// client's machine with writes that complete when the test says so.

#include <heartbeat/session/client_session.hpp>
#include <heartbeat/session/server_session.hpp>

#include <heartbeat/core/registry.hpp>
#include <heartbeat/detail/outbox.hpp>
#include <heartbeat/testing/manual_clock.hpp>

#include "frames.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace {
using namespace std::chrono_literals;
namespace wire = heartbeat::wire;
using namespace heartbeat_test::frames;
namespace frames = heartbeat_test::frames;
using heartbeat::error;
using heartbeat::offline_reason;
using code = wire::error_code_value;
using test_clock = heartbeat::testing::basic_manual_clock<struct protocol_rules_tag>;
using time_point = test_clock::time_point;

// ---- bytes ------------------------------------------------------------------

std::string hex(std::string_view spaced)
{
    std::string out;
    unsigned v = 0;
    int digits = 0;
    for (char c : spaced) {
        if (c == ' ')
            continue;
        const unsigned d = c <= '9' ? unsigned(c - '0') : unsigned(c - 'a' + 10);
        v = v * 16 + d;
        if (++digits == 2) {
            out.push_back(static_cast<char>(v));
            v = 0;
            digits = 0;
        }
    }
    return out;
}

// The code an ERROR frame carries (0 if `f` is not an ERROR frame).
unsigned error_code_of(std::string_view f)
{
    if (f.size() < 6 || f[0] != 0x03)
        return 0;
    return unsigned(static_cast<std::uint8_t>(f[4])) << 8 | static_cast<std::uint8_t>(f[5]);
}
unsigned wire_code(code c) { return static_cast<unsigned>(c); }

// ---- the server: server_session answered by a registry -----------------------

using server_machine = heartbeat::server_session<test_clock>;
using skind = server_machine::kind;
using registry_type = heartbeat::registry<std::string, test_clock>;

struct server_step {
    skind type;
    bool urgent = false;
    offline_reason reason{};
    std::optional<error> cause;
    time_point at{};
    test_clock::duration interval{};
    std::string bytes;
};

struct server {
    server_machine m;
    registry_type reg;
    heartbeat::peer_handle handle{};
    std::string id;
    std::optional<error> verdict;
    bool hold_verdict = false;
    bool full = false;
    std::size_t queued = 0;
    std::string input;
    std::vector<offline_reason> offline; // the registry's offline events
    std::vector<test_clock::duration> rtts; // measured_rtt samples

    explicit server(server_machine::options o = {}, registry_type::options r = {})
        : m(o), reg(r, [this](const auto& e) {
              if (e.kind == heartbeat::transition::offline)
                  offline.push_back(e.reason);
          })
    {
        test_clock::reset();
        test_clock::advance_to(time_point(10s));
        m.start(test_clock::now());
        drain();
    }

    std::vector<server_step> drain()
    {
        std::vector<server_step> out;
        for (;;) {
            const auto a = m.next();
            if (a.type == skind::idle)
                return out;
            out.push_back({a.type, a.urgent, a.reason, a.cause, a.at, a.interval, std::string(a.bytes())});
            switch (a.type) {
            case skind::read: return out;
            case skind::authenticate:
                if (!hold_verdict)
                    m.authenticated(verdict, test_clock::now());
                break;
            case skind::admit: admit(a); break;
            case skind::touch: reg.touch(handle, a.at); break;
            case skind::release: reg.remove(handle, a.reason, test_clock::now()); break;
            case skind::hold: reg.set_terms(handle, a.interval, a.misses); break;
            case skind::measured_rtt: rtts.push_back(a.rtt); break;
            default: break;
            }
        }
    }

    // What the watcher does with `admit`.
    void admit(const server_machine::action& a)
    {
        server_machine::admission r;
        id = std::string(a.id);
        if (full) {
            r.result = server_machine::admission::outcome::full;
        }
        else {
            handle = reg.touch(id, a.at);
            r.held = *reg.set_interval(handle, a.interval);
        }
        m.admitted(r, test_clock::now());
    }

    std::vector<server_step> feed(std::string bytes, bool eof = false)
    {
        input = std::move(bytes);
        m.feed(reinterpret_cast<const std::uint8_t*>(input.data()), input.size(), test_clock::now(), queued, eof);
        return drain();
    }
    std::vector<server_step> timer()
    {
        m.timer_fired(test_clock::now());
        return drain();
    }
    // The sweeper's turn: expire, and close a session the registry timed out.
    std::vector<server_step> sweep()
    {
        const auto before = offline.size();
        reg.expire(test_clock::now());
        if (offline.size() > before && offline.back() == offline_reason::timeout)
            m.timed_out(test_clock::now());
        return drain();
    }
    bool peer_online() const { return !id.empty() && reg.is_online(id); }

    void welcome(std::string_view peer = "peer", std::uint32_t interval_ms = 1000)
    {
        feed(hello(peer, interval_ms));
        REQUIRE(m.online());
    }
    // A version 2 session: the client asked, and acknowledged WELCOME's terms.
    void welcome_v2(std::string_view peer = "peer", std::uint32_t interval_ms = 1000)
    {
        feed(hello_v2(peer, interval_ms));
        REQUIRE(m.online());
        REQUIRE(m.version() == 2);
        feed(terms_ack(0, 65'536));
    }
};

bool has(const std::vector<server_step>& s, skind k)
{
    return std::any_of(s.begin(), s.end(), [k](const server_step& x) { return x.type == k; });
}
// The frames a side wrote, in order; the last frame of a closing session
// last. Both machines' kinds name them alike.
template <class Step>
std::vector<std::string> written(const std::vector<Step>& s)
{
    using step_kind = decltype(Step::type);
    std::vector<std::string> out;
    for (const auto& x : s)
        if (x.type == step_kind::write || x.type == step_kind::close_after)
            out.push_back(x.bytes);
    return out;
}
const server_step* find(const std::vector<server_step>& s, skind k)
{
    for (const auto& x : s)
        if (x.type == k)
            return &x;
    return nullptr;
}
// The last frame of a refusal: its ERROR code.
unsigned refusal_code(const std::vector<server_step>& s)
{
    const auto* c = find(s, skind::close_after);
    return c ? error_code_of(c->bytes) : 0;
}

// ---- the client: client_session with scripted writes ------------------------

using client_machine = heartbeat::client_session<test_clock>;
using ckind = client_machine::kind;
using ending = client_machine::ending;

struct client_step {
    ckind type;
    bool urgent = false;
    ending end = ending::none;
    error code{};
    time_point at{};
    std::string bytes;
};

client_machine::options client_options()
{
    client_machine::options o;
    o.id = "ab";
    o.interval = 1000ms;
    return o;
}

struct client {
    client_machine m;
    std::string input;
    std::optional<time_point> timer;

    explicit client(client_machine::options o = client_options()) : m(std::move(o))
    {
        test_clock::reset();
        m.start(test_clock::now());
        drain();
        write();
    }

    std::vector<client_step> drain()
    {
        std::vector<client_step> out;
        for (;;) {
            const auto a = m.next();
            if (a.type == ckind::idle)
                return out;
            out.push_back({a.type, a.urgent, a.end, a.code, a.at, std::string(a.bytes())});
            if (a.type == ckind::wait_until)
                timer = a.at;
            if (a.type == ckind::cancel_timer || a.type == ckind::finish)
                timer.reset();
            if (a.type == ckind::read)
                return out;
        }
    }
    std::vector<client_step> feed(std::string bytes, bool eof = false)
    {
        input = std::move(bytes);
        m.feed(reinterpret_cast<const std::uint8_t*>(input.data()), input.size(), test_clock::now(), eof);
        return drain();
    }
    std::vector<client_step> fire()
    {
        REQUIRE(timer);
        test_clock::advance_to(*timer);
        m.timer_fired(test_clock::now());
        return drain();
    }
    void write(test_clock::duration takes = 0ns)
    {
        m.write_started();
        test_clock::advance(takes);
        m.write_done(test_clock::now());
        drain();
    }
    void establish(std::uint8_t misses = 3, std::uint32_t interval_ms = 1000)
    {
        feed(frames::welcome(misses, interval_ms));
        REQUIRE(m.established());
    }
};

std::optional<client_step> finished(const std::vector<client_step>& s)
{
    for (const auto& x : s)
        if (x.type == ckind::finish)
            return x;
    return std::nullopt;
}
std::optional<error> ended_with(const std::vector<client_step>& s)
{
    const auto f = finished(s);
    if (!f || f->end != ending::error)
        return std::nullopt;
    return f->code;
}
bool wrote_anything(const std::vector<client_step>& s)
{
    return std::any_of(s.begin(), s.end(),
                       [](const client_step& x) { return x.type == ckind::write || x.type == ckind::close_after; });
}
} // namespace

// ---- framing ------------------------------------------------------------------

TEST_CASE("PROTOCOL R1: header checks in order: type then the receiver's limit then the type's bounds", "[protocol]")
{
    auto first = [](std::string bytes) {
        server s;
        return refusal_code(s.feed(std::move(bytes)));
    };
    // The type: unknown is protocol_error, whatever the length.
    CHECK(first(hex("42 ff ff ff")) == wire_code(code::protocol_error));
    // The limit (65,536 by default) before the type's own bounds and before
    // the order of frames: frame_too_large.
    CHECK(first(header(wire::frame_type::hello, 0xFF'FFFF)) == wire_code(code::frame_too_large));
    CHECK(first(header(wire::frame_type::data, 0xFF'FFFF)) == wire_code(code::frame_too_large));
    CHECK(first(header(wire::frame_type::data, 65'537)) == wire_code(code::frame_too_large));
    // Within the limit but outside the type's bounds: protocol_error.
    CHECK(first(header(wire::frame_type::hello, 5000)) == wire_code(code::protocol_error));
    CHECK(first(header(wire::frame_type::hello, 10)) == wire_code(code::protocol_error));
    // All at the header: not one payload byte is needed.
    server s;
    CHECK(refusal_code(s.feed(header(wire::frame_type::beat, 1000))) == wire_code(code::protocol_error));

    // The client applies the same checks and closes without a frame.
    auto client_gets = [](std::string bytes) {
        client c;
        c.establish();
        const auto steps = c.feed(std::move(bytes));
        CHECK_FALSE(wrote_anything(steps));
        return ended_with(steps);
    };
    CHECK(client_gets(hex("42 00 00 00")) == error::unknown_frame_type);
    CHECK(client_gets(header(wire::frame_type::data, 65'537)) == error::frame_too_large);
    CHECK(client_gets(header(wire::frame_type::echo, 3)) == error::protocol_error);
}

// ---- the handshake ------------------------------------------------------------

TEST_CASE("PROTOCOL R2: HELLO comes first and anything else first is protocol_error", "[protocol]")
{
    for (const auto& first : std::vector<std::string>{frames::beat(1), data_frame("x"), goodbye(wire::goodbye_reason::normal),
                              error_frame(code::auth_failed, "")}) {
        server s;
        const auto steps = s.feed(first);
        CHECK(refusal_code(steps) == wire_code(code::protocol_error));
        CHECK_FALSE(has(steps, skind::admit));
    }
}

TEST_CASE("PROTOCOL R3: HELLO is checked for magic then version then layout then id", "[protocol]")
{
    auto refused = [](std::string h) {
        server s;
        return refusal_code(s.feed(std::move(h)));
    };
    auto h = hello("p");
    h[4] = 'X';                                                     // magic: there is no bad_magic code on the wire
    CHECK(refused(h) == wire_code(code::protocol_error));
    h = hello("p");
    h[6] = 2;                                                       // the version byte is not 1
    CHECK(refused(h) == wire_code(code::unsupported_version));
    h[4] = 'X';                                                     // bad magic and version: the magic wins
    CHECK(refused(h) == wire_code(code::protocol_error));
    h = hello("abc");
    h[4 + 8] = static_cast<char>(200);                              // id_len overruns the payload
    CHECK(refused(h) == wire_code(code::protocol_error));
    CHECK(refused(hello("")) == wire_code(code::bad_id));           // an empty id
    // Flag bits the server does not know are ignored.
    h = hello("p");
    h[7] = static_cast<char>(0xFE);
    server s;
    s.feed(h);
    CHECK(s.m.online());
}

TEST_CASE("PROTOCOL R4: the hello timeout is exact and ends with ERROR 5", "[protocol]")
{
    server s; // connected at 10 s
    s.feed(hello("p").substr(0, 6));
    test_clock::advance(5s - 1ns);
    CHECK(refusal_code(s.timer()) == 0);
    test_clock::advance(1ns);
    CHECK(refusal_code(s.timer()) == wire_code(code::hello_timeout));

    SECTION("the deadline covers the authenticator")
    {
        server a;
        a.hold_verdict = true;
        a.feed(hello("p"));
        test_clock::advance(5s);
        CHECK(refusal_code(a.timer()) == wire_code(code::hello_timeout));
    }
    SECTION("and a transport handshake, which ends without a frame")
    {
        server t;
        t.m.start(test_clock::now(), true);
        t.drain();
        test_clock::advance(5s);
        const auto steps = t.timer();
        CHECK(written(steps).empty());
        CHECK(has(steps, skind::close));
    }
}

TEST_CASE("PROTOCOL R5: the server answers HELLO with WELCOME or one refusal and nothing before", "[protocol]")
{
    SECTION("WELCOME")
    {
        server s;
        const auto steps = s.feed(hello("p", 1000));
        REQUIRE(written(steps).size() == 1);
        CHECK(written(steps)[0] == frames::welcome(3, 1000));
    }
    SECTION("the authenticator refuses: auth_failed")
    {
        server s;
        s.verdict = error::rejected;
        CHECK(refusal_code(s.feed(hello("p"))) == wire_code(code::auth_failed));
    }
    SECTION("the authenticator refuses the id: bad_id")
    {
        server s;
        s.verdict = error::bad_id;
        CHECK(refusal_code(s.feed(hello("p"))) == wire_code(code::bad_id));
    }
    SECTION("the server is full: server_full")
    {
        server s;
        s.full = true;
        const auto steps = s.feed(hello("p"));
        CHECK(written(steps).size() == 1);
        CHECK(refusal_code(steps) == wire_code(code::server_full));
    }
    SECTION("the id is online and newcomers are rejected: duplicate_id")
    {
        server_machine::options o;
        o.on_duplicate = heartbeat::duplicate_policy::reject;
        server s(o);
        s.hold_verdict = true;
        s.feed(hello("p"));
        s.m.authenticated(std::nullopt, test_clock::now());
        // The registry's answer for a live id under reject.
        const auto a = s.m.next();
        REQUIRE(a.type == skind::admit);
        CHECK_FALSE(a.replace);
        s.m.admitted({server_machine::admission::outcome::taken, {}}, test_clock::now());
        CHECK(refusal_code(s.drain()) == wire_code(code::duplicate_id));
    }
}

TEST_CASE("PROTOCOL R6: the announced interval is clamped to the server's bounds and WELCOME states it", "[protocol]")
{
    auto held = [](std::uint32_t announced_ms) {
        server s;
        const auto steps = s.feed(hello("p", announced_ms));
        REQUIRE(written(steps).size() == 1);
        return written(steps)[0];
    };
    CHECK(held(0) == frames::welcome(3, 1000));          // none announced: the server's default, 1 s
    CHECK(held(5) == frames::welcome(3, 10));            // under min_interval: 10 ms
    CHECK(held(1000) == frames::welcome(3, 1000));       // within the bounds: as announced
    CHECK(held(700'000) == frames::welcome(3, 600'000)); // over max_interval: 10 min
}

TEST_CASE("PROTOCOL R7: frames pipelined behind HELLO are read after WELCOME or discarded", "[protocol]")
{
    SECTION("admitted: echoed after WELCOME in order")
    {
        server s;
        const auto steps = s.feed(hello("p") + frames::beat(1) + data_frame("x"));
        REQUIRE(written(steps).size() == 2);
        CHECK(written(steps)[0] == frames::welcome(3, 1000));
        CHECK(written(steps)[1] == frames::echo(1));
        CHECK(has(steps, skind::deliver));
    }
    SECTION("refused: the rest is never read")
    {
        server s;
        s.verdict = error::rejected;
        const auto steps = s.feed(hello("p") + frames::beat(1));
        REQUIRE(written(steps).size() == 1);
        CHECK(refusal_code(steps) == wire_code(code::auth_failed));
    }
}

TEST_CASE("PROTOCOL R8: the client's side of the handshake", "[protocol]")
{
    SECTION("HELLO goes out first and nothing else until WELCOME")
    {
        test_clock::reset();
        client_machine m(client_options());
        m.start(test_clock::now());
        const auto a = m.next();
        REQUIRE(a.type == ckind::write);
        CHECK(std::string(a.bytes()) == hello_probes("ab", 1000)); // version 2, answers PROBEs (R36)
    }
    SECTION("no WELCOME within 5 s: hello_timeout and no frame")
    {
        client c;
        test_clock::advance(5s - 1ns);
        c.m.timer_fired(test_clock::now());
        CHECK_FALSE(finished(c.drain()));
        const auto steps = c.fire();
        CHECK(test_clock::now() == time_point(5s));
        CHECK(ended_with(steps) == error::hello_timeout);
        CHECK_FALSE(wrote_anything(steps));
    }
    SECTION("terms outside the client's bounds")
    {
        auto answer = [](std::string w) {
            client c;
            return ended_with(c.feed(std::move(w)));
        };
        CHECK(answer(frames::welcome(3, 9)) == error::unacceptable_terms);
        CHECK(answer(frames::welcome(3, 600'001)) == error::unacceptable_terms);
        CHECK(answer(frames::welcome(7, 600'000)) == error::unacceptable_terms); // 70 min > 1 h
        CHECK(answer(frames::welcome(6, 600'000)) == std::nullopt);             // 1 h exactly
        CHECK(answer(frames::welcome(0, 1000)) == error::protocol_error);
        CHECK(answer(frames::welcome(3, 0)) == error::protocol_error);
        std::string v9 = frames::welcome(3, 1000);
        v9[4] = 9;
        CHECK(answer(v9) == error::unsupported_version);
    }
    SECTION("before WELCOME only WELCOME or ERROR")
    {
        for (const auto& early : std::vector<std::string>{frames::echo(1), data_frame("x"), goodbye(wire::goodbye_reason::normal)}) {
            client c;
            CHECK(ended_with(c.feed(early)) == error::protocol_error);
        }
        client c;
        CHECK(ended_with(c.feed(error_frame(code::auth_failed, "no"))) == error::auth_failed);
    }
}

// ---- liveness -------------------------------------------------------------------

TEST_CASE("PROTOCOL R9: every byte from an online peer is life to the server and the deadline is exact", "[protocol]")
{
    server s;
    s.welcome("p", 1000); // at 10 s: held to 3 x 1 s, no grace
    test_clock::advance(2s);
    s.feed(data_frame("hello").substr(0, 3)); // part of a frame, at 12 s
    // Silence of exactly misses * interval + grace is still online.
    test_clock::advance(3s);
    CHECK(s.sweep().empty());
    CHECK(s.peer_online());
    test_clock::advance(1ns);
    s.sweep(); // how the session ends: R24
    CHECK_FALSE(s.peer_online());
    REQUIRE(s.offline.size() == 1);
    CHECK(s.offline[0] == offline_reason::timeout);

    SECTION("grace adds to the deadline")
    {
        registry_type::options r;
        r.detection.grace = 500ms;
        server g({}, r);
        g.welcome("p", 1000);
        test_clock::advance(3500ms);
        g.sweep();
        CHECK(g.peer_online());
        test_clock::advance(1ns);
        g.sweep();
        CHECK_FALSE(g.peer_online());
    }
}

TEST_CASE("PROTOCOL R10: the server echoes every BEAT at once with its seq ahead of queued DATA", "[protocol]")
{
    server s;
    s.welcome();
    const auto steps = s.feed(frames::beat(7) + frames::beat(0xFFFF'FFFF) + frames::beat(0));
    const auto out = written(steps);
    CHECK(out == std::vector<std::string>{frames::echo(7), frames::echo(0xFFFF'FFFF), frames::echo(0)});
    CHECK(std::all_of(steps.begin(), steps.end(),
                      [](const server_step& x) { return x.type != skind::write || x.urgent; }));
}

TEST_CASE("PROTOCOL R11: the client beats every interval from WELCOME with seq 1 2 3", "[protocol]")
{
    client c;
    test_clock::advance(40ms);
    c.establish(3, 250);
    for (std::uint32_t seq = 1; seq <= 3; ++seq) {
        const auto steps = c.fire();
        CHECK(test_clock::now() == time_point(40ms + seq * 250ms));
        REQUIRE_FALSE(steps.empty());
        CHECK(steps.front().bytes == frames::beat(seq));
        CHECK(steps.front().urgent);
        c.write();
        c.feed(frames::echo(seq));
    }
}

TEST_CASE("PROTOCOL R12: an ECHO answers its beat and older ones only and never an unsent one", "[protocol]")
{
    client c;
    c.establish(2, 100);
    c.fire(); // seq 1 at 100 ms
    c.write();
    c.fire(); // seq 2 at 200 ms
    c.write();
    SECTION("an old echo does not excuse the newer beat")
    {
        c.feed(frames::echo(1));
        CHECK(c.m.unanswered() == 1);
    }
    SECTION("the newest echo answers all")
    {
        c.feed(frames::echo(2));
        CHECK(c.m.unanswered() == 0);
    }
    SECTION("an echo of a beat never sent")
    {
        const auto steps = c.feed(frames::echo(3));
        CHECK(ended_with(steps) == error::protocol_error);
        CHECK_FALSE(wrote_anything(steps));
    }
}

TEST_CASE("PROTOCOL R13: any other frame from the server answers every beat sent", "[protocol]")
{
    client c;
    c.establish(3, 100);
    c.fire();
    c.write();
    c.fire();
    c.write();
    REQUIRE(c.m.unanswered() == 2);
    SECTION("a DATA frame") { c.feed(data_frame("push")); }
    SECTION("a read that ends inside a frame") { c.feed(data_frame("push").substr(0, 5)); }
    CHECK(c.m.unanswered() == 0);
}

TEST_CASE("PROTOCOL R14: the client declares the server lost the tick after the misses-th echo was due", "[protocol]")
{
    client c;
    c.establish(3, 100);
    // Beats fall due at 100 200 300 ms; each write takes 2 ms.
    for (int i = 0; i < 3; ++i) {
        c.fire();
        c.write(2ms);
    }
    // The third beat left at 302 ms: its echo is due at 402 ms.
    c.fire(); // 400 ms: the fourth beat
    CHECK(test_clock::now() == time_point(400ms));
    c.write();
    REQUIRE(c.timer == time_point(402ms + 1ns));
    const auto steps = c.fire();
    CHECK(ended_with(steps) == error::peer_lost);
    CHECK_FALSE(wrote_anything(steps));
}

// ---- limits --------------------------------------------------------------------

TEST_CASE("PROTOCOL R15: every frame costs a token and an empty bucket is ERROR 10", "[protocol]")
{
    server_machine::options o;
    o.max_frame_rate = 10;
    o.max_frame_burst = 4;
    server s(o);
    s.welcome(); // HELLO took a token: 3 left
    // DATA counts like any frame.
    auto steps = s.feed(data_frame("a") + data_frame("b") + frames::beat(1));
    CHECK(refusal_code(steps) == 0);
    // 100 ms at 10 per second refill one token: one frame passes, the next is refused.
    test_clock::advance(100ms);
    steps = s.feed(data_frame("c") + data_frame("d"));
    CHECK(refusal_code(steps) == wire_code(code::rate_limited));
    REQUIRE(find(steps, skind::release));
    CHECK(find(steps, skind::release)->reason == offline_reason::protocol_error);
}

TEST_CASE("PROTOCOL R16: an echo past the send queue limit ends the session", "[protocol]")
{
    server_machine::options o;
    o.max_send_queue = 100;
    server s(o);
    s.welcome();
    s.queued = 92;
    CHECK(written(s.feed(frames::beat(1))) == std::vector<std::string>{frames::echo(1)}); // 100 bytes: fits
    s.queued = 93;
    const auto steps = s.feed(frames::beat(2));
    CHECK(refusal_code(steps) == wire_code(code::protocol_error)); // "send queue full"
    REQUIRE(find(steps, skind::release));
    CHECK(find(steps, skind::release)->reason == offline_reason::disconnected);

    // DATA the same way.
    server d(o);
    d.welcome();
    CHECK(d.m.accept_send(56, 60, 40, test_clock::now()) == heartbeat::send_verdict::queued);
    CHECK(d.m.accept_send(57, 61, 40, test_clock::now()) == heartbeat::send_verdict::overflow);
    const auto ended = d.drain();
    CHECK(refusal_code(ended) == wire_code(code::protocol_error));
    REQUIRE(find(ended, skind::release));
    CHECK(find(ended, skind::release)->reason == offline_reason::disconnected);
}

TEST_CASE("PROTOCOL R17: DATA larger than the receiver accepts ends the session at its header", "[protocol]")
{
    server_machine::options o;
    o.max_frame = 100;
    server s(o);
    s.welcome();
    CHECK(has(s.feed(data_frame(std::string(100, 'x'))), skind::deliver));
    CHECK(refusal_code(s.feed(header(wire::frame_type::data, 101))) == wire_code(code::frame_too_large));
}

// ---- frames out of place -----------------------------------------------------

TEST_CASE("PROTOCOL R18: frames out of place are protocol_error", "[protocol]")
{
    for (const auto& bad : std::vector<std::string>{hello("p"), frames::welcome(3, 1000), frames::echo(1),
                                                    terms(1, 3, 1000), retry_after(1000), probe(1)}) {
        server s;
        s.welcome();
        const auto steps = s.feed(bad);
        CHECK(refusal_code(steps) == wire_code(code::protocol_error));
        REQUIRE(find(steps, skind::release));
        CHECK(find(steps, skind::release)->reason == offline_reason::protocol_error);
    }
    for (const auto& bad : std::vector<std::string>{hello("p"), frames::beat(1), frames::welcome(3, 1000)}) {
        client c;
        c.establish();
        const auto steps = c.feed(bad);
        CHECK(ended_with(steps) == error::protocol_error);
        CHECK_FALSE(wrote_anything(steps));
    }
    // A version 2 session: a PROBE is the server's to send.
    {
        server s;
        s.welcome_v2();
        CHECK(refusal_code(s.feed(probe(1))) == wire_code(code::protocol_error));
    }
    // In a version 1 session the types of version 2 are unknown (R1, R29).
    for (const auto& bad : std::vector<std::string>{terms_ack(0, 1000), retry_after(1000), probe(1)}) {
        client c;
        c.establish();
        const auto steps = c.feed(bad);
        CHECK(ended_with(steps) == error::unknown_frame_type);
        CHECK_FALSE(wrote_anything(steps));
    }
}

// ---- endings -------------------------------------------------------------------

TEST_CASE("PROTOCOL R19: a client's GOODBYE is left and the server closes at once", "[protocol]")
{
    for (auto reason : {wire::goodbye_reason::normal, wire::goodbye_reason::shutting_down}) {
        server s;
        s.welcome();
        const auto steps = s.feed(goodbye(reason) + frames::beat(1));
        CHECK(written(steps).empty());
        REQUIRE(find(steps, skind::release));
        CHECK(find(steps, skind::release)->reason == offline_reason::left);
        CHECK(has(steps, skind::close));
    }
}

TEST_CASE("PROTOCOL R20: a client's ERROR is its close and gets nothing back", "[protocol]")
{
    SECTION("welcomed: closed at once and offline disconnected")
    {
        for (bool v2 : {false, true}) {
            server s;
            if (v2)
                s.welcome_v2();
            else
                s.welcome();
            const auto steps = s.feed(error_frame(code::shutting_down, "bye"));
            CHECK(written(steps).empty());
            REQUIRE(find(steps, skind::release));
            CHECK(find(steps, skind::release)->reason == offline_reason::disconnected);
            CHECK(has(steps, skind::close));
        }
    }
    SECTION("before WELCOME: out of order")
    {
        server s;
        CHECK(refusal_code(s.feed(error_frame(code::shutting_down, ""))) == wire_code(code::protocol_error));
    }
}

TEST_CASE("PROTOCOL R21: a session's last frame drops what was queued and lingers until EOF or 1 s", "[protocol]")
{
    // A flooder: burst 4, five beats in one read. The machine decides four
    // echoes, then the refusal.
    server_machine::options o;
    o.max_frame_rate = 10;
    o.max_frame_burst = 5;
    server s(o);
    s.welcome();
    std::string five;
    for (std::uint32_t i = 1; i <= 5; ++i)
        five += frames::beat(i);
    const auto steps = s.feed(five);
    const auto out = written(steps);
    REQUIRE(out.size() == 5);
    CHECK(error_code_of(out.back()) == wire_code(code::rate_limited));
    const auto* linger = find(steps, skind::wait_until);
    REQUIRE(linger);
    CHECK(linger->at == test_clock::now() + 1s);

    // The driver's outbox: the first echo is in flight; the others wait.
    // close_after drops what waits: only the ERROR follows the write in
    // flight.
    heartbeat::detail::outbox box;
    for (std::size_t i = 0; i + 1 < out.size(); ++i) {
        box.push_frame(reinterpret_cast<const std::uint8_t*>(out[i].data()), out[i].size(), true);
        if (i == 0)
            box.queue().prepare(); // the write in flight
    }
    box.close_after(reinterpret_cast<const std::uint8_t*>(out.back().data()), out.back().size());
    CHECK(box.completed({}) == heartbeat::detail::outbox::outcome::more);
    const auto rest = box.queue().prepare();
    REQUIRE(rest.size() == 1);
    CHECK(std::string(static_cast<const char*>(rest[0].data()), rest[0].size()) == out.back());
    CHECK(box.completed({}) == heartbeat::detail::outbox::outcome::last_frame_out);

    // Lingering: input is discarded; EOF ends it, or 1 s does.
    CHECK(written(s.feed(frames::beat(6))).empty());
    SECTION("EOF") { CHECK(has(s.feed("", true), skind::close)); }
    SECTION("the close timeout")
    {
        test_clock::advance(1s - 1ns);
        CHECK_FALSE(has(s.timer(), skind::close));
        test_clock::advance(1ns);
        CHECK(has(s.timer(), skind::close));
    }
}

TEST_CASE("PROTOCOL R22: a replaced session hears GOODBYE 2", "[protocol]")
{
    server s;
    s.welcome();
    s.m.replaced(test_clock::now());
    const auto steps = s.drain();
    CHECK(written(steps) == std::vector<std::string>{goodbye(wire::goodbye_reason::replaced)});
    REQUIRE(find(steps, skind::release));
    CHECK(find(steps, skind::release)->reason == offline_reason::replaced);
}

TEST_CASE("PROTOCOL R23: at shutdown welcomed peers hear GOODBYE 1 and others ERROR 9", "[protocol]")
{
    server s;
    s.welcome();
    s.m.shutdown(test_clock::now());
    auto steps = s.drain();
    CHECK(written(steps) == std::vector<std::string>{goodbye(wire::goodbye_reason::shutting_down)});
    REQUIRE(find(steps, skind::release));
    CHECK(find(steps, skind::release)->reason == offline_reason::shutdown);

    server early;
    early.feed(hello("p").substr(0, 5));
    early.m.shutdown(test_clock::now());
    steps = early.drain();
    CHECK(refusal_code(steps) == wire_code(code::shutting_down));
    CHECK_FALSE(find(steps, skind::release)); // it was never online
}

TEST_CASE("PROTOCOL R24: a timed-out peer's session is closed unless close_on_timeout is off", "[protocol]")
{
    SECTION("on: ERROR 11 to version 1 and version 2 peers alike then the linger")
    {
        for (bool v2 : {false, true}) {
            server s;
            if (v2)
                s.welcome_v2();
            else
                s.welcome();
            test_clock::advance(3s);
            CHECK(s.sweep().empty());
            test_clock::advance(1ns);
            const auto steps = s.sweep();
            CHECK(refusal_code(steps) == wire_code(code::timeout));
            REQUIRE(find(steps, skind::wait_until));
            CHECK(find(steps, skind::wait_until)->at == test_clock::now() + 1s);
            REQUIRE(s.offline.size() == 1);
            CHECK(s.offline[0] == offline_reason::timeout);
        }
    }
    SECTION("off: the session stays and the next byte brings the peer back")
    {
        server_machine::options o;
        o.close_on_timeout = false;
        server s(o);
        s.welcome();
        test_clock::advance(3s + 1ns);
        CHECK_FALSE(has(s.sweep(), skind::close));
        CHECK_FALSE(s.peer_online());
        s.feed(frames::beat(1));
        CHECK(s.peer_online());
    }
}

TEST_CASE("PROTOCOL R25: a kicked session hears GOODBYE 3 or the ERROR chosen", "[protocol]")
{
    SECTION("GOODBYE 3")
    {
        server s;
        s.welcome();
        CHECK(s.m.kick(test_clock::now()));
        const auto steps = s.drain();
        CHECK(written(steps) == std::vector<std::string>{goodbye(wire::goodbye_reason::kicked)});
        REQUIRE(find(steps, skind::release));
        CHECK(find(steps, skind::release)->reason == offline_reason::kicked);
        CHECK(has(steps, skind::wait_until));
    }
    SECTION("an ERROR")
    {
        server s;
        s.welcome();
        CHECK(s.m.kick(test_clock::now(), error::auth_failed));
        const auto steps = s.drain();
        CHECK(refusal_code(steps) == wire_code(code::auth_failed));
        REQUIRE(find(steps, skind::release));
        CHECK(find(steps, skind::release)->reason == offline_reason::kicked);
    }
    SECTION("only a welcomed session")
    {
        server s;
        CHECK_FALSE(s.m.kick(test_clock::now()));
    }
}

TEST_CASE("PROTOCOL R26: the client reads ERROR codes and GOODBYE reasons", "[protocol]")
{
    auto ends = [](std::string f) {
        client c;
        c.establish();
        return ended_with(c.feed(std::move(f)));
    };
    CHECK(ends(error_frame(code::shutting_down, "")) == error::shutting_down);
    CHECK(ends(error_frame(code::rate_limited, "")) == error::rate_limited);
    CHECK(ends(error_frame(code(999), "")) == error::rejected); // unknown: a generic refusal
    CHECK(ends(goodbye(wire::goodbye_reason::normal)) == error::peer_left);
    CHECK(ends(goodbye(wire::goodbye_reason::shutting_down)) == error::shutting_down);
    CHECK(ends(goodbye(wire::goodbye_reason::replaced)) == error::replaced);
    CHECK(ends(goodbye(wire::goodbye_reason::kicked)) == error::kicked);
    CHECK(ends(error_frame(code::timeout, "")) == error::timeout);
    CHECK(ends(goodbye(wire::goodbye_reason(200))) == error::peer_left); // unknown: left
}

TEST_CASE("PROTOCOL R27: a leaving client sends GOODBYE 0 and waits for EOF or 1 s", "[protocol]")
{
    client c;
    c.establish();
    test_clock::advance(10ms);
    c.m.leave(test_clock::now());
    const auto steps = c.drain();
    REQUIRE_FALSE(steps.empty());
    CHECK(steps.back().type == ckind::close_after);
    CHECK(steps.back().bytes == goodbye(wire::goodbye_reason::normal));
    SECTION("EOF")
    {
        const auto f = finished(c.feed("", true));
        REQUIRE(f);
        CHECK(f->end == ending::success);
    }
    SECTION("the server's GOODBYE")
    {
        const auto f = finished(c.feed(goodbye(wire::goodbye_reason::shutting_down)));
        REQUIRE(f);
        CHECK(f->end == ending::success);
    }
    SECTION("1 s")
    {
        const auto f = finished(c.fire());
        REQUIRE(f);
        CHECK(f->end == ending::success);
        CHECK(test_clock::now() == time_point(10ms + 1s));
    }
}

// ---- version 2 ------------------------------------------------------------------

TEST_CASE("PROTOCOL R28: negotiation in all four pairings", "[protocol]")
{
    for (unsigned client_version : {1u, 2u}) {
        for (unsigned server_version : {1u, 2u}) {
            auto co = client_options();
            co.max_version = static_cast<std::uint8_t>(client_version);
            client c(co); // its HELLO went out at 0 s
            std::vector<std::uint8_t> h;
            wire::append_hello(h, {wire::protocol_version, 1000, "ab", {},
                                   static_cast<std::uint8_t>(client_version == 2 ? wire::hello_flags::v2 : 0)});
            server_machine::options so;
            so.max_version = static_cast<std::uint8_t>(server_version);
            server s(so);
            const auto out = written(s.feed(bytes_of(h)));
            REQUIRE(out.size() == 1);
            const unsigned granted = client_version == 2 && server_version == 2 ? 2 : 1;
            CHECK(out[0].size() == (granted == 2 ? 19u : 10u));
            CHECK(s.m.version() == granted);
            c.feed(out[0]);
            REQUIRE(c.m.established());
            CHECK(c.m.version() == granted);
        }
    }
}

TEST_CASE("PROTOCOL R29: a version 1 session carries version 1 frames only", "[protocol]")
{
    server s; // a version 2 server
    s.welcome();
    CHECK(s.m.version() == 1);
    CHECK(written(s.feed(frames::beat(1))) == std::vector<std::string>{frames::echo(1)});
    CHECK_FALSE(s.m.renegotiate(test_clock::now(), 2s, 3)); // no TERMS
    CHECK(refusal_code(s.feed(beat_v2(2, 0, 0))) == wire_code(code::protocol_error));

    server a;
    a.welcome();
    CHECK(refusal_code(a.feed(terms_ack(0, 65'536))) == wire_code(code::protocol_error));

    server full; // no RETRY_AFTER to a client that did not ask for version 2
    full.full = true;
    const auto out = written(full.feed(hello("p")));
    REQUIRE(out.size() == 1);
    CHECK(error_code_of(out[0]) == wire_code(code::server_full));

    client c; // a version 2 client in a version 1 session: type 8 is unknown there
    c.establish();
    CHECK(ended_with(c.feed(terms(1, 3, 1000))) == error::unknown_frame_type);
}

TEST_CASE("PROTOCOL R30: TERMS_ACK 0 tells the server the client's limit", "[protocol]")
{
    auto co = client_options();
    co.max_frame = 1000;
    client c(co);
    auto steps = c.feed(welcome_v2(3, 1000));
    std::vector<std::string> sent;
    for (const auto& x : steps)
        if (x.type == ckind::write)
            sent.push_back(x.bytes);
    CHECK(sent == std::vector<std::string>{terms_ack(0, 1000)});
    CHECK(c.m.server_max_frame() == 65'536u);

    server_machine::options so;
    so.peer_max_frame = 500;
    server s(so);
    s.feed(hello_v2("p"));
    CHECK(s.m.peer_max_frame() == 500u); // until TERMS_ACK: peer_max_frame
    CHECK(s.m.accept_send(501, 505, 0, test_clock::now()) == heartbeat::send_verdict::too_large);
    s.feed(terms_ack(0, 1000));
    CHECK(s.m.peer_max_frame() == 1000u);
    CHECK(s.m.accept_send(1000, 1004, 0, test_clock::now()) == heartbeat::send_verdict::queued);
    CHECK(s.m.accept_send(1001, 1005, 0, test_clock::now()) == heartbeat::send_verdict::too_large);
    // Every TERMS_ACK carries the limit again.
    CHECK(s.m.renegotiate(test_clock::now(), 2s, 3));
    s.drain();
    s.feed(terms_ack(1, 2000));
    CHECK(s.m.peer_max_frame() == 2000u);
    CHECK(refusal_code(s.feed(terms_ack(2, 1000))) == wire_code(code::protocol_error)); // never sent
}

TEST_CASE("PROTOCOL R31: the server measures RTT from returned stamps less the client's hold", "[protocol]")
{
    SECTION("the server's arithmetic")
    {
        server s; // the session started at 10 s
        const time_point epoch = test_clock::now();
        s.welcome_v2();
        test_clock::advance_to(epoch + 1250ms);
        CHECK(written(s.feed(frames::beat(1))) == std::vector<std::string>{echo_v2(1, 1'250'000)});
        CHECK(s.rtts.empty()); // nothing returned yet
        test_clock::advance_to(epoch + 2'250'400us);
        s.feed(beat_v2(2, 1'250'000, 999'800));
        REQUIRE(s.rtts.size() == 1);
        CHECK(s.rtts[0] == 600us);
        // A second sample: RFC 6298's smoothing.
        test_clock::advance_to(epoch + 3'251'400us);
        s.feed(beat_v2(3, 2'250'400, 1'000'000));
        REQUIRE(s.rtts.size() == 2);
        CHECK(s.rtts[1] == 1000us);
        CHECK(s.m.smoothed_rtt() == 650us);   // 600 + (1000 - 600) / 8
        CHECK(s.m.rtt_variation() == 325us);  // 300 + (400 - 300) / 4
        // Discarded: a hold longer than the time since the stamp, and a
        // stamp 2^31 us or more in the past.
        s.feed(beat_v2(4, 3'251'000, 401));
        s.feed(beat_v2(5, 3'251'400u - 0x8000'0000u, 0));
        CHECK(s.rtts.size() == 2);
    }
    SECTION("the stamp wraps modulo 2^32")
    {
        server s;
        const time_point epoch = test_clock::now();
        s.welcome_v2();
        test_clock::advance_to(epoch + std::chrono::microseconds(0x1'0000'0100LL));
        s.feed(beat_v2(1, 0xFFFF'FF00u, 12));
        REQUIRE(s.rtts.size() == 1);
        CHECK(s.rtts[0] == 500us); // 0x200 - 12
    }
    SECTION("the client returns the newest stamp once with its hold")
    {
        client c;
        c.feed(welcome_v2(3, 1000));
        REQUIRE(c.m.version() == 2);
        c.write(); // TERMS_ACK 0
        auto steps = c.fire(); // 1 s: the first beat, nothing to return
        CHECK(steps.front().bytes == frames::beat(1));
        c.write();
        test_clock::advance(1ms);
        c.feed(echo_v2(1, 77));
        steps = c.fire(); // 2 s: held 999 ms
        CHECK(steps.front().bytes == beat_v2(2, 77, 999'000));
        c.write();
        steps = c.fire(); // 3 s: no new echo, nothing to return
        CHECK(steps.front().bytes == frames::beat(3));
    }
}

TEST_CASE("PROTOCOL R32: the server holds longer terms at once and shorter ones from their ack", "[protocol]")
{
    server s;
    s.welcome_v2(); // held to 3 x 1 s
    SECTION("longer")
    {
        CHECK(s.m.renegotiate(test_clock::now(), 2s, 3));
        const auto steps = s.drain();
        REQUIRE(written(steps).size() == 1);
        CHECK(written(steps)[0] == terms(1, 3, 2000));
        CHECK(find(steps, skind::write)->urgent);
        CHECK(has(steps, skind::hold));
        CHECK(s.m.held_interval() == 2s);
        // The registry holds the peer to 6 s at once.
        test_clock::advance(6s);
        s.sweep();
        CHECK(s.peer_online());
    }
    SECTION("shorter: only once TERMS_ACK of the latest id arrives")
    {
        CHECK(s.m.renegotiate(test_clock::now(), 500ms, 2)); // TERMS 1
        CHECK_FALSE(has(s.drain(), skind::hold));
        CHECK(s.m.renegotiate(test_clock::now(), 400ms, 2)); // TERMS 2
        s.drain();
        CHECK(s.m.held_interval() == 1s);
        CHECK_FALSE(has(s.feed(terms_ack(1, 65'536)), skind::hold)); // an older id
        CHECK(s.m.held_interval() == 1s);
        const auto steps = s.feed(terms_ack(2, 65'536));
        CHECK(has(steps, skind::hold));
        CHECK(s.m.held_interval() == 400ms);
        CHECK(s.m.held_misses() == 2u);
    }
}

TEST_CASE("PROTOCOL R33: the client acknowledges TERMS and adopts them at once", "[protocol]")
{
    client c;
    c.feed(welcome_v2(3, 1000)); // at 0 s: the first beat due at 1 s
    c.write();
    SECTION("shorter: the next beat comes one new interval from now")
    {
        test_clock::advance(100ms);
        const auto steps = c.feed(terms(1, 2, 300));
        REQUIRE_FALSE(steps.empty());
        CHECK(steps.front().type == ckind::write);
        CHECK(steps.front().urgent);
        CHECK(steps.front().bytes == terms_ack(1, 65'536));
        CHECK(c.m.interval() == 300ms);
        CHECK(c.m.misses() == 2u);
        c.write();
        c.fire();
        CHECK(test_clock::now() == time_point(400ms));
    }
    SECTION("longer: the beat already due stays due")
    {
        test_clock::advance(100ms);
        c.feed(terms(1, 3, 5000));
        c.write();
        c.fire();
        CHECK(test_clock::now() == time_point(1s));
        c.write();
        c.fire();
        CHECK(test_clock::now() == time_point(6s));
    }
    SECTION("outside the client's bounds")
    {
        CHECK(ended_with(c.feed(terms(1, 3, 5))) == error::unacceptable_terms);
    }
    SECTION("leaving: ignored")
    {
        c.m.leave(test_clock::now());
        c.drain();
        CHECK_FALSE(wrote_anything(c.feed(terms(1, 2, 300))));
        CHECK(c.m.interval() == 1s);
    }
}

TEST_CASE("PROTOCOL R34: a full server tells a version 2 client when to retry", "[protocol]")
{
    server s;
    s.full = true;
    const auto out = written(s.feed(hello_v2("p")));
    REQUIRE(out.size() == 1); // one last frame: RETRY_AFTER then ERROR 7
    CHECK(out[0].substr(0, 8) == retry_after(5000));
    CHECK(error_code_of(out[0].substr(8)) == wire_code(code::server_full));

    client c;
    const auto steps = c.feed(out[0]);
    CHECK(ended_with(steps) == error::server_full);
    CHECK(c.m.retry_after() == 5s);

    // RETRY_AFTER comes only ahead of ERROR: anything else after it is out
    // of order.
    for (const std::string& then : {welcome_v2(3, 1000), retry_after(10)}) {
        client d;
        CHECK(ended_with(d.feed(retry_after(5000) + then)) == error::protocol_error);
    }

    server_machine::options none;
    none.server_full_retry_after = 0s;
    server z(none);
    z.full = true;
    const auto bare = written(z.feed(hello_v2("p")));
    REQUIRE(bare.size() == 1);
    CHECK(error_code_of(bare[0]) == wire_code(code::server_full));
}

TEST_CASE("PROTOCOL R35: the server probes a client that offered after probe_interval of silence", "[protocol]")
{
    server_machine::options o;
    o.probe_interval = 1500ms;
    server s(o); // started at 10 s
    const time_point t = test_clock::now();
    std::vector<std::uint8_t> h;
    wire::append_hello(h, {wire::protocol_version, 1000, "ab", "k", wire::hello_flags::v2 | wire::hello_flags::probes});
    CHECK(bytes_of(h) == hex("01 00 00 0e  48 42 01 03  00 00 03 e8  02 61 62  00 01 6b"));
    s.feed(bytes_of(h)); // WELCOME at t: held to 3 x 1 s
    REQUIRE(s.m.version() == 2);
    // Silence since WELCOME: the first PROBE at exactly t + 1.5 s.
    test_clock::advance_to(t + 1500ms - 1ns);
    CHECK(written(s.timer()).empty());
    test_clock::advance_to(t + 1500ms);
    auto steps = s.timer();
    CHECK(written(steps) == std::vector<std::string>{hex("0b 00 00 04  00 00 00 01")});
    CHECK(find(steps, skind::write)->urgent);
    // Any byte restarts the count: read at t + 2 s, so nothing at t + 3 s
    // and the next PROBE at t + 3.5 s.
    test_clock::advance_to(t + 2s);
    s.feed(terms_ack(0, 65'536));
    test_clock::advance_to(t + 3s);
    CHECK(written(s.timer()).empty());
    test_clock::advance_to(t + 3500ms - 1ns);
    CHECK(written(s.timer()).empty());
    test_clock::advance_to(t + 3500ms);
    CHECK(written(s.timer()) == std::vector<std::string>{hex("0b 00 00 04  00 00 00 02")});
    test_clock::advance_to(t + 5s);
    CHECK(written(s.timer()) == std::vector<std::string>{probe(3)});
    // A PROBE is a question, not life: the deadline of R9 stands.
    s.sweep();
    CHECK(s.peer_online());
    test_clock::advance(1ns);
    s.sweep();
    CHECK_FALSE(s.peer_online());
    CHECK(s.offline == std::vector<offline_reason>{offline_reason::timeout});

    // No PROBE to a client that did not offer, nor in a version 1 session
    // (the flag alone does not make one): the transport's own probe instead.
    for (const std::string& hello_bytes :
         {hello_v2("ab", 1000), hello_flagged(wire::hello_flags::probes, "ab", 1000)}) {
        server q(o);
        q.feed(hello_bytes);
        REQUIRE(q.m.online());
        test_clock::advance(1500ms);
        steps = q.timer();
        CHECK(written(steps).empty());
        CHECK(has(steps, skind::probe));
    }
}

TEST_CASE("PROTOCOL R36: the client answers a PROBE at once with its next BEAT", "[protocol]")
{
    client c; // HELLO at 0 s, flags 03
    c.feed(welcome_v2(3, 1000));
    c.write(); // TERMS_ACK 0
    c.fire();  // 1 s: beat 1
    c.write();
    test_clock::advance(1ms);
    c.feed(echo_v2(1, 77)); // at 1.001 s
    test_clock::advance_to(time_point(1500ms));
    const auto steps = c.feed(hex("0b 00 00 04  00 00 00 01"));
    REQUIRE(written(steps).size() == 1);
    CHECK(written(steps)[0] == hex("04 00 00 0c  00 00 00 02  00 00 00 4d  00 07 9d 38")); // held 499 ms
    CHECK(steps.front().urgent);
    c.write();
    // The schedule stands: the next beat at 2 s, seq 3.
    CHECK(c.timer == time_point(2s));
    CHECK(c.fire().front().bytes == frames::beat(3));

    // Not offered: protocol_error; in a version 1 session type 0x0B is unknown.
    auto co = client_options();
    co.answer_probes = false;
    client quiet(co);
    quiet.feed(welcome_v2(3, 1000));
    auto ended = quiet.feed(probe(1));
    CHECK(ended_with(ended) == error::protocol_error);
    CHECK_FALSE(wrote_anything(ended));
    client v1;
    v1.establish();
    ended = v1.feed(probe(1));
    CHECK(ended_with(ended) == error::unknown_frame_type);
    CHECK_FALSE(wrote_anything(ended));
}

// ---- the worked examples --------------------------------------------------------

TEST_CASE("PROTOCOL worked example: version 1 byte for byte", "[protocol]")
{
    std::vector<std::uint8_t> h;
    wire::append_hello(h, {wire::protocol_version, 1000, "ab", "k"});
    CHECK(bytes_of(h) == hex("01 00 00 0e  48 42 01 00  00 00 03 e8  02 61 62  00 01 6b"));
    // The server with default bounds holds 1000 ms to 1000 ms.
    server s;
    const auto steps = s.feed(bytes_of(h));
    REQUIRE(written(steps).size() == 1);
    CHECK(written(steps)[0] == hex("02 00 00 06  01 03 00 00 03 e8"));
    CHECK(frames::beat(1) == hex("04 00 00 04  00 00 00 01"));
    CHECK(written(s.feed(frames::beat(1))) == std::vector<std::string>{hex("05 00 00 04  00 00 00 01")});
    CHECK(error_frame(code::auth_failed, "no") == hex("03 00 00 04  00 03 6e 6f"));
    CHECK(goodbye(wire::goodbye_reason::normal) == hex("07 00 00 01  00"));
    CHECK(goodbye(wire::goodbye_reason::shutting_down) == hex("07 00 00 01  01"));
}

TEST_CASE("PROTOCOL worked example: version 2 byte for byte", "[protocol]")
{
    std::vector<std::uint8_t> h;
    wire::append_hello(h, {wire::protocol_version, 1000, "ab", "k", wire::hello_flags::v2});
    CHECK(bytes_of(h) == hex("01 00 00 0e  48 42 01 01  00 00 03 e8  02 61 62  00 01 6b"));
    // The reference client sends exactly these bytes with answer_probes
    // off, and by default offers to answer PROBEs too: flags 03.
    auto co = client_options();
    co.credential = "k";
    co.answer_probes = false;
    test_clock::reset();
    client_machine m(co);
    m.start(test_clock::now());
    CHECK(std::string(m.next().bytes()) == bytes_of(h));
    co.answer_probes = true;
    client_machine offering(co);
    offering.start(test_clock::now());
    CHECK(std::string(offering.next().bytes()) == hex("01 00 00 0e  48 42 01 03  00 00 03 e8  02 61 62  00 01 6b"));

    // The server with 500 ms of grace: WELCOME v2.
    server_machine::options so;
    so.grace = 500ms;
    server s(so);
    const time_point epoch = test_clock::now();
    auto out = written(s.feed(bytes_of(h)));
    REQUIRE(out.size() == 1);
    CHECK(out[0] == hex("02 00 00 0f  02 03 00 00 03 e8  00 00 01 f4  00 01 00 00  00"));
    CHECK(out[0] == welcome_v2(3, 1000, 500, 65'536, wire::detection_kind::fixed));

    CHECK(terms_ack(0, 65'536) == hex("09 00 00 06  00 00  00 01 00 00"));
    s.feed(terms_ack(0, 65'536));

    // Beat 1 read 1.25 s into the session; its echo's stamp.
    test_clock::advance_to(epoch + 1250ms);
    out = written(s.feed(hex("04 00 00 04  00 00 00 01")));
    CHECK(out == std::vector<std::string>{hex("05 00 00 08  00 00 00 01  00 13 12 d0")});
    CHECK(echo_v2(1, 1'250'000) == out[0]);

    // Beat 2 returns the stamp, held 999,800 us; read at 2,250,400 us: 600 us.
    CHECK(beat_v2(2, 1'250'000, 999'800) == hex("04 00 00 0c  00 00 00 02  00 13 12 d0  00 0f 41 78"));
    test_clock::advance_to(epoch + 2'250'400us);
    s.feed(hex("04 00 00 0c  00 00 00 02  00 13 12 d0  00 0f 41 78"));
    REQUIRE(s.rtts.size() == 1);
    CHECK(s.rtts[0] == 600us);

    // TERMS 1 and its ack.
    CHECK(s.m.renegotiate(test_clock::now(), 2s, 3));
    out = written(s.drain());
    CHECK(out == std::vector<std::string>{hex("08 00 00 0b  00 01  03  00 00 07 d0  00 00 01 f4")});
    CHECK(terms(1, 3, 2000, 500) == out[0]);
    CHECK(terms_ack(1, 65'536) == hex("09 00 00 06  00 01  00 01 00 00"));

    CHECK(retry_after(5000) == hex("0a 00 00 04  00 00 13 88"));
    CHECK(probe(1) == hex("0b 00 00 04  00 00 00 01"));
    CHECK(beat_v2(2, 77, 499'000) == hex("04 00 00 0c  00 00 00 02  00 00 00 4d  00 07 9d 38"));
    CHECK(error_frame(code::server_full, "") == hex("03 00 00 02  00 07"));
    CHECK(error_frame(code::timeout, "") == hex("03 00 00 02  00 0b"));
    CHECK(goodbye(wire::goodbye_reason::kicked) == hex("07 00 00 01  03"));
}
