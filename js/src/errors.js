// Why a session ended or an attempt failed, by name. The names are those of
// the C++ library's `heartbeat::error` (and ERROR codes on the wire, R26),
// plus `disconnected` for a transport that closed or failed.

const descriptions = {
  hello_timeout: 'handshake not completed in time',
  auth_failed: 'authentication failed',
  duplicate_id: 'peer id already online',
  server_full: 'server has no room for more peers',
  bad_id: 'peer id empty or not acceptable',
  unsupported_version: 'unsupported protocol version',
  protocol_error: 'protocol error',
  frame_too_large: 'frame exceeds the size limit',
  unknown_frame_type: 'unknown frame type',
  peer_lost: 'server stopped answering beats',
  rejected: 'refused by the server',
  replaced: 'session replaced by a newer one',
  peer_left: 'server left',
  shutting_down: 'server shutting down',
  rate_limited: 'frames sent faster than allowed',
  unacceptable_terms: "the server's interval or miss count is outside the accepted bounds",
  message_too_large: "message larger than the server's frame limit",
  timeout: 'the server heard nothing from this peer within its deadline',
  kicked: 'the server ended the session',
  disconnected: 'the connection closed or failed',
};

/**
 * A heartbeat error: `code` is its name (`auth_failed`, `peer_lost`,
 * `kicked`, ...). A refusal by the server also carries `wireCode` (the
 * ERROR frame's code), `serverMessage` (its text, for logs) and, after a
 * RETRY_AFTER, `retryAfter` (milliseconds).
 */
export class HeartbeatError extends Error {
  constructor(code, details = {}) {
    const base = descriptions[code] ?? code;
    super(details.serverMessage ? `${base} (${details.serverMessage})` : details.detail ? `${base}: ${details.detail}` : base);
    this.name = 'HeartbeatError';
    this.code = code;
    if (details.wireCode !== undefined) this.wireCode = details.wireCode;
    if (details.serverMessage !== undefined) this.serverMessage = details.serverMessage;
    if (details.retryAfter !== undefined) this.retryAfter = details.retryAfter;
  }
}

/** A short description of error `code`. */
export function describe(code) {
  return descriptions[code] ?? 'unknown heartbeat error';
}
