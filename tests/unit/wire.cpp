#include <heartbeat/wire/decoder.hpp>

#include <heartbeat/wire/frame.hpp>

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

namespace {
using namespace heartbeat::wire;
using bytes = std::vector<std::uint8_t>;

struct captured {
    frame_type type;
    bytes payload;
    friend bool operator==(const captured& a, const captured& b)
    {
        return a.type == b.type && a.payload == b.payload;
    }
};

std::vector<captured> decode_all(decoder& d, const bytes& in, std::size_t chunk, decode_status& st)
{
    std::vector<captured> out;
    st = decode_status::ok;
    for (std::size_t at = 0; at < in.size() && st == decode_status::ok; at += chunk) {
        const std::size_t n = std::min(chunk, in.size() - at);
        st = d.feed(in.data() + at, n, [&](const frame_view& f) {
            out.push_back({f.type, bytes(f.payload, f.payload + f.size)});
        });
    }
    return out;
}

decode_status feed_once(decoder& d, const bytes& in, std::vector<captured>* out = nullptr)
{
    return d.feed(in.data(), in.size(), [&](const frame_view& f) {
        if (out)
            out->push_back({f.type, bytes(f.payload, f.payload + f.size)});
    });
}

bytes data_frame(const std::string& s)
{
    bytes f(header_size + s.size());
    encode_header(f.data(), frame_type::data, s.size());
    std::copy(s.begin(), s.end(), f.begin() + header_size);
    return f;
}
} // namespace

TEST_CASE("wire: exact bytes of each frame (the protocol document's examples)", "[wire]")
{
    const auto beat = encode_beat(0x01020304);
    CHECK(beat.size() == 8);  // a BEAT is at most 8 bytes on the wire
    CHECK(bytes(beat.begin(), beat.end()) == bytes{0x04, 0x00, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04});
    const auto echo = encode_echo(7);
    CHECK(bytes(echo.begin(), echo.end()) == bytes{0x05, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07});

    bytes hello_bytes;
    append_hello(hello_bytes, {protocol_version, 1000, "ab", "k"});
    CHECK(hello_bytes == bytes{0x01, 0x00, 0x00, 0x0e,              // HELLO, 14 bytes
                               0x48, 0x42, 0x01, 0x00,              // "HB", version 1, flags
                               0x00, 0x00, 0x03, 0xe8,              // interval 1000 ms
                               0x02, 'a', 'b',                      // id
                               0x00, 0x01, 'k'});                   // credential

    bytes welcome_bytes;
    append_welcome(welcome_bytes, {protocol_version, 3, 250});
    CHECK(welcome_bytes == bytes{0x02, 0x00, 0x00, 0x06, 0x01, 0x03, 0x00, 0x00, 0x00, 0xfa});

    bytes error_bytes;
    append_error(error_bytes, error_code_value::auth_failed, "no");
    CHECK(error_bytes == bytes{0x03, 0x00, 0x00, 0x04, 0x00, 0x03, 'n', 'o'});

    const auto bye = encode_goodbye(goodbye_reason::normal);
    CHECK(bytes(bye.begin(), bye.end()) == bytes{0x07, 0x00, 0x00, 0x01, 0x00});
}

