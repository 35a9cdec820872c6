// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_WEBSOCKET_IMPL_STREAM_HPP
#define HEARTBEAT_WEBSOCKET_IMPL_STREAM_HPP

#include <heartbeat/websocket.hpp>
#include <heartbeat/websocket/detail/request.hpp>

#include <algorithm>
#include <cstring>
#include <list>

namespace heartbeat::websocket {

namespace detail {

/// Beast's WebSocket operations hold a work guard on their handler's
/// executor, which (in Boost 1.74) does not compile for a strand over
/// any_io_executor, the watcher's: the strand's type counts as an executor
/// of the older kind. The same strand behind an any_io_executor is one of
/// the newer kind, so Beast gets the handler bound to that: its
/// intermediate steps (and the control callback) then run on the strand
/// too, as Beast requires of every operation on one stream.
template <class Executor, class Handler>
auto through(const Executor& io, Handler&& handler)
{
    const net::any_io_executor target(net::get_associated_executor(handler, io));
    return net::bind_executor(target, [h = std::forward<Handler>(handler)](auto... args) mutable {
        std::move(h)(args...);
    });
}

} // namespace detail

template <class NextLayer>
struct basic_stream<NextLayer>::state {
    explicit state(endpoint_ptr e) : ep(std::move(e)) {}

    endpoint_ptr ep;
    std::optional<websocket::mode> mode;
    request req;
    bool have_request = false;
    error_code refused; // from_websocket: what choose_mode found wrong
    beast::flat_buffer http_buffer;
    std::optional<http::request_parser<http::empty_body>> parser;
    std::unique_ptr<response> answer; // a refusal or on_http's answer, while it is written

    // Ping mode: the peer's identity, read side (each message becomes a DATA
    // frame, a close with 1000 a GOODBYE) and write side (frames become
    // messages and close codes).
    identity who;
    beast::flat_buffer message;
    std::vector<std::uint8_t> pending; // synthesized frames not yet read
    std::size_t pending_read = 0;
    bool eof_after_pending = false;
    std::vector<std::uint8_t> written; // frames written, not yet whole
    struct message_out {
        std::string bytes;
        bool text;
    };
    std::list<message_out> outgoing; // messages to send (a list: nothing allocated while empty)
    std::uint16_t close_code = static_cast<std::uint16_t>(beast::websocket::close_code::normal);
    std::string close_reason;

