// The WebSocket driver on a fake clock and a fake WebSocket: connection,
// 16 KiB messages with beats ahead of queued DATA, reconnect pacing (full
// jitter with an injected random, RETRY_AFTER), refusals and the stops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeartbeatClient } from '../src/client.js';
import { backoffCap, defaultRetryPolicy, reconnectDefaults, reconnectDelay } from '../src/backoff.js';
import { TICK_MS } from '../src/session.js';
import * as w from '../src/wire.js';
import { FakeTime, fakeWebSocketClass } from '../testing/fakes.js';

function setup(options = {}) {
  const time = new FakeTime();
  const WS = fakeWebSocketClass();
  const ev = { online: [], lost: [], refused: [], failed: [], messages: [], reconnecting: [], gaveUp: [], terms: [], closed: 0 };
  const c = new HeartbeatClient({
    url: 'ws://server/',
    id: 'ab',
    token: 'k',
    interval: 100,
    WebSocket: WS,
    clock: time.clock,
    timers: time.timers,
    random: () => 0.5,
    onOnline: (t) => ev.online.push(t),
    onLost: (e) => ev.lost.push(e.code),
    onRefused: (e) => ev.refused.push(e),
    onAttemptFailed: (e, n) => ev.failed.push([e.code, n]),
    onMessage: (b) => ev.messages.push(w.toText(b)),
    onReconnecting: (n, d) => ev.reconnecting.push([n, d]),
    onGaveUp: (e, n) => ev.gaveUp.push([e.code, n]),
    onTerms: (t) => ev.terms.push(t),
    onClosed: () => ev.closed++,
    ...options,
  });
  return { c, time, WS, ev };
}

const frames = (bytes) => new w.FrameDecoder(1 << 24).push(bytes);
const welcome = (o = {}) => w.encodeWelcome({ version: 2, misses: 3, intervalMs: 100, ...o });

test('connects with the subprotocol heartbeat and arraybuffers, says HELLO, goes online, acks terms 0, beats on time', () => {
  const { c, time, WS, ev } = setup();
  c.start();
  const ws = WS.last;
  assert.deepEqual(ws.protocols, ['heartbeat']);
  assert.equal(ws.binaryType, 'arraybuffer');
  assert.equal(c.state, 'connecting');
  time.advance(5);
  ws.accept();
  assert.deepEqual([...ws.sent[0]], [...w.encodeHello({ id: 'ab', credential: 'k', intervalMs: 100, flags: 3 })]);
  ws.deliver(welcome());
  assert.equal(c.online, true);
  assert.equal(ev.online.length, 1);
  assert.deepEqual([...ws.sent[1]], [...w.encodeTermsAck(0, 65536)]);
  time.advance(104.999);
  assert.equal(ws.sent.length, 2);
  time.advance(105);
  assert.deepEqual([...ws.sent[2]], [...w.encodeBeat(1)]);
  ws.deliver(w.encodeEcho(1, 10));
  time.advance(105.5);
  ws.deliver(w.encodeData('pushed'));
  assert.deepEqual(ev.messages, ['pushed']);
  assert.equal(c.rtt, 0);
  time.advance(205);
  assert.equal(frames(ws.sent[3])[0].payload.length, 12); // returns the stamp
});

test('messages are at most 16 KiB, a BEAT waits only for the frame already started, then goes ahead of queued DATA', () => {
  const { c, time, WS } = setup();
  c.start();
  const ws = WS.last;
  ws.accept();
  ws.deliver(welcome());
  ws.sent = [];
  const big = new Uint8Array(40000).fill(7);
  ws.bufferedAmount = 0;
  // The first message goes at once; then the buffer is "full".
  const realSend = ws.send.bind(ws);
  ws.send = (m) => {
    realSend(m);
    ws.bufferedAmount = 20000;
  };
  assert.equal(c.send(big), true);
  assert.equal(c.send('second'), true);
  assert.equal(ws.sent.length, 1);
  assert.equal(ws.sent[0].length, 16384);
  time.advance(100); // the beat falls due behind the started frame
  assert.equal(ws.sent.length, 1);
  ws.bufferedAmount = 0;
  ws.send = (m) => realSend(m);
  time.advance(106); // the drain poll
  for (const m of ws.sent) assert.ok(m.length <= 16384);
  const got = frames(ws.stream());
  assert.deepEqual(got.map((f) => f.type), [w.FrameType.DATA, w.FrameType.BEAT, w.FrameType.DATA]);
  assert.equal(got[0].payload.length, 40000);
  assert.equal(w.toText(got[2].payload), 'second');
  // The beat is timed from when it went out (the drain poll at 105), not
  // from when it fell due (100).
  ws.deliver(w.encodeEcho(1, 1));
  assert.equal(c.lastRtt, 1);
});

