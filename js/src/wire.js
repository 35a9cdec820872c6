// The heartbeat frame format (docs/PROTOCOL.md): encoders, payload parsers
// and an incremental decoder with hard bounds. No I/O, no timers.
//
// Every frame is a 4-byte header (type, u24 payload length, big-endian)
// followed by its payload. All integers are unsigned and big-endian.

/** Frame types. */
export const FrameType = Object.freeze({
  HELLO: 0x01,
  WELCOME: 0x02,
  ERROR: 0x03,
  BEAT: 0x04,
  ECHO: 0x05,
  DATA: 0x06,
  GOODBYE: 0x07,
  TERMS: 0x08,
  TERMS_ACK: 0x09,
  RETRY_AFTER: 0x0a,
  PROBE: 0x0b,
});

/** The highest frame type of a version 1 session. */
export const LAST_V1_FRAME_TYPE = 0x07;
/** The highest frame type this implementation knows. */
export const LAST_FRAME_TYPE = 0x0b;

export const HEADER_SIZE = 4;
/** The largest payload a u24 length can state. */
export const MAX_ENCODABLE_PAYLOAD = 0xffffff;
/** The default `max_frame` of both sides. */
export const DEFAULT_MAX_FRAME = 64 * 1024;
export const MAX_ID_SIZE = 255;
export const MAX_CREDENTIAL_SIZE = 4096;
export const MAX_ERROR_MESSAGE = 255;

/** HELLO's version byte: the layout, in both protocol versions. */
export const HELLO_VERSION = 1;
export const HELLO_MAGIC = Object.freeze([0x48, 0x42]); // "HB"

/** Bits of HELLO's flags byte. */
export const HelloFlags = Object.freeze({
  V2: 0x01, // the client speaks version 2
  ANSWERS_PROBES: 0x02, // the client answers PROBE with a BEAT at once
});

/** GOODBYE reasons. */
export const GoodbyeReason = Object.freeze({
  NORMAL: 0,
  SHUTTING_DOWN: 1,
  REPLACED: 2,
  KICKED: 3,
});

/** WELCOME v2's detection byte. */
export const Detection = Object.freeze({ FIXED: 0, ADAPTIVE: 1 });

/** ERROR codes on the wire and their names. */
export const ErrorCode = Object.freeze({
  protocol_error: 1,
  unsupported_version: 2,
  auth_failed: 3,
  duplicate_id: 4,
  hello_timeout: 5,
  frame_too_large: 6,
  server_full: 7,
  bad_id: 8,
  shutting_down: 9,
  rate_limited: 10,
  timeout: 11,
});

const codeNames = new Map(Object.entries(ErrorCode).map(([name, code]) => [code, name]));

/**
 * The name of an ERROR code; a code this implementation does not know is a
 * generic refusal, `rejected` (R26).
 */
export function errorCodeName(code) {
  return codeNames.get(code) ?? 'rejected';
}

// Payload sizes each type allows, in either version: [min, max]. The
// session checks the exact size of its own version afterwards.
const BOUNDS = new Map([
  [FrameType.HELLO, [11, 11 + MAX_ID_SIZE + MAX_CREDENTIAL_SIZE]],
  [FrameType.WELCOME, [6, 15]],
  [FrameType.ERROR, [2, 2 + MAX_ERROR_MESSAGE]],
  [FrameType.BEAT, [4, 12]],
  [FrameType.ECHO, [4, 8]],
  [FrameType.DATA, [0, MAX_ENCODABLE_PAYLOAD]],
  [FrameType.GOODBYE, [1, 1]],
  [FrameType.TERMS, [11, 11]],
  [FrameType.TERMS_ACK, [6, 6]],
  [FrameType.RETRY_AFTER, [4, 4]],
  [FrameType.PROBE, [4, 4]],
]);

/** The payload sizes `type` allows, `[min, max]`, or undefined if unknown. */
export function payloadBounds(type) {
  return BOUNDS.get(type);
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: false });

/** Bytes of a string (UTF-8), a Uint8Array (as is), an ArrayBuffer or a view. */
export function toBytes(data) {
  if (typeof data === 'string') return textEncoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('heartbeat: expected a string, Uint8Array, ArrayBuffer or ArrayBuffer view');
}

/** UTF-8 text of bytes (invalid sequences become U+FFFD). */
export function toText(bytes) {
  return textDecoder.decode(bytes);
}

function u32(x) {
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw new RangeError(`heartbeat: ${x} is not a u32`);
  return x;
}

