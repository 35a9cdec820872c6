// heartbeat::redis's templates instantiated and called under the strict
// warning set, as instantiate.cpp does for the rest (see there). Built
// against heartbeat::redis (hiredis); nothing here runs.
#include <heartbeat/redis.hpp>

#include <heartbeat/watcher.hpp>

#include <cstddef>
#include <future>
#include <optional>
#include <string>

namespace hb = heartbeat;
namespace hr = heartbeat::redis;
namespace net = heartbeat::net;

template class hr::basic_gateway<>;
template class hr::basic_gateway<net::io_context::executor_type>;
template class hr::basic_directory<>;
template class hr::basic_directory<net::io_context::executor_type>;

namespace heartbeat_instantiate {

template <class Gateway>
void use_gateway(Gateway& g, hb::watcher<net::ip::tcp::socket>& w)
{
    g.attach(w);
    g.peer_online("id");
    g.peer_offline("id", hb::offline_reason::timeout);
    g.start();
    (void)g.stats();
    g.async_stop([](const hb::error_code&) {});
    std::future<void> stopped = g.async_stop(net::use_future);
}

template <class Directory>
void use_directory(Directory& d)
{
    d.on_event([](const hr::cluster_event& e) { (void)hr::to_string(e.type); });
    d.on_connection([](bool) {});
    d.start();
    (void)d.connected();
    d.async_is_online("id", [](const hb::error_code&, bool) {});
    d.async_locate("id", [](const hb::error_code&, std::optional<hr::location>) {});
    d.async_online_count([](const hb::error_code&, std::size_t) {});
    d.async_snapshot([](const hb::error_code&, typename Directory::snapshot_type) {});
    std::future<bool> online = d.async_is_online("id", net::use_future);
    std::future<std::size_t> count = d.async_online_count(net::use_future);
    d.stop();
}

} // namespace heartbeat_instantiate

// Compiled and linked, never called.
void heartbeat_instantiate_redis_exercise(net::io_context& io);
void heartbeat_instantiate_redis_exercise(net::io_context& io)
{
    using namespace heartbeat_instantiate;
    hb::watcher<net::ip::tcp::socket> w(io);

    hr::gateway_options go;
    go.name = "gateway";
    hr::gateway any_gateway(io, go);
    use_gateway(any_gateway, w);
    hr::basic_gateway<net::io_context::executor_type> io_gateway(io, go);
    use_gateway(io_gateway, w);

    hr::directory any_directory(io, {});
    use_directory(any_directory);
    hr::basic_directory<net::io_context::executor_type> io_directory(io, {});
    use_directory(io_directory);

    (void)hr::detail::key(hr::redis_options{}, "presence");
    (void)hr::detail::parse_event("v1\tonline\ttimeout\tgw\t\t0\tid");
}
