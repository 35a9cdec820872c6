// A heartbeat client over TLS that stays connected: it verifies the
// server's certificate and name (against the CA file given), sends SNI,
// and reconnects with backoff when the session ends. Every failed attempt
// is printed with its error, a certificate that fails verification too.
//
//   tls_client --ca server.pem --port 7443 [--host 127.0.0.1]
//              [--server-name localhost] [--id NAME] [--seconds N]
#include <heartbeat/tls.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace net = heartbeat::net;
namespace ssl = net::ssl;

int main(int argc, char** argv)
{
    std::string ca, host = "127.0.0.1", port, server_name, id = "tls-client";
    long seconds = 0; // 0: until SIGINT / SIGTERM
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string value = argv[i + 1];
        if (!std::strcmp(argv[i], "--ca"))
            ca = value;
        else if (!std::strcmp(argv[i], "--host"))
            host = value;
        else if (!std::strcmp(argv[i], "--port"))
            port = value;
        else if (!std::strcmp(argv[i], "--server-name"))
            server_name = value;
        else if (!std::strcmp(argv[i], "--id"))
            id = value;
        else if (!std::strcmp(argv[i], "--seconds"))
            seconds = std::atol(argv[i + 1]);
    }
    if (port.empty()) {
        std::fprintf(stderr, "usage: tls_client --port N [--ca FILE] [--host H] [--server-name NAME] "
                             "[--id NAME] [--seconds N]\n");
        return 2;
    }

    net::io_context io;
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_options(ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    if (ca.empty())
        ctx.set_default_verify_paths(); // the system's trust anchors
    else
        ctx.load_verify_file(ca);

    heartbeat::tls::reconnecting_client<>::options opts;
    opts.host = host;
    opts.port = port;
    opts.session.id = id;
    opts.session.interval = std::chrono::milliseconds(250);
    opts.backoff_max = std::chrono::seconds(2);
    heartbeat::tls::connector::options tls_opts;
    tls_opts.server_name = server_name; // empty: the host's name is what the certificate must carry
    heartbeat::tls::reconnecting_client<> client(io, opts, heartbeat::tls::connector(ctx, tls_opts));

    client.on_connected([&] {
        std::printf("client: connected over TLS\n");
        client.send("hello over TLS");
    });
    client.on_message([](std::string_view text) {
        std::printf("client: got \"%.*s\"\n", static_cast<int>(text.size()), text.data());
        std::fflush(stdout);
    });
    client.on_attempt_failed([](heartbeat::error_code why, unsigned attempt) {
        std::printf("client: attempt %u failed: %s\n", attempt, why.message().c_str());
        std::fflush(stdout);
    });
    client.on_lost([](heartbeat::error_code why) { std::printf("client: lost: %s\n", why.message().c_str()); });
    client.start();

    net::signal_set signals(io, SIGINT, SIGTERM);
    net::steady_timer deadline(io);
    auto stop = [&] {
        client.stop();
        signals.cancel();
        deadline.cancel();
    };
    signals.async_wait([&](heartbeat::error_code ec, int) {
        if (!ec)
            stop();
    });
    if (seconds > 0) {
        deadline.expires_after(std::chrono::seconds(seconds));
        deadline.async_wait([&](heartbeat::error_code ec) {
            if (!ec)
                stop();
        });
    }
    io.run();
    std::printf("client: stopped after %llu session(s)\n", static_cast<unsigned long long>(client.sessions()));
}
