// The client's side of one heartbeat session as a state machine without
// I/O, the counterpart of the C++ `client_session`: bytes and the time go
// in, actions come out. A driver (HeartbeatClient) reads and writes the
// transport, arms one timer and reports events; every protocol decision is
// made here, so it is tested on a fake clock at exact instants.
//
// Time is a number of milliseconds on a monotonic clock (fractions allowed).
//
// Phases: idle -> hello -> running -> [leaving] -> done.

import { HeartbeatError } from './errors.js';
import {
  DEFAULT_MAX_FRAME,
  Detection,
  FrameDecoder,
  FrameType,
  GoodbyeReason,
  HelloFlags,
  LAST_V1_FRAME_TYPE,
  MAX_CREDENTIAL_SIZE,
  MAX_ENCODABLE_PAYLOAD,
  MAX_ID_SIZE,
  encodeBeat,
  encodeData,
  encodeGoodbye,
  encodeHello,
  encodeTermsAck,
  parseEcho,
  parseError,
  parseGoodbye,
  parseTerms,
  parseU32,
  parseWelcome,
  toBytes,
} from './wire.js';

/**
 * The clock's smallest step as the machine sees it (1 µs): the server is
 * lost one tick after the last echo it owed became due (R14).
 */
export const TICK_MS = 0.001;

/** The machine's defaults; the names are those of the C++ client's options. */
export const sessionDefaults = Object.freeze({
  interval: 1000, // asked for in HELLO; WELCOME decides
  misses: 3, // until WELCOME says otherwise
  helloTimeout: 5000, // WELCOME within this time of start (R8)
  maxFrame: DEFAULT_MAX_FRAME, // the largest payload accepted from the server
  peerMaxFrame: DEFAULT_MAX_FRAME, // the largest payload sent (version 2: and the server's own limit)
  closeTimeout: 1000, // leave(): how long to wait for the server to close (R27)
  minInterval: 10, // the client's bounds on the server's terms (R8)
  maxInterval: 10 * 60 * 1000,
  maxTimeout: 60 * 60 * 1000, // misses * interval at most this
  maxVersion: 2,
  answerProbes: true, // HELLO flag 0x02: answer PROBE with a BEAT at once
  rttGain: 0.125, // the weight of a new sample in the smoothed RTT (RFC 6298)
});

const MAX_UNANSWERED = 256;

// Signed 32-bit difference of two sequence numbers (R12).
function seqDiff(a, b) {
  return (a - b) | 0;
}

/**
 * The client session machine.
 *
 * Inputs: `start(now)`, `receive(bytes, now)`, `transportClosed(now)`,
 * `beatWritten(seq, now)`, `timerFired(now)`, `send(bytes)`, `leave(now)`,
 * `abort()`. Outputs: `takeActions()`, each an object with a `type`:
 *
 * - `write` `{bytes, urgent, beat?}`: queue the bytes; `urgent` ones go
 *   ahead of queued frames not yet started. A frame that is a BEAT names
 *   its `beat` seq: call `beatWritten(seq, now)` when it goes out.
 * - `closeAfter` `{bytes}`: drop queued frames not yet started, write the
 *   bytes, then close the transport gracefully.
 * - `deliver` `{bytes}`: an application message (DATA).
 * - `online` `{terms}`: WELCOME accepted.
 * - `terms` `{terms}`: the server's TERMS adopted.
 * - `timer` `{at}`: (re)arm the one timer for instant `at`, then call
 *   `timerFired`; `at` null cancels it.
 * - `finish` `{ending, error, welcomed}`: the session is over; close the
 *   transport. `ending` is `left` (we left and the server let us go),
 *   `error` (`error` says why), `transport` (the transport closed; `error`
 *   is `disconnected`) or `aborted`. `welcomed` tells a lost session from
 *   a failed attempt.
 */