    // Probes.
    std::chrono::steady_clock::time_point epoch = std::chrono::steady_clock::now();
    heartbeat::detail::erased_handler<error_code, std::optional<std::chrono::microseconds>> probe;
    bool ping_in_flight = false;
};

template <class NextLayer>
basic_stream<NextLayer>::basic_stream(std::unique_ptr<websocket_type> ws, endpoint_ptr ep)
    : ws_(std::move(ws)), state_(std::make_shared<state>(ep ? std::move(ep) : endpoint()))
{
}

template <class NextLayer>
basic_stream<NextLayer>::basic_stream(net::ip::tcp::socket&& socket, endpoint_ptr ep)
    : basic_stream(std::make_unique<websocket_type>(std::move(socket)), std::move(ep))
{
}

template <class NextLayer>
template <class Context>
basic_stream<NextLayer>::basic_stream(net::ip::tcp::socket&& socket, Context& ctx, endpoint_ptr ep)
    : basic_stream(std::make_unique<websocket_type>(std::move(socket), ctx), std::move(ep))
{
}

template <class NextLayer>
basic_stream<NextLayer> basic_stream<NextLayer>::from_request(NextLayer&& layer, request req, endpoint_ptr ep)
{
    basic_stream s(std::make_unique<websocket_type>(std::move(layer)), std::move(ep));
    s.state_->req = std::move(req);
    s.state_->have_request = true;
    return s;
}

template <class NextLayer>
basic_stream<NextLayer> basic_stream<NextLayer>::from_websocket(websocket_type&& ws, const request& req,
                                                                endpoint_ptr ep)
{
    basic_stream s(std::make_unique<websocket_type>(std::move(ws)), std::move(ep));
    s.state_->req = req;
    s.state_->have_request = true;
    error_code ec;
    s.choose_mode(ec);
    // A mode switched off, or a ping-mode request without an id: the
    // session's first read fails with the reason.
    s.state_->refused = ec;
    if (ec)
        s.state_->mode = websocket::mode::framed;
    s.prepare_websocket();
    return s;
}

template <class NextLayer>
void basic_stream<NextLayer>::choose_mode(error_code& ec)
{
    auto& st = *state_;
    const auto& o = *st.ep;
    const auto offered = st.req[http::field::sec_websocket_protocol];
    const bool framed = detail::offers_subprotocol(std::string_view(offered.data(), offered.size()),
                                                   o.framed_subprotocol);
    if (framed ? !o.allow_framed : !o.allow_ping) {
        ec = error::mode_not_allowed;
        return;
    }
    if (framed) {
        st.mode = websocket::mode::framed;
        return;
    }
    std::optional<identity> who;
    if (o.identify) {
        who = o.identify(st.req);
    }
    else {
        const auto target = st.req.target();
        const std::string_view t(target.data(), target.size());
        if (auto id = detail::query_parameter(t, "id")) {
            who.emplace();
            who->id = std::move(*id);
            who->credential = detail::query_parameter(t, "token").value_or(std::string());
        }
    }
    if (!who || who->id.empty() || who->id.size() > wire::max_id_size ||
        who->credential.size() > wire::max_credential_size) {
        ec = error::no_identity;
        return;
    }
    st.who = std::move(*who);
    st.mode = websocket::mode::ping;
}

template <class NextLayer>
void basic_stream<NextLayer>::prepare_websocket()
{
    auto& ws = *ws_;
    const auto& o = *state_->ep;
    // The session's deadlines and probes replace Beast's own timeouts and
    // keep-alive pings.
    ws.set_option(beast::websocket::stream_base::timeout{beast::websocket::stream_base::none(),
                                                         beast::websocket::stream_base::none(), false});
    ws.read_message_max(o.max_message);
    ws.auto_fragment(false);
    if (state_->mode == websocket::mode::framed) {
        ws.binary(true);
        ws.set_option(beast::websocket::stream_base::decorator(
            [sub = o.framed_subprotocol](beast::websocket::response_type& r) {
                r.set(http::field::sec_websocket_protocol, sub);
            }));
    }
    else {
        ws.text(o.ping_mode_text);
        if (!state_->who.subprotocol.empty())
            ws.set_option(beast::websocket::stream_base::decorator(
                [sub = state_->who.subprotocol](beast::websocket::response_type& r) {
                    r.set(http::field::sec_websocket_protocol, sub);
                }));
    }
    // The control callback holds the state, never the stream (which moves).
    ws.control_callback([weak = std::weak_ptr<state>(state_)](beast::websocket::frame_type kind,
                                                               beast::string_view payload) {
        auto st = weak.lock();
        if (!st || kind != beast::websocket::frame_type::pong || !st->probe)
            return;
        std::optional<std::chrono::microseconds> rtt;
        std::int64_t sent = 0;
        if (payload.size() == sizeof sent) {
            std::memcpy(&sent, payload.data(), sizeof sent);
            const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::steady_clock::now() - st->epoch)
                                 .count();
            if (sent >= 0 && sent <= now)
                rtt = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::nanoseconds(now - sent));
        }
        st->probe.complete(error_code{}, rtt);
    });
}

template <class NextLayer>
template <class Handler>
void basic_stream<NextLayer>::async_handshake(handshake_type, Handler&& handler)
{
    auto read_request = [this](auto h) {
        auto st = state_;
        if (st->have_request)
            return on_request(std::move(h));
        st->parser.emplace();
        st->parser->header_limit(st->ep->max_header_bytes);
        auto ex = net::get_associated_executor(h, get_executor());
        http::async_read(next_layer(), st->http_buffer, *st->parser,
                         net::bind_executor(ex, [this, st, h = std::move(h)](error_code ec, std::size_t) mutable {
                             if (ec == http::error::header_limit)
                                 return answer_http(response(http::status::request_header_fields_too_large, 11), ec,
                                                    std::move(h));
                             if (ec && ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
                                 ec != http::error::end_of_stream)
                                 return answer_http(response(http::status::bad_request, 11), ec, std::move(h));
                             if (ec == http::error::end_of_stream)
                                 ec = net::error::eof; // connected and closed: not a refusal
                             if (ec)
                                 return std::move(h)(ec);
                             st->req = st->parser->release();
                             st->have_request = true;
                             on_request(std::move(h));
                         }));
    };
    // A request handed over was read after any TLS handshake (from_request).
    if constexpr (heartbeat::detail::has_server_handshake<NextLayer>::value) {
        if (state_->have_request)
            return read_request(std::forward<Handler>(handler));
        auto ex = net::get_associated_executor(handler, get_executor());
        next_layer().async_handshake(
            NextLayer::server, net::bind_executor(ex, [read_request, h = std::forward<Handler>(handler)](
                                                          error_code ec) mutable {
                if (ec)
                    return std::move(h)(ec);
                read_request(std::move(h));
            }));
    }
    else {
        read_request(std::forward<Handler>(handler));
    }
}

