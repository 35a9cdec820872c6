// Copyright (c) 2026 The heartbeat authors. Distributed under the Boost
// Software License, Version 1.0 (see LICENSE).
#ifndef HEARTBEAT_WEBSOCKET_TLS_HPP
#define HEARTBEAT_WEBSOCKET_TLS_HPP

// WebSocket over TLS (wss://): link heartbeat::websocket and heartbeat::tls.
//
//   websocket::tls_watcher<> w(io, opts);
//   w.accept_from(acceptor, ssl_ctx, websocket::endpoint(ws_opts));
//
// Each connection runs the TLS handshake, then the upgrade, both within
// the hello timeout and counted toward max_handshakes.

#include <heartbeat/tls.hpp>
#include <heartbeat/websocket.hpp>

#include <boost/beast/websocket/ssl.hpp>

namespace heartbeat::websocket {

/// WebSocket over TLS over TCP.
using tls_stream = basic_stream<net::ssl::stream<net::ip::tcp::socket>>;

template <class Key = std::string, class Policy = fixed_misses<std::chrono::steady_clock>>
using tls_watcher = heartbeat::watcher<tls_stream, Key, Policy>;

} // namespace heartbeat::websocket

#endif
