// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_WEBSOCKET_HPP
#define HEARTBEAT_WEBSOCKET_HPP

// Liveness for browsers and other WebSocket clients (CMake target
// heartbeat::websocket). It is built on Boost.Beast, so it exists only in
// a heartbeat configured with HEARTBEAT_USE_BOOST_ASIO=ON.
//
// `websocket::watcher<> w(io); w.accept_from(acceptor, websocket::endpoint(opts));`
// answers each connection's HTTP upgrade itself (within the hello timeout),
// then runs one of two modes, chosen per connection:
//
// - framed: the client offers the subprotocol `heartbeat` (the JavaScript
//   client in js/ does). The byte stream of docs/PROTOCOL.md travels in
//   binary messages (a frame may span messages): HELLO, beats, echoes,
//   DATA, PROBEs the page's script answers (a page whose script is frozen
//   does not), refusals.
// - ping: any other client, with no library at all. Identity comes from the
//   upgrade request (by default its query: `?id=alice&token=...`), the
//   server sends WebSocket pings at the interval (browsers answer them by
//   themselves), any pong or message is a sign of life, RTT comes from the
//   ping's payload, and the peer goes offline after N unanswered intervals.
//   Messages to the peer are WebSocket messages (text when they are UTF-8);
//   refusals and endings are close frames (see close_code_for_error()).
//
// The registry, the sweeper, events with reasons, push by id, broadcast,
// kick and redis::gateway work as over TCP: this is heartbeat::watcher with
// a stream type that translates.

#include <heartbeat/detail/config.hpp>

#if !defined(HEARTBEAT_USE_BOOST_ASIO)
#error "heartbeat/websocket.hpp needs Boost.Beast, which runs on Boost.Asio only: configure heartbeat with -DHEARTBEAT_USE_BOOST_ASIO=ON (or define HEARTBEAT_USE_BOOST_ASIO) to use heartbeat::websocket"
#endif

#include <heartbeat/core/fixed_misses.hpp>
#include <heartbeat/detail/erased_handler.hpp>
#include <heartbeat/detail/stream.hpp>
#include <heartbeat/error.hpp>
#include <heartbeat/watcher.hpp>
#include <heartbeat/wire/decoder.hpp>
#include <heartbeat/wire/frame.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace heartbeat::websocket {

namespace beast = ::boost::beast;
namespace http = beast::http;

/// How a connection speaks once upgraded.
enum class mode : std::uint8_t {
    framed, ///< heartbeat frames in binary messages (a client running the library)
    ping    ///< WebSocket pings and plain messages (a client running nothing)
};

/// The upgrade request as the component reads it (a body is refused).
using request = http::request<http::empty_body>;
/// An answer to a plain HTTP request (see options::on_http).
using response = http::response<http::string_body>;

/// Who a ping-mode peer is, from its upgrade request: the id and the
/// credential the authenticator checks, as a HELLO would carry them.
struct identity {
    identity() = default;
    identity(std::string peer_id, std::string peer_credential = {}, std::string answer_subprotocol = {})
        : id(std::move(peer_id)), credential(std::move(peer_credential)), subprotocol(std::move(answer_subprotocol))
    {
    }

    std::string id;
    std::string credential;
    /// The subprotocol the upgrade's answer selects, when the client offered
    /// some (a page that carries its token as a subprotocol): a browser
    /// fails a handshake whose answer selects none of those it offered.
    std::string subprotocol;
};

/// Errors of the upgrade and of the WebSocket layer, in their own category.
enum class error {
    not_an_upgrade = 1,   ///< a plain HTTP request, and no options::on_http to answer it
    origin_not_allowed,   ///< the Origin header is not in options::allowed_origins
    no_identity,          ///< a ping-mode request options::identify found no id in
    mode_not_allowed      ///< the mode the client asked for is switched off here
};

namespace detail {
class category final : public heartbeat::detail::error_category_base {
public:
    const char* name() const noexcept override { return "heartbeat.websocket"; }
    std::string message(int ev) const override
    {
        switch (static_cast<error>(ev)) {
        case error::not_an_upgrade: return "not a WebSocket upgrade request";
        case error::origin_not_allowed: return "origin not allowed";
        case error::no_identity: return "no peer id in the upgrade request";
        case error::mode_not_allowed: return "mode not allowed";
        }
        return "unknown websocket error";
    }
};
} // namespace detail

