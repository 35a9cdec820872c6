// libFuzzer target: the server's session machine, driven directly. The
// input scripts a hostile peer and a hostile environment: bytes in
// fuzzer-chosen chunks, the clock, the authenticator's verdicts, the
// registry's answers, failed writes, timeouts, replacements and shutdown.
// Whatever happens, the machine must keep its promises: a bounded number
// of actions per step, only well-formed frames written, the peer released
// from the registry exactly once per admission, and nothing after close.
#include <heartbeat/session/server_session.hpp>

#include <heartbeat/testing/manual_clock.hpp>

#include "require.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace {
using namespace std::chrono_literals;
namespace wire = heartbeat::wire;
using test_clock = heartbeat::testing::basic_manual_clock<struct session_fuzz_tag>;
using machine = heartbeat::server_session<test_clock>;
using kind = machine::kind;


struct script {
    const std::uint8_t* p;
    const std::uint8_t* end;
    std::uint8_t byte() { return p == end ? 0 : *p++; }
};

struct harness {
    machine m;
    script& in;
    bool asked_verdict = false;
    bool asked_admission = false;
    bool registered = false;
    bool closed = false;
    bool want_read = false;
    std::size_t queued = 0;
    std::vector<std::uint8_t> chunk;

    harness(const machine::options& o, script& s) : m(o), in(s) {}

    // Every frame the server writes decodes as whole frames a server may
    // send: one, or RETRY_AFTER then ERROR as a last frame; version 2's
    // frames only in a version 2 session, and PROBE only to a peer that
    // offered to answer it.
    void check_frame(const machine::action& a, bool last) const
    {
        wire::decoder d(wire::max_encodable_payload);
        int frames = 0;
        bool retry = false;
        HEARTBEAT_FUZZ_REQUIRE(d.feed(a.data, a.size, [&](const wire::frame_view& f) {
            ++frames;
            const bool v1_type = f.type == wire::frame_type::echo || f.type == wire::frame_type::welcome
                                 || f.type == wire::frame_type::error || f.type == wire::frame_type::goodbye;
            const bool v2_type = f.type == wire::frame_type::terms || f.type == wire::frame_type::retry_after;
            const bool probe = f.type == wire::frame_type::probe;
            HEARTBEAT_FUZZ_REQUIRE(v1_type || (v2_type && m.version() == wire::protocol_version_2)
                                   || (probe && m.online() && m.peer_answers_probes() && !last));
            if (f.type == wire::frame_type::retry_after)
                retry = true;
            else if (retry)
                HEARTBEAT_FUZZ_REQUIRE(f.type == wire::frame_type::error);
        }) == wire::decode_status::ok);
        HEARTBEAT_FUZZ_REQUIRE(!d.mid_frame());
        HEARTBEAT_FUZZ_REQUIRE(frames == 1 || (last && retry && frames == 2));
    }

