// HeartbeatClient: drives a ClientSession over a WebSocket in framed mode
// (subprotocol `heartbeat`) and reconnects with exponential backoff and
// full jitter. Every protocol decision is the session machine's; this file
// only moves bytes, arms timers and reports events.

import { defaultRetryPolicy, reconnectDefaults, reconnectDelay } from './backoff.js';
import { HeartbeatError } from './errors.js';
import { ClientSession, sessionDefaults } from './session.js';
import { toBytes } from './wire.js';

/** The WebSocket subprotocol that selects framed mode on the server. */
export const SUBPROTOCOL = 'heartbeat';
/** The largest WebSocket message the client sends. */
export const DEFAULT_MAX_MESSAGE = 16 * 1024;

const EVENTS = ['onOnline', 'onLost', 'onRefused', 'onAttemptFailed', 'onMessage', 'onTerms', 'onReconnecting', 'onGaveUp', 'onClosed', 'onError'];

const defaultTimers = Object.freeze({
  setTimeout: (f, ms) => globalThis.setTimeout(f, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h),
});

const defaultClock = () => globalThis.performance.now();

/**
 * A heartbeat client over a WebSocket. See js/README.md.
 *
 * States: `idle` (not started), `connecting` (WebSocket opening or HELLO
 * sent), `online` (welcomed), `leaving`, `waiting` (to reconnect),
 * `stopped` (left, closed or gave up; final).
 */
export class HeartbeatClient {
  /**
   * @param {object} options
   * @param {string} options.url ws:// or wss:// address of the server
   * @param {string|Uint8Array} options.id the identity announced in HELLO (1 to 255 bytes)
   * @param {string|Uint8Array} [options.token] the credential (up to 4096 bytes)
   * @param {number} [options.interval=1000] the beat interval asked for, ms (the server decides)
   * @param {Function} [options.WebSocket] the WebSocket constructor (default: the global one)
   * @param {object|false} [options.reconnect] `{base, max, multiplier, retryAfterMax, policy}` or false
   * @param {number} [options.maxFrame=65536] the largest DATA payload accepted from the server
   * @param {number} [options.maxMessage=16384] the largest WebSocket message sent
   * @param {() => number} [options.clock] monotonic milliseconds (default performance.now)
   * @param {{setTimeout: Function, clearTimeout: Function}} [options.timers]
   * @param {() => number} [options.random] [0, 1) for the jitter (default Math.random)
   */
  constructor(options) {
    const o = { ...options };
    if (typeof o.url !== 'string') throw new TypeError('heartbeat: options.url is required');
    if (o.id === undefined || o.id === null || toBytes(o.id).length === 0 || toBytes(o.id).length > 255)
      throw new TypeError('heartbeat: options.id must be 1 to 255 bytes');
    this._url = o.url;
    this._WebSocket = o.WebSocket ?? globalThis.WebSocket;
    if (typeof this._WebSocket !== 'function')
      throw new TypeError('heartbeat: no WebSocket constructor (pass options.WebSocket, e.g. the ws package)');
    this._clock = o.clock ?? defaultClock;
    this._timers = o.timers ?? defaultTimers;
    this._random = o.random ?? Math.random;
    this._maxMessage = Math.max(16, o.maxMessage ?? DEFAULT_MAX_MESSAGE);
    this._sessionOptions = {
      id: o.id,
      credential: o.token ?? '',
      interval: o.interval ?? sessionDefaults.interval,
      helloTimeout: o.helloTimeout ?? sessionDefaults.helloTimeout,
      closeTimeout: o.closeTimeout ?? sessionDefaults.closeTimeout,
      maxFrame: o.maxFrame ?? sessionDefaults.maxFrame,
      peerMaxFrame: o.peerMaxFrame ?? sessionDefaults.peerMaxFrame,
      maxVersion: o.maxVersion ?? sessionDefaults.maxVersion,
      answerProbes: o.answerProbes ?? sessionDefaults.answerProbes,
      ...(o.bounds ?? {}), // minInterval, maxInterval, maxTimeout
    };
    this._connectTimeout = o.connectTimeout ?? 10_000;
    this._reconnect = o.reconnect === false ? { ...reconnectDefaults, enabled: false } : { ...reconnectDefaults, ...(o.reconnect ?? {}) };
    for (const e of EVENTS) this[e] = typeof o[e] === 'function' ? o[e] : null;

    this._state = 'idle';
    this._ws = null;
    this._session = null;
    this._opened = false;
    this._timer = null; // the session's timer
    this._attemptTimer = null; // connect timeout, or the reconnect delay
    this._flushTimer = null; // waiting for the WebSocket's buffer to drain
    this._attempt = 0; // failed attempts since the last WELCOME
    this._retries = 0; // consecutive retries since the last WELCOME: the backoff's n
    this._pumping = false;
    this._closeWhenFlushed = false;
    this._urgent = []; // frames {bytes, beat}
    this._normal = [];
    this._partial = null; // the rest of a frame whose start went out {bytes, beat}
    this._lastSession = null;
    this._stopWaiters = [];
  }

