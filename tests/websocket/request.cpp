// What heartbeat::websocket reads from an upgrade request, and the UTF-8
// check that decides text or binary for a ping-mode peer: pure functions.
#include <heartbeat/websocket/detail/request.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace heartbeat::websocket::detail;
using namespace std::string_literals;

TEST_CASE("websocket request: query parameters, decoded", "[websocket][request]")
{
    CHECK(query_parameter("/live?id=alice&token=x", "id") == "alice");
    CHECK(query_parameter("/live?id=alice&token=x", "token") == "x");
    CHECK(query_parameter("/live?token=a%20b+c%2Bd", "token") == "a b c+d");
    CHECK(query_parameter("/live?id=%E2%9C%93", "id") == "\xE2\x9C\x93");
    CHECK(query_parameter("/live?id=", "id") == "");
    CHECK(query_parameter("/live?id", "id") == "");
    CHECK(query_parameter("/live?idx=1&id=2", "id") == "2");
    CHECK(query_parameter("/live?id=1#frag", "id") == "1");
    CHECK_FALSE(query_parameter("/live", "id"));
    CHECK_FALSE(query_parameter("/live?x=1", "id"));
    // Malformed escapes are no value at all, not a guess.
    CHECK_FALSE(query_parameter("/live?id=%4", "id"));
    CHECK_FALSE(query_parameter("/live?id=%", "id"));
    CHECK_FALSE(query_parameter("/live?id=%zz", "id"));
}

TEST_CASE("websocket request: offered subprotocols and the origin check", "[websocket][request]")
{
    CHECK(offers_subprotocol("heartbeat", "heartbeat"));
    CHECK(offers_subprotocol("chat, heartbeat", "heartbeat"));
    CHECK(offers_subprotocol(" heartbeat ,chat", "heartbeat"));
    CHECK_FALSE(offers_subprotocol("heartbeat2", "heartbeat"));
    CHECK_FALSE(offers_subprotocol("", "heartbeat"));

    const std::vector<std::string> allowed{"https://app.example"};
    CHECK(origin_allowed(allowed, std::string_view("https://app.example"), true));
    CHECK_FALSE(origin_allowed(allowed, std::string_view("https://app.example.evil"), true));
    CHECK_FALSE(origin_allowed(allowed, std::string_view("null"), true));
    CHECK(origin_allowed(allowed, std::nullopt, true));
    CHECK_FALSE(origin_allowed(allowed, std::nullopt, false));
    CHECK(origin_allowed({}, std::string_view("https://anything"), false));
}

TEST_CASE("websocket request: UTF-8 as a browser demands of a text message", "[websocket][request]")
{
    CHECK(is_utf8(""));
    CHECK(is_utf8("plain ascii"));
    CHECK(is_utf8("\xC3\xA9t\xC3\xA9"));          // été
    CHECK(is_utf8("\xE2\x82\xAC"));                // €
    CHECK(is_utf8("\xF0\x9F\x92\x93"));            // U+1F493
    CHECK(is_utf8("\xF4\x8F\xBF\xBF"));            // U+10FFFF
    CHECK_FALSE(is_utf8("\xC0\xAF"));              // overlong '/'
    CHECK_FALSE(is_utf8("\xE0\x80\xAF"));          // overlong
    CHECK_FALSE(is_utf8("\xED\xA0\x80"));          // a surrogate
    CHECK_FALSE(is_utf8("\xF4\x90\x80\x80"));      // above U+10FFFF
    CHECK_FALSE(is_utf8("\xE2\x82"));              // cut short
    CHECK_FALSE(is_utf8("\x80"));                  // a continuation first
    CHECK_FALSE(is_utf8("\xFF"));
    CHECK_FALSE(is_utf8("ok\x00\xFE"s));
}