export class ClientSession {
  constructor(options = {}) {
    const o = { ...sessionDefaults, ...options };
    if (o.id === undefined) throw new TypeError('heartbeat: an id is required');
    this.opts = o;
    this.phase = 'idle';
    this._decoder = new FrameDecoder(o.maxFrame);
    if (o.maxVersion < 2) this._decoder.limitTypes(LAST_V1_FRAME_TYPE);
    this._actions = [];
    this._now = 0;
    this._interval = o.interval;
    this._misses = o.misses;
    this._terms = null;
    this._version = 1;
    this._helloDeadline = 0;
    this._closeDeadline = 0;
    this._beatDue = 0;
    this._armed = null;
    // Beats: the one queued and not yet written, the highest written, and
    // those written and not yet answered ({seq, written}).
    this._nextSeq = 1;
    this._highestSent = 0;
    this._sentAny = false;
    this._queuedBeat = null;
    this._unanswered = [];
    // RTT (RFC 6298)
    this._rttLast = null;
    this._srtt = null;
    this._rttvar = null;
    // The newest version 2 ECHO's stamp, returned in the next BEAT.
    this._stampPending = false;
    this._stamp = 0;
    this._stampRead = 0;
    this._retryAfter = null;
    this._refused = false;
    this._welcomed = false;
    this.beatsSent = 0;
    this.echoesReceived = 0;
    this.probesAnswered = 0;
  }

  // ---- queries -------------------------------------------------------------

  /** True once WELCOME is accepted and until the session ends or leaves. */
  get established() {
    return this.phase === 'running';
  }
  /** The terms in force (null before WELCOME). */
  get terms() {
    return this._terms;
  }
  /** The protocol version WELCOME granted (1 before it). */
  get version() {
    return this._version;
  }
  get interval() {
    return this._interval;
  }
  get misses() {
    return this._misses;
  }
  /** The smoothed RTT in ms, or null before the first sample. */
  get rtt() {
    return this._srtt;
  }
  /** The RTT's mean deviation in ms, or null before the first sample. */
  get rttVariation() {
    return this._rttvar;
  }
  /** The latest RTT sample in ms, or null. */
  get lastRtt() {
    return this._rttLast;
  }
  /** A server_full refusal's RETRY_AFTER, in ms, or null. */
  get retryAfter() {
    return this._retryAfter;
  }
  /** Beats written and not yet answered. */
  get unanswered() {
    return this._unanswered.length;
  }
  /** The largest DATA payload send() accepts. */
  get sendLimit() {
    const server = this._terms?.maxFrame ?? Infinity;
    return Math.min(this.opts.peerMaxFrame, server, MAX_ENCODABLE_PAYLOAD);
  }

  /** The actions decided since the last call, in order. */
  takeActions() {
    const a = this._actions;
    this._actions = [];
    return a;
  }

  // ---- inputs --------------------------------------------------------------

  /** The transport is open: HELLO goes out and the hello deadline runs. */
  start(now) {
    this._now = now;
    if (this.phase !== 'idle') return;
    const o = this.opts;
    let hello;
    try {
      const id = toBytes(o.id);
      const cred = toBytes(o.credential ?? '');
      if (id.length < 1 || id.length > MAX_ID_SIZE || cred.length > MAX_CREDENTIAL_SIZE) throw new RangeError();
      let flags = 0;
      if (o.maxVersion >= 2) flags |= HelloFlags.V2 | (o.answerProbes ? HelloFlags.ANSWERS_PROBES : 0);
      hello = encodeHello({ id, credential: cred, intervalMs: Math.min(Math.max(Math.round(o.interval), 0), 0xffffffff), flags });
    } catch {
      return this._finish('error', 'bad_id');
    }
    this.phase = 'hello';
    this._push({ type: 'write', bytes: hello, urgent: false });
    this._helloDeadline = now + o.helloTimeout;
    this._rearm();
  }

