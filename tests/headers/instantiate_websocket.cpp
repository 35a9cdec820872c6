// heartbeat::websocket instantiated and called under the strict warning
// set, as instantiate.cpp does for the core (see there): the stream's
// members a watcher uses, called directly with plain callbacks, and
// websocket::watcher<> with accept_from and adopt. Built against
// heartbeat::websocket (Boost.Asio with Beast); nothing here runs.
//
// Not covered: the stream's constructor from (socket, TLS context), which
// needs an ssl::stream next layer and OpenSSL.
#include <heartbeat/websocket.hpp>

#include "exercise.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace hb = heartbeat;
namespace ws = heartbeat::websocket;
namespace net = heartbeat::net;
using tcp = net::ip::tcp;

template class ws::basic_stream<tcp::socket>;
template class hb::watcher<ws::stream>;
template class hb::watcher<ws::stream, std::string, hb::phi_accrual<>>;

namespace {

// What the watcher does with a stream, with callbacks of the signatures
// it uses.
void use_stream(ws::stream& s)
{
    s.async_handshake(ws::stream::server, [](const hb::error_code&) {});
    char in[64];
    s.async_read_some(net::buffer(in), [](const hb::error_code&, std::size_t) {});
    const char out[] = "bytes";
    s.async_write_some(net::buffer(out), [](const hb::error_code&, std::size_t) {});
    s.async_probe([](const hb::error_code&, std::optional<std::chrono::microseconds>) {});
    s.async_shutdown([](const hb::error_code&) {});
    (void)s.transport_identity();
    (void)s.mode();
    (void)s.upgrade_request();
    (void)s.get_executor();
    (void)s.websocket();
    (void)s.next_layer();
    (void)s.lowest_layer();
    hb::error_code ec;
    s.close(ec);
}

} // namespace

// Compiled, never called.
void heartbeat_instantiate_websocket_exercise(net::io_context& io);
void heartbeat_instantiate_websocket_exercise(net::io_context& io)
{
    using namespace heartbeat_instantiate;
    ws::options o;
    o.allowed_origins.push_back("https://app.example.com");
    o.identify = [](const ws::request& req) -> std::optional<ws::identity> {
        return ws::identity{std::string(req.target()), {}};
    };
    o.on_http = [](const ws::request& req) { return ws::response(ws::http::status::ok, req.version()); };
    const ws::endpoint_ptr ep = ws::endpoint(std::move(o));

    ws::stream fresh(tcp::socket(io), ep);
    use_stream(fresh);
    ws::stream handed = ws::stream::from_request(tcp::socket(io), ws::request{}, ep);
    use_stream(handed);
    ws::stream upgraded = ws::stream::from_websocket(ws::stream::websocket_type(tcp::socket(io)), ws::request{}, ep);
    use_stream(upgraded);

    tcp::acceptor acceptor(io);
    ws::watcher<> w(io);
    use_watcher(w, acceptor, ep);
    w.accept_from(acceptor, ws::endpoint());
    w.adopt(ws::stream(tcp::socket(io), ep), hb::transport_handshake::pending);
    w.adopt(std::move(upgraded));
    ws::watcher<std::string, hb::phi_accrual<>> phi_watcher(io);
    use_watcher(phi_watcher, acceptor, ep);

    (void)ws::websocket_category().message(static_cast<int>(ws::error::no_identity));
    (void)ws::make_error_code(ws::error::origin_not_allowed);
    const hb::error_code refused = ws::error::mode_not_allowed;
    (void)refused;
    static_assert(ws::close_code_for_error(3) == 4003, "ERROR auth_failed closes with 4003");
    static_assert(ws::close_code_for_goodbye(3) == 4103, "GOODBYE kicked closes with 4103");
}
