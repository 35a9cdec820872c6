// The cluster components' operations take the default completion token of
// the executor they are built on: with use_awaitable's, a coroutine calls
// them with no token at all (C++20). Runs on a real redis-server.
#include <heartbeat/redis.hpp>

#include "redis_server.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#if defined(HEARTBEAT_HAS_CO_AWAIT)
namespace {
namespace hr = heartbeat::redis;
namespace net = heartbeat::net;
using namespace std::chrono_literals;
using awaitable_executor = net::use_awaitable_t<>::executor_with_default<net::any_io_executor>;
using awaitable_gateway = hr::basic_gateway<awaitable_executor>;
using awaitable_directory = hr::basic_directory<awaitable_executor>;

static_assert(std::is_same_v<awaitable_directory::default_token, net::use_awaitable_t<>>);
static_assert(std::is_same_v<awaitable_gateway::default_token, net::use_awaitable_t<>>);

struct answers {
    bool alice = false;
    bool nobody = true;
    std::string where;
    std::size_t count = 0;
    std::size_t listed = 0;
    bool left = false;
};

// None of these calls names a token.
net::awaitable<answers> ask(awaitable_directory& dir, awaitable_gateway& g)
{
    answers a;
    net::steady_timer t(co_await net::this_coro::executor);
    for (int i = 0; i < 1000 && !a.alice; ++i) { // until both are connected and the gateway's first write is in
        try {
            a.alice = co_await dir.async_is_online("alice");
        } catch (const heartbeat::system_error&) {
            // not connected yet
        }
        t.expires_after(5ms);
        co_await t.async_wait(net::use_awaitable);
    }
    a.nobody = co_await dir.async_is_online("nobody");
    const auto loc = co_await dir.async_locate("alice");
    a.where = loc ? loc->gateway : "";
    a.count = co_await dir.async_online_count();
    a.listed = (co_await dir.async_snapshot()).size();
    co_await g.async_stop();
    a.left = true;
    co_return a;
}
} // namespace

TEST_CASE("use_awaitable works as the default completion token of gateway and directory", "[cluster][tokens]")
{
    if (!heartbeat_test::redis_server::binary()) {
        WARN("redis-server is not installed: skipped");
        return;
    }
    heartbeat_test::redis_server redis;
    net::io_context io;
    hr::gateway_options go;
    go.name = "T";
    go.redis.port = redis.port();
    awaitable_gateway g(io, go);
    hr::directory_options dopts;
    dopts.redis.port = redis.port();
    awaitable_directory dir(io, dopts);
    g.start();
    dir.start();
    g.peer_online("alice");
    answers a;
    net::co_spawn(io, ask(dir, g), [&](std::exception_ptr e, answers got) {
        CHECK_FALSE(e);
        a = got;
        dir.stop();
        if (!a.left)
            g.async_stop([](heartbeat::error_code) {});
    });
    io.run_for(20s);
    CHECK(a.alice);
    CHECK_FALSE(a.nobody);
    CHECK(a.where == "T");
    CHECK(a.count == 1);
    CHECK(a.listed == 1);
    CHECK(a.left);
}
#else
TEST_CASE("use_awaitable works as the default completion token of gateway and directory", "[cluster][tokens]")
{
    WARN("this Asio and compiler pair has no co_await support");
}
#endif