  /** `bytes` read from the transport at `now`. */
  receive(bytes, now) {
    this._now = now;
    if (this.phase === 'done' || this.phase === 'idle') return;
    const frames = this._decoder.push(bytes);
    let life = false; // this read carried something other than ECHOs
    for (const f of frames) {
      if (this.phase === 'done') return;
      if (f.type !== FrameType.ECHO) life = true;
      this._onFrame(f);
    }
    if (this.phase === 'done') return;
    if (this._decoder.error) return this._finish('error', this._decoder.error);
    if (this._decoder.midFrame) life = true; // part of a larger frame: the server is talking
    if (life && this.phase === 'running') this._unanswered.length = 0; // R13
    this._rearm();
  }

  /** The transport closed (EOF or failure) at `now`. */
  transportClosed(now, detail) {
    this._now = now;
    if (this.phase === 'done') return;
    if (this.phase === 'leaving' || this.phase === 'idle') return this._finish('left', null);
    this._finish('transport', 'disconnected', { detail });
  }

  /** The frame carrying BEAT `seq` went out at `now`: its echo's clock starts. */
  beatWritten(seq, now) {
    this._now = now;
    if (this.phase !== 'running' || this._queuedBeat !== seq) return;
    this._queuedBeat = null;
    this._highestSent = seq;
    this._sentAny = true;
    this._unanswered.push({ seq, written: now });
    if (this._unanswered.length > MAX_UNANSWERED) this._unanswered.shift();
    this.beatsSent++;
    this._rearm();
  }

  /** The timer armed by the last `timer` action fired at `now`. */
  timerFired(now) {
    this._now = now;
    this._armed = null;
    switch (this.phase) {
      case 'hello':
        if (now >= this._helloDeadline) return this._finish('error', 'hello_timeout');
        break;
      case 'running': {
        const lost = this._watchdog();
        if (lost !== null && now >= lost) return this._finish('error', 'peer_lost');
        if (now >= this._beatDue) {
          this._beatDue = now + this._interval;
          this._beat(now);
        }
        break;
      }
      case 'leaving':
        if (now >= this._closeDeadline) return this._finish('left', null);
        break;
      default:
        return;
    }
    this._rearm();
  }

  /**
   * Queues an application message (DATA). Returns false when the session
   * cannot carry one (not welcomed, leaving, over); throws a
   * `message_too_large` HeartbeatError past `sendLimit`.
   */
  send(data) {
    const bytes = toBytes(data);
    if (this.phase !== 'running') return false;
    if (bytes.length > this.sendLimit)
      throw new HeartbeatError('message_too_large', { detail: `${bytes.length} bytes, the limit is ${this.sendLimit}` });
    this._push({ type: 'write', bytes: encodeData(bytes), urgent: false });
    return true;
  }

  /** Leave gracefully: GOODBYE 0, then done once the server closes (or at closeTimeout). */
  leave(now) {
    this._now = now;
    if (this.phase === 'done' || this.phase === 'leaving') return;
    if (this.phase === 'idle') return this._finish('left', null);
    this.phase = 'leaving';
    this._queuedBeat = null;
    this._closeDeadline = now + this.opts.closeTimeout;
    this._push({ type: 'closeAfter', bytes: encodeGoodbye(GoodbyeReason.NORMAL) });
    this._rearm();
  }

  /** The driver saw the transport break the protocol (a text message, say): ends on `code`. */
  fail(code, now, details = {}) {
    this._now = now;
    this._finish('error', code, details);
  }

  /** Stopped by the application: no frame. */
  abort() {
    this._finish('aborted', null);
  }

  // ---- the rules -------------------------------------------------------------

  _push(a) {
    this._actions.push(a);
  }

