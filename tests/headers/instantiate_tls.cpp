// heartbeat::tls's components instantiated and called under the strict
// warning set, as instantiate.cpp does for the rest (see there). Built
// against heartbeat::tls (OpenSSL); nothing here runs.
#include <heartbeat/tls.hpp>

#include "exercise.hpp"

#include <chrono>

namespace hb = heartbeat;
namespace tls = heartbeat::tls;
namespace net = heartbeat::net;
using tcp = net::ip::tcp;

template class hb::watcher<tls::stream>;
template class hb::watcher<tls::stream, std::string, hb::phi_accrual<>>;
template class hb::pulse<tls::stream>;
template class hb::reconnecting_client<std::chrono::steady_clock, tls::connector>;

// Compiled, never called.
void heartbeat_instantiate_tls_exercise(net::io_context& io);
void heartbeat_instantiate_tls_exercise(net::io_context& io)
{
    using namespace heartbeat_instantiate;
    tls::ssl::context server_ctx(tls::ssl::context::tls_server);
    tls::ssl::context client_ctx(tls::ssl::context::tls_client);

    tcp::acceptor acceptor(io);
    tls::watcher<> w(io);
    use_watcher(w, acceptor, server_ctx);
    tls::watcher<std::string, hb::phi_accrual<>> phi_watcher(io);
    use_watcher(phi_watcher, acceptor, server_ctx);
    w.adopt(tls::stream(tcp::socket(io), server_ctx));

    tls::pulse<> p(tls::stream(tcp::socket(io), client_ctx), {});
    use_pulse(p);

    tls::reconnecting_client<> c(io, {}, tls::connector(client_ctx));
    use_reconnecting_client(c);
    tls::reconnecting_client<> named(io, {}, tls::connector(client_ctx, {"server.example", true}));
    use_reconnecting_client(named);

    (void)tls::verify_category().message(0);
}
