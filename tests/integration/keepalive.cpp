#include <heartbeat/keepalive.hpp>

#include <catch2/catch.hpp>

namespace net = heartbeat::net;

TEST_CASE("keepalive: options are set on a TCP socket and read back", "[keepalive]")
{
    net::io_context io;
    net::ip::tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    net::ip::tcp::socket s(io);
    s.connect(acceptor.local_endpoint());

    heartbeat::tcp_keepalive_options o;
    o.idle = std::chrono::seconds(7);
    o.interval = std::chrono::seconds(2);
    o.count = 4;
    o.user_timeout = std::chrono::milliseconds(15000);
    REQUIRE_FALSE(heartbeat::set_tcp_keepalive(s, o));

    net::socket_base::keep_alive ka;
    s.get_option(ka);
    CHECK(ka.value());
    heartbeat::error_code ec;
    const auto back = heartbeat::get_tcp_keepalive(s, ec);
    REQUIRE_FALSE(ec);
    CHECK(back.idle == o.idle);
    CHECK(back.interval == o.interval);
    CHECK(back.count == o.count);
    CHECK(back.user_timeout == o.user_timeout);
}

TEST_CASE("keepalive: a closed socket reports an error", "[keepalive]")
{
    net::io_context io;
    net::ip::tcp::socket s(io);
    CHECK(heartbeat::set_tcp_keepalive(s));
}
