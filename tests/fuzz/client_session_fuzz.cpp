// libFuzzer target: the client's session machine against a hostile server.
// The input scripts what the server sends (garbage, WELCOMEs with absurd
// terms, ECHOs for beats never sent, DATA past the limit), in chunks, with
// the clock and the completion of our writes. The session must end with a
// clear error or keep running; it must never crash, finish twice, write a
// frame a client may not send, or let its list of unanswered beats grow
// without bound. PROBEs come in any number and order, offered or not.
#include <heartbeat/session/client_session.hpp>

#include <heartbeat/testing/manual_clock.hpp>

#include "require.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace {
using namespace std::chrono_literals;
namespace wire = heartbeat::wire;
using test_clock = heartbeat::testing::basic_manual_clock<struct client_session_fuzz_tag>;
using machine = heartbeat::client_session<test_clock>;
using kind = machine::kind;


void check_frame(const machine::action& a)
{
    wire::decoder d(wire::max_encodable_payload);
    int frames = 0;
    HEARTBEAT_FUZZ_REQUIRE(d.feed(a.data, a.size, [&](const wire::frame_view& f) {
        ++frames;
        HEARTBEAT_FUZZ_REQUIRE(f.type == wire::frame_type::hello || f.type == wire::frame_type::beat
                || f.type == wire::frame_type::goodbye || f.type == wire::frame_type::terms_ack);
    }) == wire::decode_status::ok);
    HEARTBEAT_FUZZ_REQUIRE(frames == 1 && !d.mid_frame());
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::uint8_t* p = data;
    const std::uint8_t* const end = data + size;
    auto byte = [&]() -> std::uint8_t { return p == end ? 0 : *p++; };
    test_clock::reset();
    machine::options o;
    o.id = "fuzz";
    o.interval = 20ms;
    o.max_frame = 512;
    const std::uint8_t flags = byte();
    o.beat_only_when_idle = (flags & 1) != 0;
    o.max_version = (flags & 2) != 0 ? wire::protocol_version : wire::protocol_version_2;
    o.answer_probes = (flags & 4) == 0;
    machine m(o);
    bool finished = false;
    bool want_read = false;
    bool writing = false;
    std::vector<std::uint8_t> chunk;
    auto drain = [&] {
        for (int steps = 0;; ++steps) {
            HEARTBEAT_FUZZ_REQUIRE(steps < 100'000);
            const auto a = m.next();
            if (finished)
                HEARTBEAT_FUZZ_REQUIRE(a.type == kind::idle);
            switch (a.type) {
            case kind::idle: return;
            case kind::read: want_read = true; return;
            case kind::write:
            case kind::close_after: check_frame(a); break;
            case kind::established:
            case kind::terms_changed:
                HEARTBEAT_FUZZ_REQUIRE(a.interval >= o.min_interval && a.interval <= o.max_interval);
                HEARTBEAT_FUZZ_REQUIRE(a.interval * a.misses <= o.max_timeout);
                break;
            case kind::finish:
                finished = true;
                if (a.end == machine::ending::error)
                    HEARTBEAT_FUZZ_REQUIRE(a.code != heartbeat::error{}); // a clear reason
                break;
            case kind::deliver: HEARTBEAT_FUZZ_REQUIRE(a.size <= o.max_frame); break;
            case kind::wait_until:
            case kind::cancel_timer: break;
            }
        }
    };
    m.start(test_clock::now());
    drain();
    while (p != end) {
        const std::uint8_t op = byte();
        switch (op % 8) {
        case 0:
            test_clock::advance(std::chrono::milliseconds(byte()));
            m.timer_fired(test_clock::now());
            break;
        case 1:
            if (!writing) {
                m.write_started();
                writing = true;
            }
            break;
        case 2:
            if (writing) {
                m.write_done(test_clock::now());
                writing = false;
            }
            break;
        case 3: m.leave(test_clock::now()); break;
        default:
            if (want_read && !finished) {
                const std::size_t n = std::min<std::size_t>(1 + byte() % 64, static_cast<std::size_t>(end - p));
                chunk.assign(p, p + n);
                p += n;
                want_read = false;
                test_clock::advance(1ms);
                m.feed(chunk.data(), chunk.size(), test_clock::now(), op == 0xFF);
            }
            break;
        }
        drain();
        HEARTBEAT_FUZZ_REQUIRE(m.unanswered() <= 256);
        // PROBEs reach only a client that offered to answer them, in version 2.
        HEARTBEAT_FUZZ_REQUIRE(m.probes_received() == 0 || (o.answer_probes && m.version() == 2));
        HEARTBEAT_FUZZ_REQUIRE(m.unanswered() <= m.beats_sent());
    }
    m.abort();
    drain();
    HEARTBEAT_FUZZ_REQUIRE(finished);
    return 0;
}