template <class NextLayer>
template <class Handler>
void basic_stream<NextLayer>::on_request(Handler&& handler)
{
    auto& st = *state_;
    const auto& o = *st.ep;
    if (!beast::websocket::is_upgrade(st.req)) {
        if (o.on_http)
            return answer_http(o.on_http(st.req), net::error::eof, std::forward<Handler>(handler));
        response r(http::status::upgrade_required, st.req.version());
        r.set(http::field::upgrade, "websocket");
        r.body() = "heartbeat: this endpoint speaks WebSocket\n";
        return answer_http(std::move(r), error::not_an_upgrade, std::forward<Handler>(handler));
    }
    const auto origin = st.req.find(http::field::origin);
    std::optional<std::string_view> origin_value;
    if (origin != st.req.end())
        origin_value = std::string_view(origin->value().data(), origin->value().size());
    if (!detail::origin_allowed(o.allowed_origins, origin_value, o.allow_missing_origin))
        return answer_http(response(http::status::forbidden, st.req.version()), error::origin_not_allowed,
                           std::forward<Handler>(handler));
    error_code ec;
    choose_mode(ec);
    if (ec)
        return answer_http(response(ec == error::no_identity ? http::status::unauthorized : http::status::bad_request,
                                    st.req.version()),
                           ec, std::forward<Handler>(handler));
    prepare_websocket();
    // Nothing reads HTTP again: give their memory back (about 1 KiB a peer).
    st.parser.reset();
    st.http_buffer = beast::flat_buffer();
    ws_->async_accept(st.req, detail::through(get_executor(), std::forward<Handler>(handler)));
}

template <class NextLayer>
template <class Handler>
void basic_stream<NextLayer>::answer_http(response&& res, error_code outcome, Handler&& handler)
{
    auto st = state_;
    st->answer = std::make_unique<response>(std::move(res));
    st->answer->keep_alive(false);
    st->answer->set(http::field::server, "heartbeat");
    st->answer->prepare_payload();
    auto ex = net::get_associated_executor(handler, get_executor());
    http::async_write(next_layer(), *st->answer,
                      net::bind_executor(ex, [st, outcome, h = std::forward<Handler>(handler)](error_code,
                                                                                              std::size_t) mutable {
                          st->answer.reset();
                          std::move(h)(outcome);
                      }));
}

