// A consumer of the optional heartbeat::tls component: OpenSSL comes with
// the target, so Asio's TLS layer compiles and links. Nothing connects and
// no certificate is needed to prove the packaging.
#include <heartbeat/heartbeat.hpp>

#if defined(HEARTBEAT_USE_BOOST_ASIO)
#include <boost/asio/ssl.hpp>
namespace ssl = boost::asio::ssl;
#else
#include <asio/ssl.hpp>
namespace ssl = asio::ssl;
#endif

#include <iostream>

int main()
{
    heartbeat::net::io_context io;
    ssl::context context(ssl::context::tls_client);
    context.set_verify_mode(ssl::verify_peer);
    ssl::stream<heartbeat::net::ip::tcp::socket> stream(io, context);
    const bool ok = context.native_handle() != nullptr && stream.native_handle() != nullptr;
    std::cout << (ok ? "heartbeat::tls links\n" : "heartbeat::tls: no SSL context\n");
    return ok ? 0 : 1;
}