  _onFrame(f) {
    const T = FrameType;
    const askedV2 = this.opts.maxVersion >= 2;
    if (f.type === T.RETRY_AFTER && askedV2 && this.phase === 'hello' && this._retryAfter === null) {
      const ms = parseU32(f.payload);
      if (ms === null) return this._finish('error', 'protocol_error');
      this._retryAfter = ms; // only ahead of a refusal, which the next frame says (R34)
      return;
    }
    if (this.phase === 'hello') {
      if (this._retryAfter !== null && f.type !== T.ERROR) return this._finish('error', 'protocol_error');
      if (f.type === T.WELCOME) return this._onWelcome(f.payload);
      if (f.type === T.ERROR) return this._onError(f.payload);
      return this._finish('error', 'protocol_error'); // R8
    }
    if (this.phase === 'leaving' && f.type === T.WELCOME) return; // leave() overtook the handshake (R27)
    switch (f.type) {
      case T.ECHO: {
        const e = parseEcho(f.payload, this._version);
        if (e === null) return this._finish('error', 'protocol_error');
        if (this._version === 2) {
          this._stampPending = true;
          this._stamp = e.stamp;
          this._stampRead = this._now;
        }
        return this._onEcho(e.seq);
      }
      case T.TERMS:
        return this._onTerms(f.payload);
      case T.PROBE:
        return this._onProbe(f.payload);
      case T.DATA:
        if (this.phase === 'running') this._push({ type: 'deliver', bytes: f.payload });
        return;
      case T.ERROR:
        return this._onError(f.payload);
      case T.GOODBYE: {
        const r = parseGoodbye(f.payload);
        if (r === null) return this._finish('error', 'protocol_error');
        if (this.phase === 'leaving') return this._finish('left', null); // we were leaving anyway
        const why =
          r === GoodbyeReason.REPLACED
            ? 'replaced'
            : r === GoodbyeReason.SHUTTING_DOWN
              ? 'shutting_down'
              : r === GoodbyeReason.KICKED && this._version === 2
                ? 'kicked'
                : 'peer_left';
        return this._finish('error', why);
      }
      default:
        // HELLO, BEAT, a second WELCOME, TERMS_ACK, a late RETRY_AFTER (R18)
        return this._finish('error', 'protocol_error');
    }
  }

  _onError(payload) {
    const e = parseError(payload);
    if (e === null) return this._finish('error', 'protocol_error');
    this._refused = true;
    this._finish('error', e.name, { wireCode: e.code, serverMessage: e.message });
  }

  _acceptable(intervalMs, misses) {
    const o = this.opts;
    return intervalMs >= o.minInterval && intervalMs <= o.maxInterval && intervalMs * misses <= o.maxTimeout;
  }

  _onWelcome(payload) {
    const w = parseWelcome(payload);
    if (w.error) return this._finish('error', w.error);
    if (w.version === 2 && this.opts.maxVersion < 2) return this._finish('error', 'unsupported_version');
    if (!this._acceptable(w.intervalMs, w.misses)) return this._finish('error', 'unacceptable_terms');
    this.phase = 'running';
    this._welcomed = true;
    this._version = w.version;
    if (w.version === 1) this._decoder.limitTypes(LAST_V1_FRAME_TYPE);
    this._interval = w.intervalMs;
    this._misses = w.misses;
    this._terms = Object.freeze({
      version: w.version,
      id: 0,
      interval: w.intervalMs,
      misses: w.misses,
      grace: w.version === 2 ? w.graceMs : null,
      maxFrame: w.version === 2 ? w.maxFrame : null,
      detection: w.version === 2 ? (w.detection === Detection.ADAPTIVE ? 'adaptive' : 'fixed') : null,
    });
    this._beatDue = this._now + this._interval; // R11
    this._push({ type: 'online', terms: this._terms });
    if (w.version === 2) this._acknowledge(0); // R30: ahead of any DATA
  }

  _acknowledge(id) {
    const limit = Math.min(this.opts.maxFrame, MAX_ENCODABLE_PAYLOAD);
    this._push({ type: 'write', bytes: encodeTermsAck(id, limit), urgent: true });
  }

