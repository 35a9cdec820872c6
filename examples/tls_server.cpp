// A heartbeat server over TLS: accepts TLS connections, runs each one's
// handshake inside its session, and reports who is online, who left, and
// every connection it refused (a failed handshake, a bad HELLO) with the
// peer's address. Echoes each message back.
//
//   tls_server --cert server.pem --key server.key [--port 7443] [--seconds N]
//
// Make a throwaway certificate for a try on one machine (one command):
//   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1
//     -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1
//     -keyout server.key -out server.pem
// or run scripts/tls-demo.sh, which does that and runs both examples.
#include <heartbeat/tls.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace net = heartbeat::net;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

int main(int argc, char** argv)
{
    std::string cert, key;
    unsigned short port = 7443;
    long seconds = 0; // 0: until SIGINT / SIGTERM
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--cert"))
            cert = argv[i + 1];
        else if (!std::strcmp(argv[i], "--key"))
            key = argv[i + 1];
        else if (!std::strcmp(argv[i], "--port"))
            port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
        else if (!std::strcmp(argv[i], "--seconds"))
            seconds = std::atol(argv[i + 1]);
    }
    if (cert.empty() || key.empty()) {
        std::fprintf(stderr, "usage: tls_server --cert FILE --key FILE [--port N] [--seconds N]\n");
        return 2;
    }

    net::io_context io;
    // TLS 1.2 and later; the certificate chain and its key from PEM files.
    ssl::context ctx(ssl::context::tls_server);
    ctx.set_options(ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ctx.use_certificate_chain_file(cert);
    ctx.use_private_key_file(key, ssl::context::pem);

    heartbeat::tls::watcher<>::options opts;
    opts.detection.interval = std::chrono::milliseconds(250);
    opts.hello_timeout = std::chrono::seconds(3); // the TLS handshake and the HELLO
    opts.max_handshakes = 32;                     // at once; more wait in the backlog
    heartbeat::tls::watcher<> server(io, opts);
    server.on_online([](const std::string& id) { std::printf("server: %s online\n", id.c_str()); });
    server.on_offline([](const std::string& id, heartbeat::offline_reason why) {
        std::printf("server: %s offline (%s)\n", id.c_str(), std::string(heartbeat::to_string(why)).c_str());
    });
    server.on_refused([](const heartbeat::tls::watcher<>::refusal& r) {
        std::printf("server: refused %s: %s\n", r.remote_address.c_str(), r.error.message().c_str());
    });
    server.on_message([&](const std::string& id, std::string_view text) {
        std::printf("server: %s says \"%.*s\"\n", id.c_str(), static_cast<int>(text.size()), text.data());
        server.send(id, "echo: " + std::string(text));
    });

    tcp::acceptor acceptor(io, {net::ip::make_address("127.0.0.1"), port});
    server.accept_from(acceptor, ctx); // ctx outlives the server: it is declared first
    std::printf("server: listening on 127.0.0.1:%u\n", static_cast<unsigned>(acceptor.local_endpoint().port()));
    std::fflush(stdout);

    net::signal_set signals(io, SIGINT, SIGTERM);
    net::steady_timer deadline(io);
    auto stop = [&] {
        server.stop();
        signals.cancel();
        deadline.cancel();
        acceptor.close();
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
    std::printf("server: stopped (%llu refused)\n", static_cast<unsigned long long>(server.refused_count()));
}
