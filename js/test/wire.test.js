// The frame codec against docs/PROTOCOL.md's worked examples, byte for
// byte, and the decoder across arbitrary splits with R1's header checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as w from '../src/wire.js';

const hex = (s) => Uint8Array.from(s.trim().split(/\s+/).map((b) => parseInt(b, 16)));
const eq = (actual, expected) => assert.deepEqual([...actual], [...hex(expected)]);

test('PROTOCOL worked example, version 1: HELLO, WELCOME, BEAT, ECHO, ERROR, GOODBYE', () => {
  eq(w.encodeHello({ id: 'ab', intervalMs: 1000, credential: 'k', flags: 0 }), '01 00 00 0e  48 42 01 00  00 00 03 e8  02 61 62  00 01 6b');
  eq(w.encodeWelcome({ version: 1, misses: 3, intervalMs: 1000 }), '02 00 00 06  01 03 00 00 03 e8');
  eq(w.encodeWelcome({ version: 1, misses: 3, intervalMs: 10 }).subarray(6), '00 00 00 0a');
  eq(w.encodeBeat(1), '04 00 00 04  00 00 00 01');
  eq(w.encodeEcho(1), '05 00 00 04  00 00 00 01');
  eq(w.encodeError(3, 'no'), '03 00 00 04  00 03 6e 6f');
  eq(w.encodeGoodbye(0), '07 00 00 01  00');
});

test('PROTOCOL worked example, version 2: every frame byte for byte', () => {
  eq(w.encodeHello({ id: 'ab', intervalMs: 1000, credential: 'k', flags: w.HelloFlags.V2 }), '01 00 00 0e  48 42 01 01  00 00 03 e8  02 61 62  00 01 6b');
  eq(w.encodeWelcome({ version: 2, misses: 3, intervalMs: 1000, graceMs: 500, maxFrame: 65536, detection: 0 }), '02 00 00 0f  02 03 00 00 03 e8  00 00 01 f4  00 01 00 00  00');
  eq(w.encodeTermsAck(0, 65536), '09 00 00 06  00 00  00 01 00 00');
  eq(w.encodeBeat(1), '04 00 00 04  00 00 00 01');
  eq(w.encodeEcho(1, 1250000), '05 00 00 08  00 00 00 01  00 13 12 d0');
  eq(w.encodeBeat(2, { stamp: 1250000, heldUs: 999800 }), '04 00 00 0c  00 00 00 02  00 13 12 d0  00 0f 41 78');
  eq(w.encodeTerms({ id: 1, misses: 3, intervalMs: 2000, graceMs: 500 }), '08 00 00 0b  00 01  03  00 00 07 d0  00 00 01 f4');
  eq(w.encodeTermsAck(1, 65536), '09 00 00 06  00 01  00 01 00 00');
  eq(w.encodeRetryAfter(5000), '0a 00 00 04  00 00 13 88');
  eq(w.encodeError(7), '03 00 00 02  00 07');
  eq(w.encodeError(11), '03 00 00 02  00 0b');
  eq(w.encodeGoodbye(3), '07 00 00 01  03');
});

test('PROBE is type 0x0B with a 4-byte seq', () => {
  eq(w.encodeProbe(7), '0b 00 00 04  00 00 00 07');
  const d = new w.FrameDecoder();
  const [f] = d.push(w.encodeProbe(0xfffffffe));
  assert.equal(f.type, w.FrameType.PROBE);
  assert.equal(w.parseU32(f.payload), 0xfffffffe);
  assert.deepEqual(w.payloadBounds(w.FrameType.PROBE), [4, 4]);
});