inline const heartbeat::detail::error_category_base& websocket_category() noexcept
{
    static const detail::category c;
    return c;
}

inline error_code make_error_code(error e) noexcept { return error_code(static_cast<int>(e), websocket_category()); }

/// The close code a ping-mode peer receives when the server ends its
/// session with a protocol frame: an ERROR with code c closes with 4000 + c
/// (4003 auth_failed, 4011 timeout, ...), a GOODBYE with reason r with
/// 4100 + r (4102 replaced, 4103 kicked), except the server shutting down,
/// which is 1001 (going away). The reason text is the ERROR's own message.
constexpr std::uint16_t close_code_for_error(std::uint16_t wire_code) noexcept
{
    return static_cast<std::uint16_t>(4000 + (wire_code % 100));
}
constexpr std::uint16_t close_code_for_goodbye(std::uint8_t reason) noexcept
{
    return static_cast<std::uint16_t>(4100 + (reason % 100));
}

/// How the component answers upgrades. Shared by every connection of an
/// endpoint (see endpoint), so it is set up once.
struct options {
    /// Origins a browser may connect from ("https://app.example.com",
    /// "http://127.0.0.1:8080"), compared exactly. Empty: any origin.
    /// Set it for any server a browser can reach: a page of another site
    /// can open a WebSocket to yours, with your user's cookies.
    std::vector<std::string> allowed_origins;
    /// Let requests without an Origin header in (clients that are not
    /// browsers never send one), even when allowed_origins is set.
    bool allow_missing_origin = true;
    /// The subprotocol that selects framed mode; a client that does not
    /// offer it runs in ping mode.
    std::string framed_subprotocol = "heartbeat";
    bool allow_framed = true;
    bool allow_ping = true;
    /// The largest request header block; beyond it the request is refused
    /// (431) before it is read further.
    std::uint32_t max_header_bytes = 8 * 1024;
    /// The largest message accepted from a peer. In framed mode frames may
    /// span messages, so this bounds memory, not frames; in ping mode a
    /// message is one DATA for on_message, within the watcher's max_frame.
    std::size_t max_message = 64 * 1024;
    /// Framed mode: the largest message written. A long run of DATA is cut
    /// into messages of at most this size, so that a page (which sees a
    /// message only once it is whole) hears from the server every 16 KiB,
    /// and its watchdog counts that as life; an ECHO or a PROBE waits only
    /// for the write in flight, as over TCP.
    std::size_t max_write_message = 16 * 1024;
    /// Ping mode: messages to the peer go as text when they are UTF-8 (a
    /// browser fails the connection on a text message that is not), else
    /// binary; false: always binary.
    bool ping_mode_text = true;
    /// Ping mode: the peer's id and credential from its upgrade request.
    /// Default: the query parameters `id` and `token` (percent-decoded).
    /// Browsers cannot set headers on a WebSocket, so a token travels in
    /// the query, a cookie (`req[http::field::cookie]`) or a subprotocol.
    std::function<std::optional<identity>(const request&)> identify;
    /// Answers a plain HTTP request (a page, a health check); none: 426
    /// Upgrade Required. The connection closes after the answer, and it is
    /// not reported as a refusal.
    std::function<response(const request&)> on_http;
};

/// The options every connection of one listener shares, built once.
using endpoint_ptr = std::shared_ptr<const options>;
inline endpoint_ptr endpoint(options o = {}) { return std::make_shared<const options>(std::move(o)); }

/// The stream type of a WebSocket watcher: a Beast WebSocket stream over
/// `NextLayer` (a TCP socket, or `ssl::stream<tcp::socket>` for wss: see
/// heartbeat/websocket/tls.hpp), presented to the watcher as the byte
/// stream of heartbeat frames it reads and writes. In framed mode that is
/// what the messages carry; in ping mode the stream stands in for a peer
/// that runs no library (the upgrade is its HELLO, each message a DATA,
/// pings its beats).
template <class NextLayer>
class basic_stream {
public:
    using next_layer_type = NextLayer;
    using websocket_type = beast::websocket::stream<NextLayer>;
    using executor_type = typename NextLayer::executor_type;
    using lowest_layer_type = typename beast::lowest_layer_type<NextLayer>;

    /// For the watcher, which runs the handshake: the upgrade (after TLS).
    enum handshake_type { server };