TEST_CASE("wire: payload parsers round-trip", "[wire]")
{
    decoder d;
    bytes in;
    append_hello(in, {protocol_version, 250, "sensor-1", std::string(300, 'x')});
    append_welcome(in, {protocol_version, 4, 125});
    append_error(in, error_code_value::duplicate_id, "taken");
    const auto b = encode_beat(42);
    in.insert(in.end(), b.begin(), b.end());
    const auto e = encode_echo(43);
    in.insert(in.end(), e.begin(), e.end());
    const auto bye = encode_goodbye(goodbye_reason::shutting_down);
    in.insert(in.end(), bye.begin(), bye.end());
    const auto probe = encode_probe(0x0102'0304);
    in.insert(in.end(), probe.begin(), probe.end());

    int seen = 0;
    REQUIRE(d.feed(in.data(), in.size(), [&](const frame_view& f) {
        ++seen;
        switch (f.type) {
        case frame_type::hello: {
            hello h;
            REQUIRE(parse_hello(f, h) == decode_status::ok);
            CHECK(h.id == "sensor-1");
            CHECK(h.interval_ms == 250);
            CHECK(h.credential == std::string(300, 'x'));
            break;
        }
        case frame_type::welcome: {
            welcome w;
            REQUIRE(parse_welcome(f, w) == decode_status::ok);
            CHECK(w.misses == 4);
            CHECK(w.interval_ms == 125);
            break;
        }
        case frame_type::error: {
            error_frame ef;
            REQUIRE(parse_error(f, ef) == decode_status::ok);
            CHECK(ef.code == static_cast<std::uint16_t>(error_code_value::duplicate_id));
            CHECK(ef.message == "taken");
            break;
        }
        case frame_type::beat:
        case frame_type::echo: {
            std::uint32_t seq = 0;
            REQUIRE(parse_sequence(f, seq) == decode_status::ok);
            CHECK(seq == (f.type == frame_type::beat ? 42u : 43u));
            break;
        }
        case frame_type::goodbye: {
            goodbye_reason r{};
            REQUIRE(parse_goodbye(f, r) == decode_status::ok);
            CHECK(r == goodbye_reason::shutting_down);
            break;
        }
        case frame_type::probe: {
            std::uint32_t seq = 0;
            REQUIRE(parse_probe(f, seq) == decode_status::ok);
            CHECK(seq == 0x0102'0304u);
            break;
        }
        case frame_type::data:
        case frame_type::terms:
        case frame_type::terms_ack:
        case frame_type::retry_after: FAIL("no such frame was sent"); break;
        }
    }) == decode_status::ok);
    CHECK(seen == 7);
}

TEST_CASE("wire: any chunking of the stream yields the same frames", "[wire]")
{
    std::mt19937 rng(12345);
    bytes stream;
    std::vector<captured> expected;
    for (int i = 0; i < 200; ++i) {
        const auto kind = rng() % 3;
        if (kind == 0) {
            const auto f = encode_beat(static_cast<std::uint32_t>(i));
            stream.insert(stream.end(), f.begin(), f.end());
            expected.push_back({frame_type::beat, bytes(f.begin() + 4, f.end())});
        }
        else {
            std::string s(rng() % (kind == 1 ? 16 : 5000), static_cast<char>('a' + i % 26));
            const auto f = data_frame(s);
            stream.insert(stream.end(), f.begin(), f.end());
            expected.push_back({frame_type::data, bytes(s.begin(), s.end())});
        }
    }
    for (std::size_t chunk : {std::size_t(1), std::size_t(2), std::size_t(3), std::size_t(4), std::size_t(5),
                              std::size_t(7), std::size_t(8), std::size_t(64), std::size_t(4099), stream.size()}) {
        CAPTURE(chunk);
        decoder d;
        decode_status st{};
        const auto got = decode_all(d, stream, chunk, st);
        CHECK(st == decode_status::ok);
        CHECK_FALSE(d.mid_frame());
        CHECK(got == expected);
    }
    // Random chunk sizes.
    decoder d;
    std::vector<captured> got;
    for (std::size_t at = 0; at < stream.size();) {
        const std::size_t n = std::min<std::size_t>(1 + rng() % 300, stream.size() - at);
        REQUIRE(d.feed(stream.data() + at, n, [&](const frame_view& f) {
            got.push_back({f.type, bytes(f.payload, f.payload + f.size)});
        }) == decode_status::ok);
        at += n;
    }
    CHECK(got == expected);
}

TEST_CASE("wire: a partial frame is reported as mid-frame", "[wire]")
{
    decoder d;
    const auto b = encode_beat(1);
    REQUIRE(d.feed(b.data(), 5, [](const frame_view&) { FAIL("incomplete"); }) == decode_status::ok);
    CHECK(d.mid_frame());
    int n = 0;
    REQUIRE(d.feed(b.data() + 5, 3, [&](const frame_view&) { ++n; }) == decode_status::ok);
    CHECK(n == 1);
    CHECK_FALSE(d.mid_frame());
}

TEST_CASE("wire: bad framing fails at the header, before any payload", "[wire]")
{
    SECTION("unknown type")
    {
        decoder d;
        CHECK(feed_once(d, {0x00, 0, 0, 0}) == decode_status::unknown_frame_type);
        decoder d2;
        CHECK(feed_once(d2, {0x0C, 0, 0, 0}) == decode_status::unknown_frame_type);
        decoder d3;
        CHECK(feed_once(d3, {'G', 'E', 'T', ' '}) == decode_status::unknown_frame_type);
    }
    SECTION("a length beyond the limit")
    {
        decoder d(1000);
        bytes h(4);
        encode_header(h.data(), frame_type::data, 1001);
        CHECK(feed_once(d, h) == decode_status::frame_too_large);
        decoder ok(1000);
        encode_header(h.data(), frame_type::data, 1000);
        CHECK(feed_once(ok, h) == decode_status::ok);
        CHECK(ok.mid_frame());
    }
    SECTION("a BEAT that claims more than any version's 12 bytes")
    {
        decoder d;
        CHECK(feed_once(d, {0x04, 0x00, 0x00, 0x0D}) == decode_status::malformed_frame);
        decoder d2;
        CHECK(feed_once(d2, {0x04, 0xff, 0xff, 0xff}) == decode_status::frame_too_large);
    }
    SECTION("PROBE: 4 bytes exactly, and a type of version 2 only")
    {
        decoder d;
        CHECK(feed_once(d, {0x0B, 0x00, 0x00, 0x05}) == decode_status::malformed_frame);
        decoder v1;
        v1.limit_types(last_v1_frame_type);
        CHECK(feed_once(v1, {0x0B, 0x00, 0x00, 0x04}) == decode_status::unknown_frame_type);
    }
    SECTION("a short GOODBYE")
    {
        decoder d;
        CHECK(feed_once(d, {0x07, 0x00, 0x00, 0x00}) == decode_status::malformed_frame);
    }
    SECTION("header dribbled one byte at a time")
    {
        decoder d;
        const bytes h{0x0C, 0, 0, 0};
        decode_status st = decode_status::ok;
        for (std::size_t i = 0; i < h.size(); ++i)
            st = d.feed(&h[i], 1, [](const frame_view&) {});
        CHECK(st == decode_status::unknown_frame_type);
    }
}

TEST_CASE("wire: frames before an error are delivered, and the decoder stays failed", "[wire]")
{
    decoder d;
    bytes in;
    const auto b = encode_beat(9);
    in.insert(in.end(), b.begin(), b.end());
    in.insert(in.end(), {0x7f, 0, 0, 0});
    in.insert(in.end(), b.begin(), b.end());
    std::vector<captured> got;
    CHECK(feed_once(d, in, &got) == decode_status::unknown_frame_type);
    CHECK(got.size() == 1);
    CHECK(feed_once(d, bytes(b.begin(), b.end()), &got) == decode_status::unknown_frame_type);
    CHECK(got.size() == 1);
    d.reset();
    CHECK(feed_once(d, bytes(b.begin(), b.end()), &got) == decode_status::ok);
    CHECK(got.size() == 2);
}

TEST_CASE("wire: HELLO payload checks", "[wire]")
{
    auto parse = [](bytes payload) {
        hello h;
        return parse_hello(frame_view{frame_type::hello, payload.data(), payload.size()}, h);
    };
    const bytes good{0x48, 0x42, 0x01, 0x00, 0, 0, 0, 100, 0x01, 'x', 0x00, 0x00};
    CHECK(parse(good) == decode_status::ok);

    bytes bad_magic = good;
    bad_magic[0] = 'X';
    CHECK(parse(bad_magic) == decode_status::bad_magic);

    bytes future = good;
    future[2] = 2;
    CHECK(parse(future) == decode_status::unsupported_version);

    bytes id_too_long = good;
    id_too_long[8] = 5;  // claims 5 id bytes, has 1
    CHECK(parse(id_too_long) == decode_status::malformed_frame);

    bytes trailing = good;
    trailing.push_back(0);
    CHECK(parse(trailing) == decode_status::malformed_frame);

    bytes cred_short = good;
    cred_short[11] = 3;  // claims a 3-byte credential, has none
    CHECK(parse(cred_short) == decode_status::malformed_frame);

    CHECK(parse({0x48, 0x42}) == decode_status::malformed_frame);
}

TEST_CASE("wire: WELCOME payload checks", "[wire]")
{
    auto parse = [](bytes payload) {
        welcome w;
        return parse_welcome(frame_view{frame_type::welcome, payload.data(), payload.size()}, w);
    };
    CHECK(parse({0x01, 0x03, 0, 0, 0, 100}) == decode_status::ok);
    CHECK(parse({0x03, 0x03, 0, 0, 0, 100}) == decode_status::unsupported_version);
    CHECK(parse({0x02, 0x03, 0, 0, 0, 100}) == decode_status::malformed_frame); // version 2 has 15 bytes
    CHECK(parse({0x02, 0x03, 0, 0, 0, 100, 0, 0, 0, 50, 0, 1, 0, 0, 1}) == decode_status::ok);
    CHECK(parse({0x02, 0x03, 0, 0, 0, 100, 0, 0, 0, 50, 0, 1, 0, 0, 2}) == decode_status::malformed_frame);
    CHECK(parse({0x01, 0x03, 0, 0, 0, 100, 0, 0, 0, 50, 0, 1, 0, 0, 0}) == decode_status::malformed_frame);
    CHECK(parse({0x01, 0x00, 0, 0, 0, 100}) == decode_status::malformed_frame);  // zero misses
    CHECK(parse({0x01, 0x03, 0, 0, 0, 0}) == decode_status::malformed_frame);    // zero interval
}