template <class NextLayer>
template <class MutableBuffer, class Handler>
void basic_stream<NextLayer>::async_read_some(const MutableBuffer& buffer, Handler&& handler)
{
    auto st = state_;
    auto ex = net::get_associated_executor(handler, get_executor());
    if (st->refused) {
        net::post(ex, [h = std::forward<Handler>(handler), ec = st->refused]() mutable {
            std::move(h)(ec, std::size_t(0));
        });
        return;
    }
    if (st->mode != websocket::mode::ping) {
        ws_->async_read_some(
            buffer, detail::through(get_executor(), net::bind_executor(ex, [ws = ws_.get(), ex,
                                                                            h = std::forward<Handler>(handler)](
                                                                               error_code ec, std::size_t n) mutable {
                // Framed mode is binary: a text message ends the session
                // (with 1003 if the close frame gets out before the socket
                // closes: a write in flight holds it back).
                if (!ec && n > 0 && ws->got_text()) {
                    ws->async_close(beast::websocket::close_code::bad_payload,
                                    detail::through(ws->get_executor(), net::bind_executor(ex, [](error_code) {})));
                    return std::move(h)(error_code(net::error::eof), std::size_t(0));
                }
                if (ec == beast::websocket::error::closed)
                    ec = net::error::eof;
                std::move(h)(ec, n);
            })));
        return;
    }
    // Ping mode: hand out what was synthesized, then read the next message.
    auto hand_out = [st, buffer](auto& h) {
        const std::size_t n = std::min(buffer.size(), st->pending.size() - st->pending_read);
        std::memcpy(buffer.data(), st->pending.data() + st->pending_read, n);
        st->pending_read += n;
        if (st->pending_read == st->pending.size()) {
            st->pending.clear();
            st->pending_read = 0;
        }
        std::move(h)(error_code{}, n);
    };
    if (!st->pending.empty() || st->eof_after_pending) {
        net::post(ex, [hand_out, st, h = std::forward<Handler>(handler)]() mutable {
            if (st->pending.empty())
                return std::move(h)(error_code(net::error::eof), std::size_t(0));
            hand_out(h);
        });
        return;
    }
    ws_->async_read(st->message, detail::through(get_executor(), net::bind_executor(ex, [ws = ws_.get(), st, hand_out,
                                                                                          h = std::forward<Handler>(
                                                                                              handler)](
                                                                                             error_code ec,
                                                                                             std::size_t) mutable {
                        if (ec == beast::websocket::error::closed) {
                            // A deliberate close (1000) is the page's leave.
                            st->eof_after_pending = true;
                            // A browser's ws.close() without a code sends
                            // none (1005): a leave as well.
                            const auto code = ws->reason().code;
                            if (code == beast::websocket::close_code::normal ||
                                code == beast::websocket::close_code::none) {
                                st->pending.resize(wire::header_size + 1);
                                wire::encode_header(st->pending.data(), wire::frame_type::goodbye, 1);
                                st->pending[wire::header_size] =
                                    static_cast<std::uint8_t>(wire::goodbye_reason::normal);
                                return hand_out(h);
                            }
                            return std::move(h)(error_code(net::error::eof), std::size_t(0));
                        }
                        if (ec)
                            return std::move(h)(ec, std::size_t(0));
                        const auto body = st->message.data();
                        st->pending.resize(wire::header_size + body.size());
                        wire::encode_header(st->pending.data(), wire::frame_type::data, body.size());
                        net::buffer_copy(net::buffer(st->pending.data() + wire::header_size, body.size()), body);
                        st->message.consume(st->message.size());
                        hand_out(h);
                    })));
}