test('HELLO with the answers-probes flag, and the layout round trip', () => {
  const h = w.encodeHello({ id: 'sensor-17', intervalMs: 50, credential: 'tok', flags: w.HelloFlags.V2 | w.HelloFlags.ANSWERS_PROBES });
  assert.equal(h[7], 0x03);
  const [f] = new w.FrameDecoder().push(h);
  const p = w.parseHello(f.payload);
  assert.equal(w.toText(p.id), 'sensor-17');
  assert.equal(w.toText(p.credential), 'tok');
  assert.equal(p.intervalMs, 50);
  assert.equal(p.flags, 3);
  assert.throws(() => w.encodeHello({ id: '' }), RangeError);
  assert.throws(() => w.encodeHello({ id: 'x'.repeat(256) }), RangeError);
  assert.throws(() => w.encodeHello({ id: 'x', credential: new Uint8Array(4097) }), RangeError);
});

test('parsers check exact layouts', () => {
  const welcome = (s) => w.parseWelcome(hex(s));
  assert.deepEqual(welcome('01 03 00 00 03 e8'), { version: 1, misses: 3, intervalMs: 1000 });
  assert.deepEqual(welcome('02 03 00 00 03 e8 00 00 01 f4 00 01 00 00 00'), {
    version: 2, misses: 3, intervalMs: 1000, graceMs: 500, maxFrame: 65536, detection: 0,
  });
  assert.deepEqual(welcome('03 03 00 00 03 e8'), { error: 'unsupported_version' });
  assert.deepEqual(welcome('01 00 00 00 03 e8'), { error: 'protocol_error' }); // misses 0
  assert.deepEqual(welcome('01 03 00 00 00 00'), { error: 'protocol_error' }); // interval 0
  assert.deepEqual(welcome('02 03 00 00 03 e8'), { error: 'protocol_error' }); // v2 in 6 bytes
  assert.deepEqual(welcome('02 03 00 00 03 e8 00 00 01 f4 00 01 00 00 02'), { error: 'protocol_error' }); // detection 2
  assert.deepEqual(w.parseError(hex('00 03 6e 6f')), { code: 3, name: 'auth_failed', message: 'no' });
  assert.equal(w.parseError(hex('00 63')).name, 'rejected'); // an unknown code: a generic refusal (R26)
  assert.deepEqual(w.parseEcho(hex('00 00 00 01 00 13 12 d0'), 2), { seq: 1, stamp: 1250000 });
  assert.equal(w.parseEcho(hex('00 00 00 01'), 2), null);
  assert.equal(w.parseEcho(hex('00 00 00 01 00 13 12 d0'), 1), null);
  assert.equal(w.parseTerms(hex('00 01 00 00 00 07 d0 00 00 01 f4')), null); // misses 0
  assert.deepEqual(w.parseBeat(hex('00 00 00 02 00 13 12 d0 00 0f 41 78')), { seq: 2, stamp: 1250000, heldUs: 999800 });
  for (const [name, code] of Object.entries(w.ErrorCode)) assert.equal(w.errorCodeName(code), name);
});

// A stream of several frames, some empty, one large.
function stream() {
  const parts = [
    w.encodeWelcome({ version: 2, misses: 3, intervalMs: 100, graceMs: 0, maxFrame: 65536 }),
    w.encodeEcho(1, 99),
    w.encodeData(new Uint8Array(0)),
    w.encodeData(Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff)),
    w.encodeTerms({ id: 1, misses: 2, intervalMs: 200 }),
    w.encodeProbe(5),
    w.encodeData('héllo'),
    w.encodeGoodbye(3),
  ];
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return { parts, all };
}

const summary = (frames) => frames.map((f) => [f.type, [...f.payload]]);

test('decoder: the same frames whatever the split (every single cut, bytes one by one, random chunks)', () => {
  const { parts, all } = stream();
  const expected = summary(parts.map((p) => new w.FrameDecoder().push(p)[0]));
  assert.deepEqual(summary(new w.FrameDecoder().push(all)), expected);
  for (let cut = 0; cut <= all.length; cut++) {
    const d = new w.FrameDecoder();
    const got = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))];
    assert.deepEqual(summary(got), expected, `cut at ${cut}`);
    assert.equal(d.midFrame, false);
  }
  const d = new w.FrameDecoder();
  const one = [];
  for (const b of all) one.push(...d.push(Uint8Array.of(b)));
  assert.deepEqual(summary(one), expected);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let round = 0; round < 200; round++) {
    const dec = new w.FrameDecoder();
    const got = [];
    for (let i = 0; i < all.length; ) {
      const n = 1 + Math.floor(rand() * 64);
      got.push(...dec.push(all.slice(i, i + n))); // copies: frames must not alias the caller's chunk after it is reused
      i += n;
    }
    assert.deepEqual(summary(got), expected);
  }
});

