// Must NOT compile: a TLS stream cannot be built from the accepted socket
// alone. tests/headers/expect_error.sh checks that the compiler says so in
// one readable line (the static_assert in watcher::accept_from).
#include <heartbeat/tls.hpp>

int main()
{
    heartbeat::net::io_context io;
    heartbeat::tls::watcher<> w(io);
    heartbeat::net::ip::tcp::acceptor acceptor(io);
    w.accept_from(acceptor); // the ssl::context is missing
}
