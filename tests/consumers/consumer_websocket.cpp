// A consumer of the optional heartbeat::websocket component (Boost.Beast,
// so Boost.Asio builds only): a WebSocket watcher accepts on a loopback
// port, then stops. Nothing connects; the point is that the component's
// headers compile under the consumer's flags and its target brings what
// they need.
#include <heartbeat/websocket.hpp>

#include <chrono>
#include <iostream>

int main()
{
    namespace net = heartbeat::net;
    using tcp = net::ip::tcp;

    net::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    const auto port = acceptor.local_endpoint().port();

    heartbeat::websocket::watcher<> watcher(io);
    watcher.accept_from(acceptor, heartbeat::websocket::endpoint());
    watcher.stop();
    // The stop ends the accept loop and the sweeper: run() runs out of work.
    io.run_for(std::chrono::seconds(10));

    const bool ok = port != 0 && io.stopped();
    std::cout << (ok ? "heartbeat::websocket links; listened on 127.0.0.1:" : "heartbeat::websocket FAILED on port ")
              << port << '\n';
    return ok ? 0 : 1;
}
