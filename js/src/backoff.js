// Reconnect pacing: exponential backoff with full jitter, the server's
// RETRY_AFTER, and the default retry policy of the C++ reconnecting_client.

/** The reconnect defaults (milliseconds). */
export const reconnectDefaults = Object.freeze({
  enabled: true,
  base: 100, // the cap of the first retry
  max: 10_000, // the largest cap
  multiplier: 2,
  retryAfterMax: 5 * 60 * 1000, // a server's RETRY_AFTER is honoured up to this
  policy: undefined, // (error, attempt) => 'retry' | 'stop'; defaults to defaultRetryPolicy
});

/**
 * The cap of retry number `attempt` (0 for the first retry after a
 * failure): min(max, base * multiplier^attempt).
 */
export function backoffCap(attempt, { base, max, multiplier }) {
  const grown = base * Math.pow(multiplier, Math.max(0, attempt));
  return grown < max ? grown : max; // compared before use: no overflow however many failures
}

/**
 * The delay before retry number `attempt`: full jitter, a uniformly random
 * time in [0, cap] (`random` returns [0, 1), as Math.random does); then at
 * least the server's RETRY_AFTER `retryAfter` (ms, or null), itself capped
 * at `retryAfterMax`.
 */
export function reconnectDelay(attempt, opts, random = Math.random, retryAfter = null) {
  const jittered = random() * backoffCap(attempt, opts);
  if (retryAfter === null || retryAfter === undefined) return jittered;
  return Math.max(jittered, Math.min(retryAfter, opts.retryAfterMax));
}

/** The refusals no retry can cure. */
export const FATAL_REFUSALS = Object.freeze(['auth_failed', 'bad_id', 'unsupported_version']);

/**
 * The default retry policy (the C++ `default_retry_policy`): stop on
 * auth_failed, bad_id and unsupported_version, retry everything else
 * (unacceptable_terms and server_full too).
 * @returns {'retry'|'stop'}
 */
export function defaultRetryPolicy(error /*, attempt */) {
  return error && FATAL_REFUSALS.includes(error.code) ? 'stop' : 'retry';
}