test('decoder: midFrame while a frame is incomplete', () => {
  const d = new w.FrameDecoder();
  const f = w.encodeData('abcdef');
  assert.deepEqual(d.push(f.subarray(0, 2)), []);
  assert.equal(d.midFrame, true);
  assert.deepEqual(d.push(f.subarray(2, 7)), []);
  assert.equal(d.midFrame, true);
  assert.equal(d.push(f.subarray(7)).length, 1);
  assert.equal(d.midFrame, false);
});

test('decoder R1: type, then max_frame, then the type sizes, at the header before any payload', () => {
  const fail = (bytes, maxFrame = 65536) => {
    const d = new w.FrameDecoder(maxFrame);
    const frames = d.push(hex(bytes));
    return { error: d.error, frames: frames.length };
  };
  assert.deepEqual(fail('0c 00 00 04'), { error: 'unknown_frame_type', frames: 0 });
  assert.deepEqual(fail('00 00 00 00'), { error: 'unknown_frame_type', frames: 0 });
  assert.deepEqual(fail('01 ff ff ff'), { error: 'frame_too_large', frames: 0 }); // HELLO of 0xFFFFFF
  assert.deepEqual(fail('01 00 13 88'), { error: 'protocol_error', frames: 0 }); // HELLO of 5,000
  assert.deepEqual(fail('06 ff ff ff'), { error: 'frame_too_large', frames: 0 });
  assert.deepEqual(fail('06 00 00 11', 16), { error: 'frame_too_large', frames: 0 });
  assert.deepEqual(fail('06 00 00 10', 16), { error: null, frames: 0 });
  assert.deepEqual(fail('05 00 00 09'), { error: 'protocol_error', frames: 0 }); // ECHO of 9 (either version's sizes: 4 to 8)
  assert.deepEqual(fail('07 00 00 00'), { error: 'protocol_error', frames: 0 }); // GOODBYE of 0
  assert.deepEqual(fail('0b 00 00 08'), { error: 'protocol_error', frames: 0 }); // PROBE of 8
  // The header is judged as soon as its 4 bytes are in, split or not.
  const d = new w.FrameDecoder();
  d.push(hex('06 ff'));
  assert.equal(d.error, null);
  d.push(hex('ff'));
  assert.equal(d.error, null);
  d.push(hex('ff'));
  assert.equal(d.error, 'frame_too_large');
  // Frames before the bad header are delivered; the decoder stays failed.
  const e = new w.FrameDecoder();
  const got = e.push(Uint8Array.of(...w.encodeBeat(1), ...hex('0c 00 00 00')));
  assert.equal(got.length, 1);
  assert.equal(e.error, 'unknown_frame_type');
  assert.deepEqual(e.push(w.encodeBeat(2)), []);
});

test('decoder: a version 1 session knows types 1 to 7 only', () => {
  const d = new w.FrameDecoder();
  d.limitTypes(w.LAST_V1_FRAME_TYPE);
  assert.equal(d.push(w.encodeTerms({ id: 1, misses: 3, intervalMs: 100 })).length, 0);
  assert.equal(d.error, 'unknown_frame_type');
});

test('toBytes: strings as UTF-8, views, buffers', () => {
  assert.deepEqual([...w.toBytes('é')], [0xc3, 0xa9]);
  const buf = new Uint8Array([1, 2, 3, 4]).buffer;
  assert.deepEqual([...w.toBytes(buf)], [1, 2, 3, 4]);
  assert.deepEqual([...w.toBytes(new DataView(buf, 1, 2))], [2, 3]);
  assert.throws(() => w.toBytes(42), TypeError);
});