function frame(type, payloadSize) {
  if (payloadSize > MAX_ENCODABLE_PAYLOAD) throw new RangeError('heartbeat: payload too large for a frame');
  const f = new Uint8Array(HEADER_SIZE + payloadSize);
  const v = new DataView(f.buffer);
  f[0] = type;
  f[1] = (payloadSize >>> 16) & 0xff;
  f[2] = (payloadSize >>> 8) & 0xff;
  f[3] = payloadSize & 0xff;
  return { f, v };
}

// ---- encoders: each returns a whole frame as a new Uint8Array -------------

/**
 * HELLO. `id` and `credential` are strings (UTF-8) or bytes.
 * @param {{id: string|Uint8Array, credential?: string|Uint8Array, intervalMs?: number, flags?: number}} h
 */
export function encodeHello({ id, credential = new Uint8Array(0), intervalMs = 0, flags = 0 }) {
  const idb = toBytes(id);
  const cred = toBytes(credential);
  if (idb.length < 1 || idb.length > MAX_ID_SIZE) throw new RangeError('heartbeat: the id must be 1 to 255 bytes');
  if (cred.length > MAX_CREDENTIAL_SIZE) throw new RangeError('heartbeat: the credential must be at most 4096 bytes');
  const { f, v } = frame(FrameType.HELLO, 11 + idb.length + cred.length);
  f[4] = HELLO_MAGIC[0];
  f[5] = HELLO_MAGIC[1];
  f[6] = HELLO_VERSION;
  f[7] = flags & 0xff;
  v.setUint32(8, u32(intervalMs));
  f[12] = idb.length;
  f.set(idb, 13);
  v.setUint16(13 + idb.length, cred.length);
  f.set(cred, 15 + idb.length);
  return f;
}

/** BEAT: 4 bytes, or 12 with a returned stamp (version 2). */
export function encodeBeat(seq, stamp) {
  if (stamp === undefined) {
    const { f, v } = frame(FrameType.BEAT, 4);
    v.setUint32(4, u32(seq));
    return f;
  }
  const { f, v } = frame(FrameType.BEAT, 12);
  v.setUint32(4, u32(seq));
  v.setUint32(8, u32(stamp.stamp));
  v.setUint32(12, u32(stamp.heldUs));
  return f;
}

/** TERMS_ACK: terms `id` adopted; the client accepts payloads up to `maxFrame`. */
export function encodeTermsAck(id, maxFrame) {
  const { f, v } = frame(FrameType.TERMS_ACK, 6);
  v.setUint16(4, id & 0xffff);
  v.setUint32(6, u32(maxFrame));
  return f;
}

/** DATA carrying `bytes`. */
export function encodeData(bytes) {
  const b = toBytes(bytes);
  const { f } = frame(FrameType.DATA, b.length);
  f.set(b, HEADER_SIZE);
  return f;
}

/** GOODBYE with `reason` (0: normal). */
export function encodeGoodbye(reason = GoodbyeReason.NORMAL) {
  const { f } = frame(FrameType.GOODBYE, 1);
  f[4] = reason & 0xff;
  return f;
}

/** ERROR `code` with an optional message (UTF-8, at most 255 bytes). */
export function encodeError(code, message = '') {
  const m = toBytes(message);
  if (m.length > MAX_ERROR_MESSAGE) throw new RangeError('heartbeat: an ERROR message is at most 255 bytes');
  const { f, v } = frame(FrameType.ERROR, 2 + m.length);
  v.setUint16(4, code & 0xffff);
  f.set(m, 6);
  return f;
}

// Server-side frames: the client never sends them, but tests (and anyone
// writing a server in JavaScript) build them.

/** WELCOME: version 1 (6 bytes) or version 2 (15 bytes). */
export function encodeWelcome({ version = 2, misses, intervalMs, graceMs = 0, maxFrame = DEFAULT_MAX_FRAME, detection = 0 }) {
  if (version === 1) {
    const { f, v } = frame(FrameType.WELCOME, 6);
    f[4] = 1;
    f[5] = misses;
    v.setUint32(6, u32(intervalMs));
    return f;
  }
  const { f, v } = frame(FrameType.WELCOME, 15);
  f[4] = version;
  f[5] = misses;
  v.setUint32(6, u32(intervalMs));
  v.setUint32(10, u32(graceMs));
  v.setUint32(14, u32(maxFrame));
  f[18] = detection;
  return f;
}