  // ---- queries -------------------------------------------------------------

  /** idle, connecting, online, leaving, waiting, stopped */
  get state() {
    return this._state;
  }
  /** True while a welcomed session runs. */
  get online() {
    return this._session?.established ?? false;
  }
  /** The terms in force: {version, id, interval, misses, grace, maxFrame, detection}, or null. */
  get terms() {
    return this._session?.established ? this._session.terms : null;
  }
  /** Smoothed RTT (ms) of the current or last session, or null. */
  get rtt() {
    return (this._session ?? this._lastSession)?.rtt ?? null;
  }
  /** RTT variation (ms) of the current or last session, or null. */
  get rttVariation() {
    return (this._session ?? this._lastSession)?.rttVariation ?? null;
  }
  /** The latest RTT sample (ms), or null. */
  get lastRtt() {
    return (this._session ?? this._lastSession)?.lastRtt ?? null;
  }
  /** Counters of the current or last session: {beatsSent, echoesReceived, probesAnswered}. */
  get stats() {
    const s = this._session ?? this._lastSession;
    return { beatsSent: s?.beatsSent ?? 0, echoesReceived: s?.echoesReceived ?? 0, probesAnswered: s?.probesAnswered ?? 0 };
  }
  /** The largest message send() accepts now. */
  get sendLimit() {
    return this._session?.sendLimit ?? 0;
  }

  // ---- control -------------------------------------------------------------

  /** Connects (and keeps reconnecting until leave(), close() or a stop). */
  start() {
    if (this._state !== 'idle') return;
    this._connect();
  }

  /**
   * Sends an application message (a string as UTF-8, a Uint8Array, an
   * ArrayBuffer). Returns true when queued, false when no session is
   * online; throws a `message_too_large` HeartbeatError past `sendLimit`.
   */
  send(data) {
    if (!this._session?.established) return false;
    const ok = this._session.send(data);
    this._pump();
    return ok;
  }

  /**
   * Leaves gracefully: GOODBYE 0, then the connection closes (at most
   * closeTimeout later); no reconnect. Resolves once stopped.
   */
  leave() {
    const done = this._whenStopped();
    if (this._state === 'stopped') return done;
    if (this._session && this._opened && this._session.phase !== 'done') {
      this._state = 'leaving';
      this._session.leave(this._clock());
      this._pump();
    } else {
      this._stop();
    }
    return done;
  }

  /** Closes at once without GOODBYE (the server sees a disconnect); no reconnect. */
  close() {
    if (this._state === 'stopped') return;
    if (this._session && this._session.phase !== 'done') {
      this._state = 'leaving';
      this._session.abort();
      this._pump();
    }
    this._stop();
  }

  // ---- the connection --------------------------------------------------------