    /// A connection fresh from accept: the watcher reads and answers its
    /// upgrade request (adopt with transport_handshake::pending; accept_from
    /// does that: `accept_from(acceptor, ep)`).
    basic_stream(net::ip::tcp::socket&& socket, endpoint_ptr ep);
    /// The same over TLS (`accept_from(acceptor, ssl_ctx, ep)`): `ctx` is
    /// held by reference, as ssl::stream holds it.
    template <class Context>
    basic_stream(net::ip::tcp::socket&& socket, Context& ctx, endpoint_ptr ep);

    /// Handed over by your own HTTP server: it read the upgrade request
    /// `req` from `layer` (and nothing beyond it: a client sends nothing
    /// more before the answer); the watcher checks and answers it (adopt
    /// with transport_handshake::pending).
    static basic_stream from_request(NextLayer&& layer, request req, endpoint_ptr ep);

    /// Handed over already upgraded (your server ran `ws.accept(req)`):
    /// adopt with transport_handshake::done. `req` decides the mode and,
    /// in ping mode, the identity, as it would have. Refuse bad origins and
    /// requests without identity yourself before you accept them.
    static basic_stream from_websocket(websocket_type&& ws, const request& req, endpoint_ptr ep);

    basic_stream(basic_stream&&) noexcept = default;
    basic_stream& operator=(basic_stream&&) noexcept = default;

    executor_type get_executor() noexcept { return ws_->get_executor(); }
    websocket_type& websocket() noexcept { return *ws_; }
    next_layer_type& next_layer() noexcept { return ws_->next_layer(); }
    lowest_layer_type& lowest_layer() noexcept { return beast::get_lowest_layer(*ws_); }

    /// The connection's mode, once the upgrade request has been read.
    std::optional<websocket::mode> mode() const noexcept { return state_->mode; }
    /// The upgrade request (empty until read).
    const request& upgrade_request() const noexcept { return state_->req; }

    // ---- what the watcher uses -------------------------------------------

    template <class Handler>
    void async_handshake(handshake_type, Handler&& handler);

    template <class MutableBuffer, class Handler>
    void async_read_some(const MutableBuffer& buffer, Handler&& handler);

    template <class ConstBuffers, class Handler>
    void async_write_some(const ConstBuffers& buffers, Handler&& handler);

    /// After the last frame: the WebSocket closing handshake, with the code
    /// that frame implies (see close_code_for_error).
    template <class Handler>
    void async_shutdown(Handler&& handler);

    /// Closes the connection; a probe still waiting completes with
    /// operation_aborted.
    void close(error_code& ec) noexcept;

    /// Ping mode: the HELLO the upgrade request stands for (the watcher
    /// hands it to its session instead of reading one).
    std::optional<wire::hello> transport_identity() const noexcept;

    /// Ping mode: sends a ping whose payload carries the time; `handler(ec,
    /// rtt)` runs when a pong arrives (any pong is a sign of life; one that
    /// carries a payload of ours gives the round trip). A probe still
    /// waiting when the next starts completes with operation_aborted.
    template <class Handler>
    void async_probe(Handler&& handler);

private:
    struct state;
    basic_stream(std::unique_ptr<websocket_type> ws, endpoint_ptr ep);

    void choose_mode(error_code& ec);
    template <class Handler>
    void on_request(Handler&& handler);
    template <class Handler>
    void answer_http(response&& res, error_code outcome, Handler&& handler);
    void prepare_websocket();

    // Heap-held so that the WebSocket and the state stay put when the stream
    // moves (into the watcher's session). Operations in flight refer to the
    // stream itself too: move it only while none runs (the watcher never
    // moves a session's stream).
    std::unique_ptr<websocket_type> ws_;
    std::shared_ptr<state> state_;
};

/// WebSocket over plain TCP (ws://).
using stream = basic_stream<net::ip::tcp::socket>;

/// A watcher of WebSocket peers.
template <class Key = std::string, class Policy = fixed_misses<std::chrono::steady_clock>>
using watcher = heartbeat::watcher<stream, Key, Policy>;

} // namespace heartbeat::websocket

template <>
struct boost::system::is_error_code_enum<heartbeat::websocket::error> : std::true_type {
};

#include <heartbeat/websocket/impl/stream.hpp>

#endif