    void drain()
    {
        for (int steps = 0;; ++steps) {
            HEARTBEAT_FUZZ_REQUIRE(steps < 100'000); // a step always makes progress
            const auto a = m.next();
            if (closed)
                HEARTBEAT_FUZZ_REQUIRE(a.type == kind::idle); // nothing after close
            switch (a.type) {
            case kind::idle: return;
            case kind::read:
                want_read = true;
                return;
            case kind::handshake: m.handshake_done(test_clock::now(), in.byte() % 4 != 0); break;
            case kind::authenticate:
                HEARTBEAT_FUZZ_REQUIRE(!asked_verdict && !registered);
                asked_verdict = true;
                if (in.byte() % 8 == 0)
                    break; // held: an asynchronous verdict that may never come
                m.authenticated(in.byte() % 5 == 0 ? std::optional(heartbeat::error::auth_failed) : std::nullopt,
                                test_clock::now());
                break;
            case kind::admit: {
                HEARTBEAT_FUZZ_REQUIRE(asked_verdict && !asked_admission);
                asked_admission = true;
                machine::admission r;
                const auto pick = in.byte() % 6;
                r.result = pick == 0   ? machine::admission::outcome::taken
                           : pick == 1 ? machine::admission::outcome::full
                                       : machine::admission::outcome::admitted;
                r.held = std::chrono::milliseconds(in.byte());
                registered = r.result == machine::admission::outcome::admitted;
                m.admitted(r, test_clock::now());
                break;
            }
            case kind::probe:
                // The transport's probe, for a peer that answers none of ours.
                HEARTBEAT_FUZZ_REQUIRE(m.online() && !m.peer_answers_probes());
                break;
            case kind::touch:
            case kind::sample_rtt:
            case kind::measured_rtt:
            case kind::deliver: HEARTBEAT_FUZZ_REQUIRE(m.online()); break;
            case kind::hold:
                HEARTBEAT_FUZZ_REQUIRE(registered && a.misses != 0 && a.interval > machine::duration::zero());
                break;
            case kind::write:
                check_frame(a, false);
                // ECHO (8; 12 in version 2), PROBE (8) or TERMS (15) ahead of DATA.
                HEARTBEAT_FUZZ_REQUIRE(!a.urgent || a.size == 8 || a.size == 12 || a.size == 15);
                queued += a.size;
                break;
            case kind::close_after: check_frame(a, true); break;
            case kind::release:
                HEARTBEAT_FUZZ_REQUIRE(registered); // exactly once per admission
                registered = false;
                break;
            case kind::wait_until:
            case kind::cancel_timer: break;
            case kind::close:
                HEARTBEAT_FUZZ_REQUIRE(!registered);
                closed = true;
                break;
            }
        }
    }
};
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    script in{data, data + size};
    test_clock::reset();
    machine::options o;
    o.hello_timeout = 1s;
    o.max_frame = 1024;
    o.max_send_queue = 4096;
    o.max_frame_rate = 50;
    o.max_frame_burst = 20;
    const auto flags = in.byte();
    o.on_duplicate = flags & 1 ? heartbeat::duplicate_policy::reject : heartbeat::duplicate_policy::replace;
    o.close_on_timeout = (flags & 2) == 0;
    o.probe_interval = (flags & 8) != 0 ? 100ms : 0ms;
    o.max_version = (flags & 16) != 0 ? wire::protocol_version : wire::protocol_version_2;
    harness h(o, in);
    h.m.start(test_clock::now(), (flags & 4) != 0);
    h.drain();
    while (in.p != in.end) {
        const std::uint8_t op = in.byte();
        switch (op % 16) {
        case 0: test_clock::advance(std::chrono::milliseconds(in.byte()) * 10); h.m.timer_fired(test_clock::now()); break;
        case 1: h.m.write_failed(test_clock::now()); break;
        case 2: h.m.timed_out(test_clock::now()); break;
        case 3: h.m.replaced(test_clock::now()); break;
        case 4: h.m.shutdown(test_clock::now()); break;
        case 5: h.queued = 0; break; // the peer read everything
        case 7: {
            // The transport's answer, with a sample (some absurd) or none.
            const auto b = in.byte();
            std::optional<std::chrono::microseconds> rtt;
            if (b % 3 != 0)
                rtt = std::chrono::microseconds((b % 3 == 1 ? 1 : -1) * std::int64_t{in.byte()} * 1000);
            h.m.probe_answered(test_clock::now(), rtt);
            break;
        }
        case 8:
            (void)h.m.renegotiate(test_clock::now(), std::chrono::milliseconds(1 + in.byte()) * 10, in.byte() % 8);
            break;
        case 9:
            (void)h.m.kick(test_clock::now(),
                           in.byte() % 2 ? std::optional(heartbeat::error::auth_failed) : std::nullopt);
            break;
        case 6: (void)h.m.accept_send(std::size_t(in.byte()) * 64, std::size_t(in.byte()) * 64 + 4, h.queued, test_clock::now()); break;
        default: {
            // A chunk of peer bytes; the machine must have asked to read.
            const std::size_t n = std::min<std::size_t>(1 + op / 16 * 4 + in.byte() % 4, in.end - in.p);
            h.chunk.assign(in.p, in.p + n);
            in.p += n;
            const bool eof = op == 0xFF;
            test_clock::advance(1ms);
            if (!h.closed && h.want_read) {
                h.want_read = false;
                h.m.feed(h.chunk.data(), h.chunk.size(), test_clock::now(), h.queued, eof);
            }
            break;
        }
        }
        h.drain();
        HEARTBEAT_FUZZ_REQUIRE(h.registered == h.m.registered());
    }
    h.m.shutdown(test_clock::now());
    h.drain();
    HEARTBEAT_FUZZ_REQUIRE(!h.m.registered());
    return 0;
}