test('full jitter: the n-th retry waits random * min(max, base * 2^n); onReconnecting says so; a WELCOME resets n', () => {
  const { c, time, WS, ev } = setup({ reconnect: { base: 100, max: 1000 } });
  c.start();
  const delays = [];
  for (let i = 0; i < 6; i++) {
    WS.last.serverClose(1006); // never opened
    delays.push(ev.reconnecting[i][1]);
    time.advance(time.pending[0]);
  }
  assert.deepEqual(delays, [50, 100, 200, 400, 500, 500]);
  assert.deepEqual(ev.failed.map((f) => f[1]), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(ev.lost, []);
  WS.last.accept();
  WS.last.deliver(welcome());
  WS.last.serverClose(1006);
  assert.deepEqual(ev.lost, ['disconnected']);
  assert.deepEqual(ev.reconnecting.at(-1), [1, 50]);
});

test('watchdog: lost one tick after the third unanswered beat fell due, then a reconnect', () => {
  const { c, time, WS, ev } = setup();
  c.start();
  WS.last.accept();
  WS.last.deliver(welcome());
  time.advance(400);
  assert.deepEqual(ev.lost, []);
  time.advance(400 + TICK_MS);
  assert.deepEqual(ev.lost, ['peer_lost']);
  assert.equal(WS.last.closedWith, 1000);
  assert.equal(c.state, 'waiting');
  time.advance(400 + TICK_MS + 50);
  assert.equal(WS.instances.length, 2);
});

test('auth_failed: reported once with its reason, then the client gives up without retrying', () => {
  const { c, WS, ev } = setup();
  c.start();
  WS.last.accept();
  WS.last.deliver(w.encodeError(3, 'bad token'));
  assert.equal(ev.refused.length, 1);
  assert.equal(ev.refused[0].code, 'auth_failed');
  assert.equal(ev.refused[0].serverMessage, 'bad token');
  assert.deepEqual(ev.gaveUp, [['auth_failed', 1]]);
  assert.deepEqual(ev.reconnecting, []);
  assert.equal(c.state, 'stopped');
  assert.equal(ev.closed, 1);
  assert.equal(WS.instances.length, 1);
  for (const code of [8, 2]) {
    const s = setup();
    s.c.start();
    s.WS.last.accept();
    s.WS.last.deliver(w.encodeError(code));
    assert.equal(s.c.state, 'stopped', `code ${code}`);
  }
});

test('kicked with auth_failed mid-session (a revoked token) stops too; kicked with GOODBYE 3 retries', () => {
  const a = setup();
  a.c.start();
  a.WS.last.accept();
  a.WS.last.deliver(welcome());
  a.WS.last.deliver(w.encodeError(3));
  assert.deepEqual(a.ev.lost, ['auth_failed']);
  assert.equal(a.c.state, 'stopped');
  const b = setup();
  b.c.start();
  b.WS.last.accept();
  b.WS.last.deliver(welcome());
  b.WS.last.deliver(w.encodeGoodbye(3));
  assert.deepEqual(b.ev.lost, ['kicked']);
  assert.equal(b.c.state, 'waiting');
});

test('RETRY_AFTER: delay = max(backoff, retry_after), retry_after capped at retryAfterMax', () => {
  const { c, WS, ev } = setup();
  c.start();
  WS.last.accept();
  WS.last.deliver([...w.encodeRetryAfter(5000), ...w.encodeError(7)]);
  assert.equal(ev.refused[0].code, 'server_full');
  assert.equal(ev.refused[0].retryAfter, 5000);
  assert.deepEqual(ev.reconnecting, [[1, 5000]]);
  const capped = setup({ reconnect: { retryAfterMax: 2000 } });
  capped.c.start();
  capped.WS.last.accept();
  capped.WS.last.deliver([...w.encodeRetryAfter(60000), ...w.encodeError(7)]);
  assert.deepEqual(capped.ev.reconnecting, [[1, 2000]]);
});

test('a custom retry policy decides; reconnect:false stops on the first failure', () => {
  const p = setup({ reconnect: { policy: (e, n) => (e.code === 'auth_failed' && n < 2 ? 'retry' : 'stop') } });
  p.c.start();
  p.WS.last.accept();
  p.WS.last.deliver(w.encodeError(3));
  assert.equal(p.c.state, 'waiting');
  const off = setup({ reconnect: false });
  off.c.start();
  off.WS.last.serverClose();
  assert.equal(off.c.state, 'stopped');
  assert.deepEqual(off.ev.gaveUp, [['disconnected', 1]]);
});

test('leave(): GOODBYE 0 as the last frame, the WebSocket closed, resolved once the server closes; no reconnect', async () => {
  const { c, time, WS, ev } = setup();
  c.start();
  const ws = WS.last;
  ws.accept();
  ws.deliver(welcome());
  c.send('queued');
  const done = c.leave();
  assert.equal(c.state, 'leaving');
  assert.deepEqual([...ws.sent.at(-1)], [...w.encodeGoodbye(0)]);
  assert.equal(ws.closedWith, 1000);
  ws.serverClose(1000);
  await done;
  assert.equal(c.state, 'stopped');
  assert.deepEqual(ev.lost, []);
  time.advance(10_000);
  assert.equal(WS.instances.length, 1);
});

test('leave(): done at closeTimeout if the server never closes', async () => {
  const { c, time, WS } = setup({ closeTimeout: 300 });
  c.start();
  WS.last.accept();
  WS.last.deliver(welcome());
  const done = c.leave();
  time.advance(299);
  assert.equal(c.state, 'leaving');
  time.advance(300);
  await done;
  assert.equal(c.state, 'stopped');
});

test('close(): no GOODBYE, stopped at once', () => {
  const { c, WS } = setup();
  c.start();
  WS.last.accept();
  WS.last.deliver(welcome());
  const before = WS.last.sent.length;
  c.close();
  assert.equal(WS.last.sent.length, before);
  assert.equal(c.state, 'stopped');
  assert.equal(c.online, false);
});

test('a text message is protocol_error; a server that does not pick the subprotocol fails the attempt', () => {
  const t = setup();
  t.c.start();
  t.WS.last.accept();
  t.WS.last.deliver(welcome());
  t.WS.last.deliverText('hello');
  assert.deepEqual(t.ev.lost, ['protocol_error']);
  const p = setup();
  p.c.start();
  p.WS.last.accept('');
  assert.deepEqual(p.ev.failed, [['protocol_error', 1]]);
  assert.equal(p.WS.last.sent.length, 0);
});

test('a PROBE is answered at once with a BEAT; the schedule stays', () => {
  const { c, time, WS } = setup();
  c.start();
  const ws = WS.last;
  ws.accept();
  ws.deliver(welcome());
  time.advance(30);
  ws.deliver(w.encodeProbe(1));
  assert.deepEqual([...ws.sent.at(-1)], [...w.encodeBeat(1)]);
  assert.equal(c.stats.probesAnswered, 1);
  time.advance(100);
  assert.deepEqual([...ws.sent.at(-1)], [...w.encodeBeat(2)]);
});

test('send(): false unless online, message_too_large past the limit; handlers that throw do not break the client', () => {
  const errors = [];
  const { c, WS } = setup({
    onMessage: () => {
      throw new Error('handler bug');
    },
    onError: (e, where) => errors.push([e.message, where]),
  });
  assert.equal(c.send('x'), false);
  c.start();
  WS.last.accept();
  WS.last.deliver(welcome({ maxFrame: 10 }));
  assert.throws(() => c.send('x'.repeat(11)), (e) => e.code === 'message_too_large');
  WS.last.deliver(w.encodeData('boom'));
  WS.last.deliver(w.encodeData('again'));
  assert.deepEqual(errors, [['handler bug', 'onMessage'], ['handler bug', 'onMessage']]);
  assert.equal(c.online, true);
});

test('backoff: caps and bounds', () => {
  const o = { ...reconnectDefaults, base: 100, max: 10_000 };
  assert.deepEqual([0, 1, 2, 6, 7, 100, 5000].map((n) => backoffCap(n, o)), [100, 200, 400, 6400, 10000, 10000, 10000]);
  for (let n = 0; n < 20; n++) {
    assert.equal(reconnectDelay(n, o, () => 0), 0);
    const hi = reconnectDelay(n, o, () => 1 - Number.EPSILON);
    assert.ok(hi < backoffCap(n, o) && hi > backoffCap(n, o) * 0.999);
  }
  assert.equal(reconnectDelay(0, o, () => 0.5, 5000), 5000);
  assert.equal(reconnectDelay(20, o, () => 0.9, 5000), 9000);
  assert.equal(reconnectDelay(0, { ...o, retryAfterMax: 1000 }, () => 0, 99_999), 1000);
  assert.equal(defaultRetryPolicy({ code: 'auth_failed' }), 'stop');
  assert.equal(defaultRetryPolicy({ code: 'bad_id' }), 'stop');
  assert.equal(defaultRetryPolicy({ code: 'unsupported_version' }), 'stop');
  for (const code of ['server_full', 'unacceptable_terms', 'peer_lost', 'kicked', 'duplicate_id', 'disconnected'])
    assert.equal(defaultRetryPolicy({ code }), 'retry');
});