/** ECHO: 4 bytes (version 1) or 8 with the server's stamp (version 2). */
export function encodeEcho(seq, stamp) {
  if (stamp === undefined) {
    const { f, v } = frame(FrameType.ECHO, 4);
    v.setUint32(4, u32(seq));
    return f;
  }
  const { f, v } = frame(FrameType.ECHO, 8);
  v.setUint32(4, u32(seq));
  v.setUint32(8, u32(stamp));
  return f;
}

/** TERMS `id`: `misses` of `intervalMs`, with `graceMs`. */
export function encodeTerms({ id, misses, intervalMs, graceMs = 0 }) {
  const { f, v } = frame(FrameType.TERMS, 11);
  v.setUint16(4, id & 0xffff);
  f[6] = misses;
  v.setUint32(7, u32(intervalMs));
  v.setUint32(11, u32(graceMs));
  return f;
}

/** RETRY_AFTER `ms`. */
export function encodeRetryAfter(ms) {
  const { f, v } = frame(FrameType.RETRY_AFTER, 4);
  v.setUint32(4, u32(ms));
  return f;
}

/** PROBE `seq`. */
export function encodeProbe(seq) {
  const { f, v } = frame(FrameType.PROBE, 4);
  v.setUint32(4, u32(seq));
  return f;
}

// ---- payload parsers: each checks the exact layout; null when malformed ---

function view(p) {
  return new DataView(p.buffer, p.byteOffset, p.byteLength);
}

/** WELCOME: `{version, misses, intervalMs, graceMs?, maxFrame?, detection?}`, or an error name. */
export function parseWelcome(p) {
  const v = view(p);
  const version = p[0];
  if (version !== 1 && version !== 2) return { error: 'unsupported_version' };
  if ((version === 1 && p.length !== 6) || (version === 2 && p.length !== 15)) return { error: 'protocol_error' };
  const w = { version, misses: p[1], intervalMs: v.getUint32(2) };
  if (w.misses === 0 || w.intervalMs === 0) return { error: 'protocol_error' };
  if (version === 2) {
    w.graceMs = v.getUint32(6);
    w.maxFrame = v.getUint32(10);
    w.detection = p[14];
    if (w.detection > Detection.ADAPTIVE) return { error: 'protocol_error' };
  }
  return w;
}

/** ERROR: `{code, name, message}`, or null. */
export function parseError(p) {
  if (p.length < 2 || p.length > 2 + MAX_ERROR_MESSAGE) return null;
  const code = view(p).getUint16(0);
  return { code, name: errorCodeName(code), message: toText(p.subarray(2)) };
}

/** ECHO of a session of `version`: `{seq, stamp?}`, or null. */
export function parseEcho(p, version) {
  if (p.length !== (version === 2 ? 8 : 4)) return null;
  const v = view(p);
  const e = { seq: v.getUint32(0) };
  if (version === 2) e.stamp = v.getUint32(4);
  return e;
}

/** BEAT: `{seq, stamp?, heldUs?}`, or null. */
export function parseBeat(p) {
  if (p.length !== 4 && p.length !== 12) return null;
  const v = view(p);
  const b = { seq: v.getUint32(0) };
  if (p.length === 12) {
    b.stamp = v.getUint32(4);
    b.heldUs = v.getUint32(8);
  }
  return b;
}

/** TERMS: `{id, misses, intervalMs, graceMs}`, or null. */
export function parseTerms(p) {
  if (p.length !== 11) return null;
  const v = view(p);
  const t = { id: v.getUint16(0), misses: p[2], intervalMs: v.getUint32(3), graceMs: v.getUint32(7) };
  if (t.misses === 0 || t.intervalMs === 0) return null;
  return t;
}

/** TERMS_ACK: `{id, maxFrame}`, or null. */
export function parseTermsAck(p) {
  if (p.length !== 6) return null;
  const v = view(p);
  return { id: v.getUint16(0), maxFrame: v.getUint32(2) };
}

/** A payload that is one u32 (RETRY_AFTER, PROBE), or null. */
export function parseU32(p) {
  if (p.length !== 4) return null;
  return view(p).getUint32(0);
}

/** GOODBYE's reason, or null. */
export function parseGoodbye(p) {
  if (p.length !== 1) return null;
  return p[0];
}