template <class NextLayer>
template <class ConstBuffers, class Handler>
void basic_stream<NextLayer>::async_write_some(const ConstBuffers& buffers, Handler&& handler)
{
    auto st = state_;
    if (st->mode != websocket::mode::ping) {
        ws_->async_write(beast::buffers_prefix(st->ep->max_write_message, buffers),
                         detail::through(get_executor(), std::forward<Handler>(handler)));
        return;
    }
    // Ping mode: the session's frames become messages and a close code.
    const std::size_t total = net::buffer_size(buffers);
    const std::size_t before = st->written.size();
    st->written.resize(before + total);
    net::buffer_copy(net::buffer(st->written.data() + before, total), buffers);
    std::size_t at = 0;
    while (st->written.size() - at >= wire::header_size) {
        const std::uint8_t* f = st->written.data() + at;
        const std::size_t len = (std::size_t(f[1]) << 16) | (std::size_t(f[2]) << 8) | f[3];
        if (st->written.size() - at < wire::header_size + len)
            break;
        const std::uint8_t* payload = f + wire::header_size;
        switch (static_cast<wire::frame_type>(f[0])) {
        case wire::frame_type::data: {
            std::string m(reinterpret_cast<const char*>(payload), len);
            // Text only if it is UTF-8: a browser fails the connection on
            // a text message that is not.
            const bool text = st->ep->ping_mode_text && detail::is_utf8(m);
            st->outgoing.push_back({std::move(m), text});
            break;
        }
        case wire::frame_type::error:
            if (len >= 2) {
                const auto code = static_cast<std::uint16_t>((payload[0] << 8) | payload[1]);
                st->close_code = close_code_for_error(code);
                st->close_reason.assign(reinterpret_cast<const char*>(payload + 2),
                                        std::min<std::size_t>(len - 2, 120));
            }
            break;
        case wire::frame_type::goodbye:
            if (len >= 1) {
                st->close_code = payload[0] == 1 ? std::uint16_t(beast::websocket::close_code::going_away)
                                                 : close_code_for_goodbye(payload[0]);
                st->close_reason = payload[0] == 3 ? "kicked" : payload[0] == 2 ? "replaced" : "going away";
            }
            break;
        default: break; // WELCOME, ECHO, TERMS: the peer runs no protocol
        }
        at += wire::header_size + len;
    }
    st->written.erase(st->written.begin(), st->written.begin() + static_cast<std::ptrdiff_t>(at));

    // Send the messages one after another, then report the whole write.
    struct sender {
        websocket_type* ws;
        std::shared_ptr<state> st;
        std::size_t total;
        std::decay_t<Handler> h;
        void operator()(error_code ec = {}, std::size_t = 0)
        {
            if (ec || st->outgoing.empty())
                return std::move(h)(ec, ec ? std::size_t(0) : total);
            // Beast copies nothing: the front message stays until written.
            auto& m = st->outgoing.front().bytes;
            ws->text(st->outgoing.front().text);
            auto ex = net::get_associated_executor(h, ws->get_executor());
            ws->async_write(net::buffer(m), detail::through(ws->get_executor(),
                                                            net::bind_executor(ex, [self = std::move(*this)](
                                                                                       error_code e,
                                                                                       std::size_t n) mutable {
                                                                self.st->outgoing.pop_front();
                                                                self(e, n);
                                                            })));
        }
    };
    if (st->outgoing.empty()) {
        auto ex = net::get_associated_executor(handler, get_executor());
        net::post(ex, [h = std::forward<Handler>(handler), total]() mutable { std::move(h)(error_code{}, total); });
        return;
    }
    sender{ws_.get(), st, total, std::forward<Handler>(handler)}();
}

template <class NextLayer>
template <class Handler>
void basic_stream<NextLayer>::async_shutdown(Handler&& handler)
{
    const auto& st = state_;
    ws_->async_close(beast::websocket::close_reason(static_cast<beast::websocket::close_code>(st->close_code),
                                                    st->close_reason),
                     detail::through(get_executor(), std::forward<Handler>(handler)));
}

template <class NextLayer>
void basic_stream<NextLayer>::close(error_code& ec) noexcept
{
    lowest_layer().close(ec);
    // Nothing will answer it now, and it holds the I/O executor's work.
    state_->probe.complete(error_code(net::error::operation_aborted), std::nullopt);
}

template <class NextLayer>
std::optional<wire::hello> basic_stream<NextLayer>::transport_identity() const noexcept
{
    if (state_->mode != websocket::mode::ping)
        return std::nullopt;
    wire::hello h;
    h.id = state_->who.id;
    h.credential = state_->who.credential;
    return h;
}

template <class NextLayer>
template <class Handler>
void basic_stream<NextLayer>::async_probe(Handler&& handler)
{
    auto st = state_;
    // In framed mode the browser would answer a ping even for a frozen page:
    // the session's own PROBE frames do that work there. Never answered.
    if (st->mode != websocket::mode::ping)
        return;
    // One probe waits at a time: the older one is superseded.
    st->probe.complete(error_code(net::error::operation_aborted), std::nullopt);
    auto ex = net::get_associated_executor(handler, get_executor());
    st->probe = heartbeat::detail::erased_handler<error_code, std::optional<std::chrono::microseconds>>(
        std::forward<Handler>(handler), get_executor());
    if (st->ping_in_flight) // the peer is not even taking our pings in
        return;
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - st->epoch).count();
    beast::websocket::ping_data payload;
    payload.resize(sizeof now);
    std::memcpy(payload.data(), &now, sizeof now);
    st->ping_in_flight = true;
    ws_->async_ping(payload, detail::through(get_executor(), net::bind_executor(ex, [st](error_code) {
                                                 st->ping_in_flight = false;
                                             })));
}

} // namespace heartbeat::websocket

#endif
