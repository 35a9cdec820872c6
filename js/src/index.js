// heartbeat-client: the heartbeat protocol's client (version 2) over a
// WebSocket in framed mode. See README.md.
export { HeartbeatClient, SUBPROTOCOL, DEFAULT_MAX_MESSAGE } from './client.js';
export { ClientSession, sessionDefaults, TICK_MS } from './session.js';
export { HeartbeatError, describe } from './errors.js';
export { defaultRetryPolicy, reconnectDelay, backoffCap, reconnectDefaults, FATAL_REFUSALS } from './backoff.js';
export * as wire from './wire.js';
