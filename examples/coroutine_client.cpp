// A client written as a C++20 coroutine: every heartbeat operation takes
// use_awaitable as its completion token.
//
// The coroutine connects, runs the pulse in a second coroutine, sends a few
// messages with co_await, and leaves; the session's outcome comes back as
// the error code of co_await pulse.async_run(...).
#include <heartbeat/heartbeat.hpp>

#include <cstdio>

#if defined(HEARTBEAT_HAS_CO_AWAIT)
namespace net = heartbeat::net;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;

namespace {

net::awaitable<void> run_session(heartbeat::pulse<tcp::socket>& pulse)
{
    heartbeat::error_code ec;
    co_await pulse.async_run(net::redirect_error(net::use_awaitable, ec));
    std::printf("client: session ended: %s\n", ec ? ec.message().c_str() : "left cleanly");
}

net::awaitable<void> client(tcp::endpoint server, int& acknowledged)
{
    auto ex = co_await net::this_coro::executor;
    tcp::socket socket(ex);
    co_await socket.async_connect(server, net::use_awaitable);

    heartbeat::pulse<tcp::socket>::options o;
    o.id = "coro";
    o.interval = 50ms;
    heartbeat::pulse<tcp::socket> pulse(std::move(socket), o);
    pulse.on_message([&](std::string_view m) {
        std::printf("client: got \"%.*s\"\n", static_cast<int>(m.size()), m.data());
        ++acknowledged;
    });
    net::co_spawn(ex, run_session(pulse), net::detached);

    net::steady_timer timer(ex);
    for (int i = 1; i <= 3; ++i) {
        // async_send waits for the session to be welcomed: retry until then.
        for (;;) {
            heartbeat::error_code ec;
            co_await pulse.async_send("message " + std::to_string(i), net::redirect_error(net::use_awaitable, ec));
            if (!ec)
                break;
            timer.expires_after(10ms);
            co_await timer.async_wait(net::use_awaitable);
        }
    }
    timer.expires_after(200ms);
    co_await timer.async_wait(net::use_awaitable);
    std::printf("client: rtt %lld us after %llu beats\n",
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::microseconds>(pulse.smoothed_rtt().value_or(0ns)).count()),
                static_cast<unsigned long long>(pulse.beats_sent()));
    pulse.leave();
    timer.expires_after(100ms);
    co_await timer.async_wait(net::use_awaitable);
}

} // namespace

int main()
{
    net::io_context io;
    heartbeat::watcher<tcp::socket>::options opts;
    opts.detection.interval = 50ms;
    heartbeat::watcher<tcp::socket> server(io, opts);
    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), 0});
    server.on_message([&](const std::string& id, std::string_view m) { server.send(id, "ack " + std::string(m)); });
    server.on_offline([&](const std::string& id, heartbeat::offline_reason r) {
        std::printf("server: %s offline (%s)\n", id.c_str(), std::string(heartbeat::to_string(r)).c_str());
        server.stop();
        acceptor.close();
    });
    server.accept_from(acceptor);

    int acknowledged = 0;
    net::co_spawn(io, client(acceptor.local_endpoint(), acknowledged), net::detached);
    io.run_for(10s);
    return acknowledged == 3 ? 0 : 1;
}
#else
int main()
{
    std::printf("coroutine_client: this Asio and compiler pair has no co_await support\n");
    return 0;
}
#endif
