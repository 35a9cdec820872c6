// Every asynchronous operation works with use_awaitable as the default
// completion token of the stream's executor (C++20).
#include <heartbeat/pulse.hpp>

#include <heartbeat/watcher.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <type_traits>

#if defined(HEARTBEAT_HAS_CO_AWAIT)
namespace {
namespace net = heartbeat::net;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using awaitable_socket = net::use_awaitable_t<>::as_default_on_t<tcp::socket>;
using awaitable_pulse = heartbeat::pulse<awaitable_socket>;

// These must compile with no token at all.
net::awaitable<void> session(awaitable_pulse& p, bool& left_cleanly)
{
    co_await p.async_run();  // throws on anything but a clean leave
    left_cleanly = true;
}

net::awaitable<void> client(tcp::endpoint server, bool& sent, bool& left_cleanly)
{
    auto ex = co_await net::this_coro::executor;
    awaitable_socket s(ex);
    co_await s.async_connect(server);
    awaitable_pulse::options o;
    o.id = "awaiter";
    o.interval = 20ms;
    awaitable_pulse p(std::move(s), o);
    net::co_spawn(ex, session(p, left_cleanly), net::detached);
    net::steady_timer t(ex);
    for (int i = 0; i < 500 && !p.is_established(); ++i) {
        t.expires_after(2ms);
        co_await t.async_wait(net::use_awaitable);
    }
    co_await p.async_send("via default token");
    sent = true;
    p.leave();
    for (int i = 0; i < 500 && !left_cleanly; ++i) {
        t.expires_after(2ms);
        co_await t.async_wait(net::use_awaitable);
    }
}
} // namespace

TEST_CASE("use_awaitable works as the default completion token", "[tokens]")
{
    net::io_context io;
    heartbeat::watcher<tcp::socket> w(io);
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    w.accept_from(acceptor);
    std::string received;
    w.on_message([&](const std::string&, std::string_view m) { received = m; });
    bool sent = false;
    bool left_cleanly = false;
    net::co_spawn(io, client(acceptor.local_endpoint(), sent, left_cleanly), [&](std::exception_ptr e) {
        CHECK_FALSE(e);
        w.stop();
        acceptor.close();
    });
    io.run_for(10s);
    CHECK(sent);
    CHECK(left_cleanly);
    CHECK(received == "via default token");
}
#else
TEST_CASE("use_awaitable works as the default completion token", "[tokens]")
{
    WARN("this Asio and compiler pair has no co_await support (e.g. clang 14 with libstdc++ and Asio 1.22)");
}
#endif