  _onTerms(payload) {
    if (this._version !== 2) return this._finish('error', 'protocol_error'); // unreachable: type 8 is unknown in v1
    if (this.phase !== 'running') return; // leaving: GOODBYE is on its way (R33)
    const t = parseTerms(payload);
    if (t === null) return this._finish('error', 'protocol_error');
    if (!this._acceptable(t.intervalMs, t.misses)) return this._finish('error', 'unacceptable_terms');
    this._acknowledge(t.id);
    this._interval = t.intervalMs;
    this._misses = t.misses;
    this._terms = Object.freeze({ ...this._terms, id: t.id, interval: t.intervalMs, misses: t.misses, grace: t.graceMs });
    this._beatDue = Math.min(this._beatDue, this._now + t.intervalMs); // R33
    this._push({ type: 'terms', terms: this._terms });
  }

  // PROBE (server -> client, version 2, 4-byte seq): a client that set
  // HELLO's flag 0x02 answers at once with a BEAT, ahead of queued DATA.
  // The regular schedule does not move. A beat already queued and not yet
  // written answers it too (it goes out first anyway).
  _onProbe(payload) {
    if (this._version !== 2 || !this.opts.answerProbes) return this._finish('error', 'protocol_error');
    if (parseU32(payload) === null) return this._finish('error', 'protocol_error');
    if (this.phase !== 'running') return; // leaving
    this.probesAnswered++;
    if (this._queuedBeat === null) this._beat(this._now);
  }

  _onEcho(seq) {
    if (!this._sentAny || seqDiff(seq, this._highestSent) > 0) return this._finish('error', 'protocol_error');
    this.echoesReceived++;
    const u = this._unanswered;
    while (u.length > 0 && seqDiff(u[0].seq, seq) <= 0) {
      const b = u.shift();
      if (b.seq === seq) this._addRtt(this._now - b.written);
    }
  }

  _addRtt(sample) {
    this._rttLast = sample;
    if (this._srtt === null) {
      this._srtt = sample;
      this._rttvar = sample / 2;
      return;
    }
    this._rttvar += (Math.abs(sample - this._srtt) - this._rttvar) / 4;
    this._srtt += (sample - this._srtt) * this.opts.rttGain;
  }

  _beat(now) {
    if (this._queuedBeat !== null) return; // at most one waits; it goes out ahead of DATA
    const seq = this._nextSeq;
    this._nextSeq = (this._nextSeq + 1) >>> 0;
    let bytes;
    if (this._stampPending) {
      this._stampPending = false;
      const held = Math.round((now - this._stampRead) * 1000);
      bytes = encodeBeat(seq, { stamp: this._stamp, heldUs: Math.min(Math.max(held, 0), 0xffffffff) });
    } else {
      bytes = encodeBeat(seq);
    }
    this._queuedBeat = seq;
    this._push({ type: 'write', bytes, urgent: true, beat: seq });
  }

  // R14: lost one tick after the misses-th unanswered beat's echo fell due,
  // one interval after that beat went out.
  _watchdog() {
    if (this._misses === 0 || this._unanswered.length < this._misses) return null;
    return this._unanswered[this._misses - 1].written + this._interval + TICK_MS;
  }

  _rearm() {
    let due = null;
    if (this.phase === 'hello') due = this._helloDeadline;
    else if (this.phase === 'running') {
      due = this._beatDue;
      const lost = this._watchdog();
      if (lost !== null) due = Math.min(due, lost);
    } else if (this.phase === 'leaving') due = this._closeDeadline;
    if (due === this._armed) return;
    this._armed = due;
    this._push({ type: 'timer', at: due });
  }

  _finish(ending, code, details = {}) {
    if (this.phase === 'done') return;
    if (!this._refused) this._retryAfter = null; // a RETRY_AFTER counts only with the refusal it announced
    this.phase = 'done';
    this._queuedBeat = null;
    if (this._armed !== null) {
      this._armed = null;
      this._push({ type: 'timer', at: null });
    }
    let error = null;
    if (code) {
      const d = { ...details };
      if (this._retryAfter !== null) d.retryAfter = this._retryAfter;
      error = new HeartbeatError(code, d);
    }
    this._push({ type: 'finish', ending, error, welcomed: this._welcomed });
  }
}
