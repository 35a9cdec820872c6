// libFuzzer target: the frame decoder and every payload parser, fed any
// bytes in any chunking. The first byte picks the chunk size, so the fuzzer
// also explores how a stream is split.
#include <heartbeat/wire/decoder.hpp>
#include <heartbeat/wire/frame.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::size_t chunk = 1 + data[0] % 64;
    ++data;
    --size;
    namespace wire = heartbeat::wire;
    wire::decoder d(4096);
    std::size_t frames = 0;
    for (std::size_t at = 0; at < size; at += chunk) {
        const std::size_t n = size - at < chunk ? size - at : chunk;
        const auto st = d.feed(data + at, n, [&](const wire::frame_view& f) {
            ++frames;
            // A delivered frame respects the limit and its type's bounds.
            const auto b = wire::bounds_of(f.type);
            if (f.size > 4096 || f.size < b.min || f.size > b.max)
                std::abort();
            switch (f.type) {
            case wire::frame_type::hello: {
                wire::hello h;
                if (wire::parse_hello(f, h) == wire::decode_status::ok
                    && (h.id.size() > wire::max_id_size || h.credential.size() > wire::max_credential_size))
                    std::abort();
                break;
            }
            case wire::frame_type::welcome: {
                wire::welcome w;
                (void)wire::parse_welcome(f, w);
                break;
            }
            case wire::frame_type::error: {
                wire::error_frame e;
                (void)wire::parse_error(f, e);
                break;
            }
            case wire::frame_type::beat: {
                // Within the decoder's bounds, the sizes of either version parse.
                std::uint32_t seq = 0;
                wire::returned_stamp r;
                bool stamped = false;
                const bool ok = wire::parse_beat(f, true, seq, r, stamped) == wire::decode_status::ok;
                if (ok != (f.size == 4 || f.size == wire::beat_v2_payload_size) || stamped != (f.size != 4 && ok))
                    std::abort();
                if (wire::parse_beat(f, false, seq, r, stamped) == wire::decode_status::ok && f.size != 4)
                    std::abort(); // version 1 takes 4 bytes only
                break;
            }
            case wire::frame_type::echo: {
                std::uint32_t seq = 0;
                std::uint32_t stamp = 0;
                if ((wire::parse_echo(f, false, seq, stamp) == wire::decode_status::ok) != (f.size == 4))
                    std::abort();
                if ((wire::parse_echo(f, true, seq, stamp) == wire::decode_status::ok)
                    != (f.size == wire::echo_v2_payload_size))
                    std::abort();
                break;
            }
            case wire::frame_type::terms: {
                wire::terms t;
                if (wire::parse_terms(f, t) == wire::decode_status::ok && (t.misses == 0 || t.interval_ms == 0))
                    std::abort();
                break;
            }
            case wire::frame_type::terms_ack: {
                wire::terms_ack t;
                if (wire::parse_terms_ack(f, t) != wire::decode_status::ok)
                    std::abort(); // fixed size, checked at the header
                break;
            }
            case wire::frame_type::retry_after: {
                std::uint32_t ms = 0;
                if (wire::parse_retry_after(f, ms) != wire::decode_status::ok)
                    std::abort();
                break;
            }
            case wire::frame_type::probe: {
                std::uint32_t seq = 0;
                if (wire::parse_probe(f, seq) != wire::decode_status::ok)
                    std::abort(); // fixed size, checked at the header
                break;
            }
            case wire::frame_type::goodbye: {
                wire::goodbye_reason r{};
                (void)wire::parse_goodbye(f, r);
                break;
            }
            case wire::frame_type::data: break;
            }
        });
        if (st != wire::decode_status::ok) {
            // A failed decoder stays failed.
            if (d.feed(data, 1, [](const wire::frame_view&) { std::abort(); }) != st)
                std::abort();
            break;
        }
    }
    (void)frames;
    return 0;
}
