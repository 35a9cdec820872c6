// Instantiates every public template of heartbeat and calls its member
// functions, so that the compiler checks their bodies under the strict
// warning set (-Wconversion -Wsign-conversion -Wshadow ...): g++ reports a
// conversion in a template only once it is instantiated, so including the
// headers proves nothing.
//
// Nothing here runs. `template class` instantiates every member of a class
// template; member templates and asynchronous operations (which take a
// completion token) are called (exercise.hpp) from
// heartbeat_instantiate_exercise(), which is compiled and linked into the
// unit test binary but never called.
#include <heartbeat/heartbeat.hpp>

#include <heartbeat/client.hpp>
#include <heartbeat/core.hpp>
#include <heartbeat/observer.hpp>
#include <heartbeat/session/client_session.hpp>
#include <heartbeat/session/server_session.hpp>
#include <heartbeat/testing/manual_clock.hpp>
#include <heartbeat/version.hpp>

#include "exercise.hpp"

#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <string_view>
#include <vector>

namespace hb = heartbeat;
namespace net = heartbeat::net;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;
using manual = hb::testing::manual_clock;
using phi = hb::phi_accrual<>;

// ---- the core: no Asio --------------------------------------------------------
template class hb::fixed_misses<>;
template class hb::fixed_misses<manual>;
template class hb::phi_accrual<>;
template class hb::phi_accrual<manual>;
template class hb::registry<std::string>;
template class hb::registry<std::string, steady, phi>;
template class hb::registry<std::string, manual>;
template class hb::registry<std::uint64_t, manual, hb::phi_accrual<manual>>;
template class hb::testing::basic_manual_clock<>;

// ---- the session machines -------------------------------------------------------
template class hb::server_session<>;
template class hb::server_session<manual>;
template class hb::client_session<>;
template class hb::client_session<steady, phi>;
template class hb::client_session<manual>;
template class hb::client_session<manual, hb::phi_accrual<manual>>;

// ---- the Asio components ------------------------------------------------------
template class hb::watcher<tcp::socket>;
template class hb::watcher<tcp::socket, std::string, phi>;
template class hb::pulse<tcp::socket>;
template class hb::pulse<tcp::socket, steady, phi>;
template class hb::reconnecting_client<>;
template class hb::reconnecting_client<manual, hb::tcp_connector>;
template class hb::monitor<std::string>;
template class hb::monitor<std::string, phi>;
template class hb::observer_pulse<>;
template class hb::sweeper<hb::registry<std::string>>;
template class hb::sweeper<hb::registry<std::string, steady, phi>>;
#if defined(ASIO_HAS_LOCAL_SOCKETS) || defined(BOOST_ASIO_HAS_LOCAL_SOCKETS)
template class hb::watcher<net::local::stream_protocol::socket>;
template class hb::pulse<net::local::stream_protocol::socket>;
#endif