  _connect() {
    this._state = 'connecting';
    this._opened = false;
    this._urgent = [];
    this._normal = [];
    this._partial = null;
    this._closeWhenFlushed = false;
    const session = new ClientSession(this._sessionOptions);
    this._session = session;
    let ws;
    try {
      ws = new this._WebSocket(this._url, [SUBPROTOCOL]);
    } catch (e) {
      this._session = null;
      return this._attemptFailed(new HeartbeatError('disconnected', { detail: String(e?.message ?? e) }));
    }
    this._ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      if (ws !== this._ws) return;
      this._clearAttemptTimer();
      if (ws.protocol !== SUBPROTOCOL) {
        this._dropSocket();
        return this._attemptFailed(new HeartbeatError('protocol_error', { detail: 'the server did not select the heartbeat subprotocol' }));
      }
      this._opened = true;
      session.start(this._clock());
      this._pump();
    };
    ws.onmessage = (ev) => {
      if (ws !== this._ws || !this._opened) return;
      const d = ev.data;
      if (typeof d === 'string') {
        // Text messages are not part of framed mode.
        session.fail('protocol_error', this._clock(), { detail: 'a text message in framed mode' });
        return this._pump();
      }
      session.receive(d instanceof ArrayBuffer ? new Uint8Array(d) : toBytes(d), this._clock());
      this._pump();
      // A queue held back by a full WebSocket buffer moves on here too, not
      // only from the drain poll: a background tab's timers may be
      // throttled, its onmessage is not.
      if (ws === this._ws) this._flush();
    };
    ws.onclose = (ev) => {
      if (ws !== this._ws) return;
      this._ws = null;
      if (!this._opened) {
        this._clearAttemptTimer();
        this._session = null;
        return this._attemptFailed(new HeartbeatError('disconnected', { detail: `could not connect (close code ${ev?.code ?? '?'})` }));
      }
      session.transportClosed(this._clock(), `close code ${ev?.code ?? '?'}`);
      this._pump();
    };
    ws.onerror = () => {}; // a close event follows
    this._attemptTimer = this._timers.setTimeout(() => {
      this._attemptTimer = null;
      if (ws !== this._ws || this._opened) return;
      this._dropSocket();
      this._session = null;
      this._attemptFailed(new HeartbeatError('hello_timeout', { detail: 'the WebSocket did not open in time' }));
    }, this._connectTimeout);
  }

  // Carries out the session's actions. Re-entrant calls (an event handler
  // that sends) leave the work to the loop already running.
  _pump() {
    if (this._pumping) return;
    this._pumping = true;
    try {
      for (;;) {
        const session = this._session;
        if (!session) break;
        const actions = session.takeActions();
        if (actions.length === 0) break;
        for (const a of actions) this._act(session, a);
      }
    } finally {
      this._pumping = false;
    }
  }

  _act(session, a) {
    switch (a.type) {
      case 'write':
        (a.urgent ? this._urgent : this._normal).push({ bytes: a.bytes, beat: a.beat });
        this._flush();
        break;
      case 'closeAfter':
        this._urgent = [{ bytes: a.bytes }];
        this._normal = [];
        this._closeWhenFlushed = true;
        this._flush();
        break;
      case 'deliver':
        this._emit('onMessage', a.bytes);
        break;
      case 'online':
        this._state = 'online';
        this._attempt = 0;
        this._retries = 0;
        this._emit('onOnline', a.terms);
        break;
      case 'terms':
        this._emit('onTerms', a.terms);
        break;
      case 'timer':
        if (this._timer !== null) this._timers.clearTimeout(this._timer);
        this._timer = null;
        if (a.at !== null) {
          const delay = Math.max(0, a.at - this._clock());
          this._timer = this._timers.setTimeout(() => {
            this._timer = null;
            if (this._session !== session) return;
            session.timerFired(this._clock());
            this._pump();
          }, delay);
        }
        break;
      case 'finish':
        if (this._session !== session) break;
        if (a.ending === 'left' || a.ending === 'aborted') {
          this._dropSocket();
          this._endSession();
          this._stop();
        } else {
          this._ended(a.error, a.welcomed);
        }
        break;
    }
  }

  // Hands queued bytes to the WebSocket in messages of at most maxMessage
  // bytes, while its own buffer is below one message: a BEAT or TERMS_ACK
  // (urgent) waits at most for the rest of the frame already started.
  _flush() {
    const ws = this._ws;
    if (!ws || !this._opened || ws.readyState !== 1) return;
    while (this._partial || this._urgent.length || this._normal.length) {
      if (ws.bufferedAmount >= this._maxMessage) {
        if (this._flushTimer === null)
          this._flushTimer = this._timers.setTimeout(() => {
            this._flushTimer = null;
            this._flush();
          }, 5);
        return;
      }
      const parts = [];
      const beats = [];
      let room = this._maxMessage;
      while (room > 0) {
        const item = this._partial ?? this._urgent.shift() ?? this._normal.shift();
        if (!item) break;
        this._partial = null;
        if (item.bytes.length <= room) {
          parts.push(item.bytes);
          room -= item.bytes.length;
          if (item.beat !== undefined) beats.push(item.beat);
        } else {
          parts.push(item.bytes.subarray(0, room));
          this._partial = { bytes: item.bytes.subarray(room), beat: item.beat };
          room = 0;
        }
      }
      let message = parts[0];
      if (parts.length > 1) {
        message = new Uint8Array(this._maxMessage - room);
        let at = 0;
        for (const p of parts) {
          message.set(p, at);
          at += p.length;
        }
      }
      try {
        ws.send(message);
      } catch {
        return; // the close event reports it
      }
      const now = this._clock();
      for (const seq of beats) this._session?.beatWritten(seq, now);
    }
    if (this._closeWhenFlushed) {
      this._closeWhenFlushed = false;
      // The WebSocket's closing handshake is our half-close: the server
      // reads GOODBYE first, and its close is the EOF we wait for (R27).
      try {
        ws.close(1000, 'goodbye');
      } catch {
        /* already closing */
      }
    }
    this._pump();
  }

  // A session (or an attempt) ended on an error: report it, then retry or stop.
  _ended(error, welcomed) {
    this._dropSocket();
    this._endSession();
    if (welcomed) this._emit('onLost', error);
    else if (error.wireCode !== undefined) this._emit('onRefused', error);
    if (!welcomed) return this._attemptFailed(error, true);
    this._retry(error);
  }

  _attemptFailed(error, alreadyReported = false) {
    if (this._state === 'stopped') return;
    if (!alreadyReported && error.wireCode !== undefined) this._emit('onRefused', error);
    this._attempt++;
    this._emit('onAttemptFailed', error, this._attempt);
    this._retry(error);
  }

  // After a failure (a lost session or a failed attempt): the retry policy
  // decides; the n-th consecutive retry since the last WELCOME (n = 1, 2,
  // ...) waits random * min(max, base * multiplier^(n-1)), and at least a
  // server_full refusal's RETRY_AFTER (capped).
  _retry(error) {
    if (this._state === 'stopped') return;
    this._retries++;
    const r = this._reconnect;
    const policy = r.policy ?? defaultRetryPolicy;
    let decision = r.enabled ? policy(error, this._attempt) : 'stop';
    if (decision !== 'stop' && decision !== 'retry') decision = defaultRetryPolicy(error, this._attempt);
    if (decision === 'stop') {
      this._stop();
      this._emit('onGaveUp', error, this._attempt);
      return;
    }
    const delay = reconnectDelay(this._retries - 1, r, this._random, error?.retryAfter ?? null);
    this._state = 'waiting';
    this._emit('onReconnecting', this._retries, delay);
    if (this._state !== 'waiting') return; // the handler stopped us
    this._attemptTimer = this._timers.setTimeout(() => {
      this._attemptTimer = null;
      if (this._state === 'waiting') this._connect();
    }, delay);
  }

  _endSession() {
    if (this._timer !== null) this._timers.clearTimeout(this._timer);
    this._timer = null;
    if (this._flushTimer !== null) this._timers.clearTimeout(this._flushTimer);
    this._flushTimer = null;
    if (this._session) this._lastSession = this._session;
    this._session = null;
    this._urgent = [];
    this._normal = [];
    this._partial = null;
  }

  _dropSocket() {
    const ws = this._ws;
    this._ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    ws.onerror = () => {};
    try {
      if (ws.readyState === 0 || ws.readyState === 1) ws.close(1000);
    } catch {
      /* nothing to close */
    }
  }

  _clearAttemptTimer() {
    if (this._attemptTimer !== null) this._timers.clearTimeout(this._attemptTimer);
    this._attemptTimer = null;
  }

  _stop() {
    if (this._state === 'stopped') return;
    this._state = 'stopped';
    this._clearAttemptTimer();
    this._dropSocket();
    this._endSession();
    const waiters = this._stopWaiters;
    this._stopWaiters = [];
    for (const w of waiters) w();
    this._emit('onClosed');
  }

  _whenStopped() {
    if (this._state === 'stopped') return Promise.resolve();
    return new Promise((resolve) => this._stopWaiters.push(resolve));
  }

  // User handlers run synchronously; one that throws cannot break the
  // client: its exception goes to onError, or is rethrown from a microtask.
  _emit(name, ...args) {
    const f = this[name];
    if (typeof f !== 'function') return;
    try {
      f.apply(this, args);
    } catch (e) {
      if (typeof this.onError === 'function' && name !== 'onError') this._emit('onError', e, name);
      else
        queueMicrotask(() => {
          throw e;
        });
    }
  }
}
