// The calls instantiate*.cpp make on each component: every member
// function, and the asynchronous operations with a callback and with
// use_future. Compiled, never run.
#ifndef HEARTBEAT_TESTS_HEADERS_EXERCISE_HPP
#define HEARTBEAT_TESTS_HEADERS_EXERCISE_HPP

#include <heartbeat/heartbeat.hpp>

#include <heartbeat/session/client_session.hpp>
#include <heartbeat/session/server_session.hpp>

#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <string_view>

namespace heartbeat_instantiate {

namespace hb = heartbeat;
namespace net = heartbeat::net;

template <class Registry>
void use_registry(Registry& r, typename Registry::time_point now)
{
    const typename Registry::key_type k{};
    const hb::peer_handle h = r.touch(k, now);
    r.touch(h, now);
    r.set_interval(k, std::chrono::milliseconds(250));
    (void)r.find(k);
    (void)r.status(k);
    (void)r.is_online(k);
    (void)r.last_seen(k);
    (void)r.info(k);
    (void)r.info(h);
    (void)r.expire(now);
    (void)r.next_deadline();
    r.for_each([](const typename Registry::peer_info& p) { (void)p.beats; });
    (void)r.snapshot();
    r.remove(k, hb::offline_reason::left, now);
    r.clear(hb::offline_reason::shutdown, now);
}

template <class Session>
void use_server_session(Session& s, typename Session::time_point now)
{
    const std::uint8_t bytes[] = {0x04, 0, 0, 4, 0, 0, 0, 1};
    s.start(now);
    s.feed(bytes, sizeof bytes, now, 0);
    s.identify(hb::wire::hello{}, now);
    s.authenticated(std::nullopt, now);
    s.admitted(typename Session::admission{}, now);
    (void)s.accept_send(12, 16, 0, now);
    (void)s.renegotiate(now, std::chrono::seconds(2), 3);
    (void)s.kick(now, hb::error::auth_failed);
    (void)s.smoothed_rtt();
    (void)s.rtt_variation();
    (void)s.version();
    for (auto a = s.next(); a.type != Session::kind::idle; a = s.next())
        (void)a.bytes();
    s.timer_fired(now);
    s.probe_answered(now);
    s.probe_answered(now, std::chrono::microseconds(250));
    (void)s.peer_answers_probes();
    s.timed_out(now);
    s.replaced(now);
    s.shutdown(now);
}

template <class Session>
void use_client_session(Session& s, typename Session::time_point now)
{
    const std::uint8_t bytes[] = {0x05, 0, 0, 4, 0, 0, 0, 1};
    s.start(now);
    s.feed(bytes, sizeof bytes, now);
    s.write_started();
    s.write_done(now);
    s.timer_fired(now);
    for (auto a = s.next(); a.type != Session::kind::idle; a = s.next())
        (void)a.bytes();
    (void)s.smoothed_rtt();
    (void)s.rtt_variation();
    (void)s.retry_after();
    (void)s.server_max_frame();
    (void)s.probes_received();
    s.leave(now);
    s.abort();
}

// `args`: what accept_from() builds each stream from, beside the socket
// (a TLS stream's ssl::context).
template <class Watcher, class Acceptor, class... Args>
void use_watcher(Watcher& w, Acceptor& acceptor, Args&... args)
{
    w.on_online([](const typename Watcher::key_type&) {});
    w.on_offline([](const typename Watcher::key_type&, hb::offline_reason) {});
    w.on_event([](const typename Watcher::event_type&) {});
    w.subscribe([](const typename Watcher::event_type&) {});
    w.on_message([](const typename Watcher::key_type&, std::string_view) {});
    w.on_refused([](const typename Watcher::refusal& r) { (void)r.claimed_id; });
    w.set_authenticator([](const typename Watcher::hello_info&) { return hb::error_code{}; });
    w.set_async_authenticator([](const typename Watcher::hello_info& h, typename Watcher::auth_handler done) {
        (void)h.remote_address;
        done(hb::auth_verdict::accept(std::string("user-1")));
        done(hb::error::auth_failed);
        done(hb::auth_verdict::refuse());
    });
    w.accept_from(acceptor, args...);
    const typename Watcher::key_type k{};
    (void)w.send(k, "bytes");
    (void)w.broadcast("bytes");
    (void)w.kick(k);
    (void)w.kick(k, hb::error::auth_failed);
    w.async_send(k, "bytes", [](const hb::error_code&, hb::send_result r) { (void)r.queued_bytes; });
    w.async_broadcast("bytes", [](const hb::error_code&, hb::broadcast_result r) { (void)r.max_queued_bytes; });
    std::future<hb::send_result> sent = w.async_send(k, "bytes", net::use_future);
    std::future<hb::broadcast_result> spread = w.async_broadcast("bytes", net::use_future);
    if (const auto rec = w.session_info(k))
        (void)rec->context.template get<std::string>();
    (void)w.sessions();
    (void)w.rtt_variation(k);
    (void)w.last_rtt(k);
    (void)w.kernel_rtt(k);
    (void)w.is_online(k);
    (void)w.last_seen(k);
    (void)w.info(k);
    (void)w.snapshot();
    (void)w.online_count();
    (void)w.rtt(k);
    (void)w.session_count();
    (void)w.frames_received();
    (void)w.refused_count();
    w.stop();
}

template <class Pulse>
void use_pulse(Pulse& p)
{
    p.on_message([](std::string_view) {});
    p.on_welcome([](typename Pulse::duration, unsigned) {});
    p.async_run([](const hb::error_code&) {});
    p.async_send("bytes", [](const hb::error_code&) {});
    std::future<void> ran = p.async_run(net::use_future);
    std::future<void> sent = p.async_send("bytes", net::use_future);
    (void)p.last_rtt();
    (void)p.smoothed_rtt();
    (void)p.interval();
    (void)p.misses();
    (void)p.beats_sent();
    (void)p.echoes_received();
    p.leave();
    p.stop();
}

template <class Monitor>
void use_monitor(Monitor& m)
{
    const typename Monitor::key_type k{};
    m.on_online([](const typename Monitor::key_type&) {});
    m.on_offline([](const typename Monitor::key_type&, hb::offline_reason) {});
    (void)m.touch(k);
    (void)m.set_interval(k, std::chrono::milliseconds(500));
    (void)m.is_online(k);
    (void)m.last_seen(k);
    (void)m.info(k);
    (void)m.snapshot();
    (void)m.online_count();
    (void)m.remove(k);
    m.stop();
}

template <class Client>
void use_reconnecting_client(Client& c)
{
    c.on_connected([] {});
    c.on_lost([](hb::error_code) {});
    c.on_attempt_failed([](hb::error_code, unsigned) {});
    c.on_gave_up([](hb::error_code, unsigned) {});
    c.on_reconnecting([](unsigned, typename Client::duration) {});
    c.on_message([](std::string_view) {});
    c.start();
    (void)c.send("bytes");
    (void)c.is_connected();
    (void)c.sessions();
    (void)c.smoothed_rtt();
    c.stop();
}

} // namespace heartbeat_instantiate

#endif