// Compiled and linked, never called.
void heartbeat_instantiate_exercise(net::io_context& io);
void heartbeat_instantiate_exercise(net::io_context& io)
{
    using namespace heartbeat_instantiate;
    using namespace std::chrono_literals;

    // error / describe
    hb::error_code ec = hb::make_error_code(hb::error::peer_lost);
    (void)ec.message();
    (void)hb::describe(hb::error::rate_limited);
    (void)hb::to_error(hb::wire::decode_status::bad_magic);
    (void)hb::from_wire(hb::wire::error_code_value::server_full == hb::to_wire(hb::error::server_full) ? 7 : 1);
    (void)hb::detail::error_frame(hb::error::auth_failed);
    (void)hb::to_string(hb::offline_reason::timeout);

    // the wire: frame builders, parsers, the decoder
    std::vector<std::uint8_t> out;
    hb::wire::append_hello(out, hb::wire::hello{hb::wire::protocol_version, 1000, "id", "secret"});
    hb::wire::append_welcome(out, hb::wire::welcome{});
    hb::wire::append_error(out, hb::wire::error_code_value::bad_id, "bad id");
    const auto beat = hb::wire::encode_beat(7);
    const auto echo = hb::wire::encode_echo(7);
    const auto bye = hb::wire::encode_goodbye(hb::wire::goodbye_reason::normal);
    out.insert(out.end(), beat.begin(), beat.end());
    out.insert(out.end(), echo.begin(), echo.end());
    out.insert(out.end(), bye.begin(), bye.end());
    hb::wire::decoder d;
    (void)d.feed(out.data(), out.size(), [](const hb::wire::frame_view& f) {
        hb::wire::hello h;
        hb::wire::welcome w;
        hb::wire::error_frame e;
        hb::wire::goodbye_reason g;
        std::uint32_t seq = 0;
        (void)hb::wire::parse_hello(f, h);
        (void)hb::wire::parse_welcome(f, w);
        (void)hb::wire::parse_error(f, e);
        (void)hb::wire::parse_goodbye(f, g);
        (void)hb::wire::parse_sequence(f, seq);
    });
    const std::uint8_t* p = out.data();
    hb::wire::frame_view f{};
    (void)d.next(p, out.data() + out.size(), f);

    // the core
    hb::registry<std::string> fixed_registry;
    use_registry(fixed_registry, steady::now());
    hb::registry<std::string, steady, phi> phi_registry;
    use_registry(phi_registry, steady::now());
    (void)phi_registry.suspicion("id", steady::now());
    hb::registry<std::string, manual> manual_registry;
    use_registry(manual_registry, manual::now());
    hb::registry<std::uint64_t, manual, hb::phi_accrual<manual>> number_registry;
    use_registry(number_registry, manual::now());

    // the session machines
    hb::server_session<> server;
    use_server_session(server, steady::now());
    hb::server_session<manual> manual_server;
    use_server_session(manual_server, manual::now());
    hb::client_session<> client({});
    use_client_session(client, steady::now());
    hb::client_session<steady, phi> phi_client({});
    use_client_session(phi_client, steady::now());
    hb::client_session<manual> manual_client({});
    use_client_session(manual_client, manual::now());

    // the sweeper
    hb::sweeper<hb::registry<std::string>> sweep(io, fixed_registry);
    sweep.start();
    sweep.rearm();
    (void)sweep.armed_at();
    sweep.stop();

    // watcher, both policies
    tcp::acceptor acceptor(io);
    hb::watcher<tcp::socket> fixed_watcher(io);
    use_watcher(fixed_watcher, acceptor);
    hb::watcher<tcp::socket, std::string, phi> phi_watcher(io);
    use_watcher(phi_watcher, acceptor);
    (void)phi_watcher.suspicion("id");
    fixed_watcher.adopt(tcp::socket(io));
#if defined(ASIO_HAS_LOCAL_SOCKETS) || defined(BOOST_ASIO_HAS_LOCAL_SOCKETS)
    net::local::stream_protocol::acceptor local_acceptor(io);
    hb::watcher<net::local::stream_protocol::socket> local_watcher(io);
    use_watcher(local_watcher, local_acceptor);
    hb::pulse<net::local::stream_protocol::socket> local_pulse(net::local::stream_protocol::socket(io), {});
    use_pulse(local_pulse);
#endif

    // pulse, both policies
    hb::pulse<tcp::socket>::options po;
    po.id = "id";
    hb::pulse<tcp::socket> fixed_pulse(tcp::socket(io), po);
    use_pulse(fixed_pulse);
    hb::pulse<tcp::socket, steady, phi> phi_pulse(tcp::socket(io), {});
    use_pulse(phi_pulse);

    // reconnecting_client
    hb::reconnecting_client<> rc(io, {});
    use_reconnecting_client(rc);
    hb::reconnecting_client<manual> manual_rc(io, {}, hb::tcp_connector{});
    use_reconnecting_client(manual_rc);

    // observer mode
    hb::monitor<std::string> fixed_monitor(io);
    use_monitor(fixed_monitor);
    hb::monitor<std::string, phi> phi_monitor(io);
    use_monitor(phi_monitor);
    hb::observer_pulse<> op(io.get_executor(), {});
    op.start([] {}, [] {});
    op.touch();
    op.wrote();
    (void)op.last_heard();
    op.stop();

    // keepalive
    tcp::socket s(io);
    hb::tcp_keepalive_options ko;
    ko.user_timeout = 3s;
    (void)hb::set_tcp_keepalive(s, ko);
    (void)hb::get_tcp_keepalive(s, ec);
}