/** HELLO: `{version, flags, intervalMs, id (bytes), credential (bytes)}`, or an error name. */
export function parseHello(p) {
  if (p.length < 3) return { error: 'protocol_error' };
  if (p[0] !== HELLO_MAGIC[0] || p[1] !== HELLO_MAGIC[1]) return { error: 'protocol_error' };
  if (p[2] !== HELLO_VERSION) return { error: 'unsupported_version' };
  if (p.length < 11) return { error: 'protocol_error' };
  const v = view(p);
  const idLen = p[8];
  if (p.length < 11 + idLen) return { error: 'protocol_error' };
  const credLen = v.getUint16(9 + idLen);
  if (p.length !== 11 + idLen + credLen || credLen > MAX_CREDENTIAL_SIZE) return { error: 'protocol_error' };
  return {
    version: p[2],
    flags: p[3],
    intervalMs: v.getUint32(4),
    id: p.subarray(9, 9 + idLen),
    credential: p.subarray(11 + idLen, 11 + idLen + credLen),
  };
}

// ---- the decoder -----------------------------------------------------------

/**
 * Splits a byte stream into frames, whatever the chunking.
 *
 * `push(bytes)` takes the next chunk and returns the frames it completes,
 * in order, each `{type, payload}` (payload a Uint8Array; frames lying
 * whole in the chunk are views into it, split ones are copied into a
 * buffer no larger than the frame). Each header is checked as soon as its
 * 4 bytes are in, before any payload is read (R1): an unknown type is
 * `unknown_frame_type`, a length beyond `maxFrame` is `frame_too_large`, a
 * length outside the type's sizes is `protocol_error`. On the first error
 * `push` returns the frames completed before it and the decoder stays
 * failed (`error` names why); later input is ignored.
 */
export class FrameDecoder {
  /** @param {number} maxFrame the largest payload accepted */
  constructor(maxFrame = DEFAULT_MAX_FRAME) {
    this.maxFrame = Math.min(maxFrame, MAX_ENCODABLE_PAYLOAD);
    this.lastType = LAST_FRAME_TYPE;
    this.error = null;
    this._header = new Uint8Array(HEADER_SIZE);
    this._headerHave = 0;
    this._type = 0;
    this._size = 0;
    this._payload = null; // the buffer of a frame split across chunks
    this._payloadHave = 0;
  }

  /** Types above `t` count as unknown (a version 1 session: 7). */
  limitTypes(t) {
    this.lastType = t;
  }

  /** True if part of a frame is buffered. */
  get midFrame() {
    return this._headerHave !== 0;
  }

  /** @param {Uint8Array} bytes @returns {{type: number, payload: Uint8Array}[]} */
  push(bytes) {
    const out = [];
    if (this.error) return out;
    let i = 0;
    const n = bytes.length;
    while (i < n) {
      if (this._headerHave < HEADER_SIZE) {
        if (this._headerHave === 0 && n - i >= HEADER_SIZE) {
          // Fast path: the whole header in this chunk.
          if (!this._accept(bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3])) return out;
          i += HEADER_SIZE;
          if (n - i >= this._size) {
            out.push({ type: this._type, payload: bytes.subarray(i, i + this._size) });
            i += this._size;
            continue;
          }
          this._headerHave = HEADER_SIZE;
          this._startPayload();
          continue;
        }
        const take = Math.min(HEADER_SIZE - this._headerHave, n - i);
        this._header.set(bytes.subarray(i, i + take), this._headerHave);
        this._headerHave += take;
        i += take;
        if (this._headerHave < HEADER_SIZE) break;
        const h = this._header;
        if (!this._accept(h[0], h[1], h[2], h[3])) return out;
        this._startPayload();
        if (this._size === 0) out.push(this._takeBuffered());
        continue;
      }
      const take = Math.min(this._size - this._payloadHave, n - i);
      this._payload.set(bytes.subarray(i, i + take), this._payloadHave);
      this._payloadHave += take;
      i += take;
      if (this._payloadHave === this._size) out.push(this._takeBuffered());
    }
    return out;
  }

  _accept(t, a, b, c) {
    if (!BOUNDS.has(t) || t > this.lastType) {
      this.error = 'unknown_frame_type';
      return false;
    }
    const size = (a << 16) | (b << 8) | c;
    if (size > this.maxFrame) {
      this.error = 'frame_too_large';
      return false;
    }
    const [min, max] = BOUNDS.get(t);
    if (size < min || size > max) {
      this.error = 'protocol_error';
      return false;
    }
    this._type = t;
    this._size = size;
    return true;
  }

  _startPayload() {
    this._payload = new Uint8Array(this._size);
    this._payloadHave = 0;
  }

  _takeBuffered() {
    const f = { type: this._type, payload: this._payload };
    this._headerHave = 0;
    this._payload = null;
    this._payloadHave = 0;
    return f;
  }
}
