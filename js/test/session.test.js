// The session machine on a fake clock: every rule a client must keep
// (docs/PROTOCOL.md R8-R14, R26-R27, R30-R34, and PROBE) at exact instants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientSession, TICK_MS } from '../src/session.js';
import * as w from '../src/wire.js';

const hex = (s) => Uint8Array.from(s.trim().split(/\s+/).map((b) => parseInt(b, 16)));

// A driver of the machine that writes at once: a BEAT goes out the instant
// it is queued (unless `hold` is set), timers are recorded, not run.
function harness(options = {}) {
  const s = new ClientSession({ id: 'ab', credential: 'k', interval: 100, ...options });
  const h = {
    s,
    now: 0,
    out: [], // every write, in order: {bytes, urgent, beat}
    delivered: [],
    events: [],
    timer: null,
    finished: null,
    closeAfter: null,
    hold: false,
    held: [],
  };
  h.drain = () => {
    for (let actions = s.takeActions(); actions.length; actions = s.takeActions()) {
      for (const a of actions) {
        switch (a.type) {
          case 'write':
            h.out.push(a);
            if (a.beat !== undefined) {
              if (h.hold) h.held.push(a.beat);
              else s.beatWritten(a.beat, h.now);
            }
            break;
          case 'closeAfter':
            h.closeAfter = a.bytes;
            break;
          case 'deliver':
            h.delivered.push(w.toText(a.bytes));
            break;
          case 'online':
          case 'terms':
            h.events.push([a.type, a.terms]);
            break;
          case 'timer':
            h.timer = a.at;
            break;
          case 'finish':
            h.finished = a;
            break;
        }
      }
    }
    return h;
  };
  h.at = (t) => {
    h.now = t;
    return h;
  };
  h.start = (t = 0) => (s.start(h.at(t).now), h.drain());
  h.feed = (bytes, t = h.now) => (s.receive(bytes, h.at(t).now), h.drain());
  // Runs the timer: fires at its instant (or `t`) until `until`.
  h.fire = (t) => (s.timerFired(h.at(t).now), h.drain());
  h.runUntil = (until) => {
    while (h.timer !== null && h.timer <= until && !h.finished) h.fire(h.timer);
    h.now = until;
    return h;
  };
  h.take = () => {
    const o = h.out;
    h.out = [];
    return o;
  };
  h.welcome = (t = 0, terms = {}) =>
    h.feed(w.encodeWelcome({ version: 2, misses: 3, intervalMs: 100, graceMs: 0, maxFrame: 65536, ...terms }), t);
  return h;
}

const beatsOf = (writes) => writes.filter((a) => a.beat !== undefined).map((a) => a.beat);

test('start: HELLO with flags v2 | answers-probes, and the hello deadline', () => {
  const h = harness({ interval: 1000 }).start(0);
  assert.deepEqual([...h.out[0].bytes], [...hex('01 00 00 0e  48 42 01 03  00 00 03 e8  02 61 62  00 01 6b')]);
  assert.equal(h.timer, 5000);
  assert.equal(harness({ answerProbes: false }).start().out[0].bytes[7], 0x01);
  assert.equal(harness({ maxVersion: 1 }).start().out[0].bytes[7], 0x00);
});

test('R8: hello timeout exactly at the deadline, not a tick before', () => {
  const h = harness().start(0);
  h.fire(5000 - TICK_MS);
  assert.equal(h.finished, null);
  assert.equal(h.timer, 5000);
  h.fire(5000);
  assert.equal(h.finished.error.code, 'hello_timeout');
  assert.equal(h.finished.welcomed, false);
});

test('R8: before WELCOME only WELCOME, ERROR and RETRY_AFTER', () => {
  for (const f of [w.encodeEcho(1), w.encodeData('x'), w.encodeGoodbye(0), w.encodeProbe(1), w.encodeTerms({ id: 1, misses: 3, intervalMs: 100 })]) {
    const h = harness().start().feed(f);
    assert.equal(h.finished.error.code, 'protocol_error');
    assert.equal(h.out.length, 1); // HELLO only: a client that ends on an error sends no frame
  }
});

test('R8: terms outside the client bounds are unacceptable_terms', () => {
  for (const [misses, intervalMs] of [[3, 5], [3, 600001], [255, 60000]]) {
    const h = harness().start().feed(w.encodeWelcome({ version: 2, misses, intervalMs }));
    assert.equal(h.finished.error.code, 'unacceptable_terms', `${misses} x ${intervalMs}`);
  }
  const ok = harness().start().feed(w.encodeWelcome({ version: 2, misses: 6, intervalMs: 600000 }));
  assert.equal(ok.finished, null);
  const own = harness({ minInterval: 50 }).start().feed(w.encodeWelcome({ version: 2, misses: 3, intervalMs: 40 }));
  assert.equal(own.finished.error.code, 'unacceptable_terms');
});

test('WELCOME v2: online with the full terms, TERMS_ACK 0 at once, urgent, with our max_frame', () => {
  const h = harness({ maxFrame: 1000 }).start(0);
  h.take();
  h.feed(w.encodeWelcome({ version: 2, misses: 4, intervalMs: 250, graceMs: 500, maxFrame: 32768, detection: 1 }), 10);
  assert.deepEqual(h.events, [['online', { version: 2, id: 0, interval: 250, misses: 4, grace: 500, maxFrame: 32768, detection: 'adaptive' }]]);
  const [ack] = h.take();
  assert.equal(ack.urgent, true);
  assert.deepEqual([...ack.bytes], [...hex('09 00 00 06  00 00  00 00 03 e8')]);
  assert.equal(h.timer, 260); // R11: the first BEAT one interval after WELCOME
  assert.equal(h.s.sendLimit, 32768);
});

test('WELCOME v1: version 1, no TERMS_ACK, 4-byte beats, types above 7 unknown', () => {
  const h = harness().start(0);
  h.take();
  h.feed(w.encodeWelcome({ version: 1, misses: 3, intervalMs: 100 }), 0);
  assert.equal(h.s.version, 1);
  assert.deepEqual(h.events[0][1], { version: 1, id: 0, interval: 100, misses: 3, grace: null, maxFrame: null, detection: null });
  assert.deepEqual(h.take(), []);
  h.fire(100);
  assert.deepEqual([...h.take()[0].bytes], [...w.encodeBeat(1)]);
  h.feed(w.encodeEcho(1), 101);
  h.fire(200);
  assert.equal(h.take()[0].bytes.length, 8); // a v1 BEAT returns no stamp
  h.feed(w.encodeProbe(1));
  assert.equal(h.finished.error.code, 'unknown_frame_type');
});

test('a version 1 client refuses a version 2 WELCOME', () => {
  const h = harness({ maxVersion: 1 }).start().welcome();
  assert.equal(h.finished.error.code, 'unsupported_version');
});

test('R11, R31: BEATs every interval from seq 1; a v2 BEAT returns the newest stamp with held_us, once', () => {
  const h = harness({ interval: 1000 }).start(0);
  h.feed(w.encodeWelcome({ version: 2, misses: 3, intervalMs: 1000, graceMs: 500 }), 0);
  h.take();
  h.fire(1000);
  assert.deepEqual([...h.take()[0].bytes], [...hex('04 00 00 04  00 00 00 01')]);
  h.feed(w.encodeEcho(1, 1250000), 1000.2);
  assert.equal(h.timer, 2000);
  h.fire(2000);
  // The worked example: queued 999,800 µs after the echo was read.
  assert.deepEqual([...h.take()[0].bytes], [...hex('04 00 00 0c  00 00 00 02  00 13 12 d0  00 0f 41 78')]);
  h.fire(3000); // no echo since: 4 bytes again
  assert.deepEqual([...h.take()[0].bytes], [...hex('04 00 00 04  00 00 00 03')]);
});

test('R14: lost the first tick after the N-th unanswered beat fell due (beats at 102, 202, 302: lost at 402 + 1 tick)', () => {
  const h = harness().start(0).welcome(2);
  h.runUntil(400);
  assert.deepEqual(beatsOf(h.take()), [1, 2, 3]);
  assert.equal(h.s.unanswered, 3);
  h.fire(402); // beat 4 falls due at the same instant; the server is not lost yet
  assert.equal(h.finished, null);
  assert.equal(h.timer, 402 + TICK_MS);
  h.fire(402 + TICK_MS);
  assert.equal(h.finished.error.code, 'peer_lost');
  assert.equal(h.finished.welcomed, true);
});

test('R14: the watchdog counts from the write, not from the queueing', () => {
  const h = harness().start(0).welcome(0, { misses: 1 });
  h.hold = true;
  h.fire(100); // beat 1 queued at 100, written at 150
  h.hold = false;
  h.s.beatWritten(h.held.pop(), h.at(150).now);
  h.drain();
  assert.equal(h.timer, 200); // the next beat; the watchdog at 250 + 1 tick
  h.fire(200);
  h.fire(250);
  assert.equal(h.finished, null);
  assert.equal(h.timer, 250 + TICK_MS);
  h.fire(250 + TICK_MS);
  assert.equal(h.finished.error.code, 'peer_lost');
});

test('R12: an ECHO answers its beat and older ones, never a newer one; an ECHO of a beat never sent is protocol_error', () => {
  const h = harness().start(0).welcome(0);
  h.runUntil(300); // beats 1, 2, 3 at 100, 200, 300
  h.feed(w.encodeEcho(1, 5), 301); // late echo of beat 1 excuses nothing newer
  assert.equal(h.s.unanswered, 2);
  h.runUntil(500);
  // unanswered 2, 3, 4 (at 200, 300, 400): lost one tick after 400 + 100
  h.fire(500 + TICK_MS);
  assert.equal(h.finished.error.code, 'peer_lost');

  const g = harness().start(0).welcome(0);
  g.runUntil(100);
  g.feed(w.encodeEcho(2, 5), 101);
  assert.equal(g.finished.error.code, 'protocol_error');
  const n = harness().start(0).welcome(0);
  n.feed(w.encodeEcho(0, 5), 50); // before any beat
  assert.equal(n.finished.error.code, 'protocol_error');
});

test('R13: any other frame, or a read that ends inside a frame, answers every beat', () => {
  const h = harness().start(0).welcome(0);
  h.runUntil(300);
  assert.equal(h.s.unanswered, 3);
  h.feed(w.encodeData('hi'), 350);
  assert.equal(h.s.unanswered, 0);
  assert.deepEqual(h.delivered, ['hi']);
  h.runUntil(600);
  assert.equal(h.s.unanswered, 3);
  h.feed(w.encodeData('long message').subarray(0, 6), 650); // mid-frame
  assert.equal(h.s.unanswered, 0);
  h.runUntil(900);
  h.feed(w.encodeEcho(9).subarray(0, 2), 950); // even an ECHO's first bytes: the server is talking
  assert.equal(h.s.unanswered, 0);
});

test('RTT: samples from the write to the ECHO, smoothed as RFC 6298 does', () => {
  const h = harness().start(0).welcome(0);
  const samples = [8, 16, 4, 12];
  let srtt = null;
  let rttvar = null;
  for (let i = 0; i < samples.length; i++) {
    const t = 100 * (i + 1);
    h.fire(t);
    h.feed(w.encodeEcho(i + 1, 1), t + samples[i]);
    const s = samples[i];
    if (srtt === null) [srtt, rttvar] = [s, s / 2];
    else {
      rttvar += (Math.abs(s - srtt) - rttvar) / 4;
      srtt += (s - srtt) / 8;
    }
    assert.equal(h.s.lastRtt, s);
    assert.ok(Math.abs(h.s.rtt - srtt) < 1e-9);
    assert.ok(Math.abs(h.s.rttVariation - rttvar) < 1e-9);
  }
  assert.equal(h.s.rtt, 8 + (16 - 8) / 8 + (4 - 9) / 8 + (12 - (9 - 5 / 8)) / 8);
});

test('TERMS: adopted at once, TERMS_ACK n urgent ahead of queued DATA, next beat at the earlier of the one due and one new interval', () => {
  const h = harness({ interval: 1000 }).start(0);
  h.feed(w.encodeWelcome({ version: 2, misses: 3, intervalMs: 1000 }), 0);
  h.take();
  h.s.send('queued');
  h.feed(w.encodeTerms({ id: 1, misses: 2, intervalMs: 200, graceMs: 50 }), 300);
  const [data, ack] = h.take();
  assert.equal(data.urgent, false);
  assert.equal(ack.urgent, true);
  assert.deepEqual([...ack.bytes], [...hex('09 00 00 06  00 01  00 01 00 00')]);
  assert.deepEqual(h.events[1], ['terms', { version: 2, id: 1, interval: 200, misses: 2, grace: 50, maxFrame: 65536, detection: 'fixed' }]);
  assert.equal(h.timer, 500); // min(1000, 300 + 200)
  h.runUntil(700);
  assert.deepEqual(beatsOf(h.take()), [1, 2]); // at 500 and 700
  // The watchdog uses the new terms: 2 misses of 200 ms.
  h.fire(900 + TICK_MS);
  assert.equal(h.finished.error.code, 'peer_lost');

  const longer = harness().start(0).welcome(0);
  longer.feed(w.encodeTerms({ id: 1, misses: 3, intervalMs: 5000 }), 50);
  assert.equal(longer.timer, 100); // the beat already due stays
  const bad = harness().start(0).welcome(0);
  bad.feed(w.encodeTerms({ id: 1, misses: 3, intervalMs: 5 }), 50);
  assert.equal(bad.finished.error.code, 'unacceptable_terms');
});

test('PROBE: answered at once with a BEAT (next seq, urgent, ahead of DATA), the schedule unmoved, and it counts as traffic', () => {
  const h = harness().start(0).welcome(0);
  h.runUntil(200); // beats 1, 2
  h.take();
  h.feed(w.encodeEcho(2, 77), 210);
  h.s.send('data');
  h.feed(w.encodeProbe(1), 250);
  const [data, beat] = h.take();
  assert.equal(data.urgent, false);
  assert.equal(beat.urgent, true);
  assert.equal(beat.beat, 3);
  // It is a BEAT like any other: it returns the newest stamp (held 40 ms).
  assert.deepEqual([...beat.bytes], [...w.encodeBeat(3, { stamp: 77, heldUs: 40000 })]);
  assert.equal(h.timer, 300); // the regular beat is still due at 300
  h.fire(300);
  assert.deepEqual(beatsOf(h.take()), [4]);
  assert.equal(h.s.probesAnswered, 1);
});

test('PROBE: a probe keeps the watchdog quiet, as traffic (R13)', () => {
  const h = harness().start(0).welcome(0);
  h.runUntil(300);
  assert.equal(h.s.unanswered, 3);
  h.feed(w.encodeProbe(1), 350);
  // the probe answered every beat; its own BEAT (4) is the only one owed
  assert.equal(h.s.unanswered, 1);
  h.runUntil(600);
  assert.equal(h.finished, null);
});

test('PROBE: with a beat queued and not yet written, that beat answers it', () => {
  const h = harness().start(0).welcome(0);
  h.hold = true;
  h.fire(100);
  h.take();
  h.feed(w.encodeProbe(1), 120);
  assert.deepEqual(h.take(), []);
  h.s.beatWritten(1, 130);
  h.hold = false;
  h.feed(w.encodeProbe(2), 140);
  assert.deepEqual(beatsOf(h.take()), [2]);
});

test('PROBE: protocol_error to a client that does not answer probes, and ignored while leaving', () => {
  const h = harness({ answerProbes: false }).start(0).welcome(0);
  h.feed(w.encodeProbe(1), 10);
  assert.equal(h.finished.error.code, 'protocol_error');
  const l = harness().start(0).welcome(0);
  l.s.leave(l.at(10).now);
  l.drain();
  l.take();
  l.feed(w.encodeProbe(1), 20);
  assert.equal(l.finished, null);
  assert.deepEqual(l.take(), []);
});

test('R34: RETRY_AFTER then ERROR 7 is server_full with the wait; anything else after it is protocol_error', () => {
  const h = harness().start(0);
  h.feed(Uint8Array.of(...w.encodeRetryAfter(5000), ...hex('03 00 00 0d 00 07'), ...new TextEncoder().encode('server full')));
  const e = h.finished.error;
  assert.equal(e.code, 'server_full');
  assert.equal(e.wireCode, 7);
  assert.equal(e.retryAfter, 5000);
  assert.equal(e.serverMessage, 'server full');
  assert.equal(h.s.retryAfter, 5000);
  for (const next of [w.encodeWelcome({ version: 2, misses: 3, intervalMs: 100 }), w.encodeRetryAfter(1)]) {
    const g = harness().start(0).feed(w.encodeRetryAfter(5000)).feed(next);
    assert.equal(g.finished.error.code, 'protocol_error');
    assert.equal(g.finished.error.retryAfter, undefined);
  }
  const late = harness().start(0).welcome(0).feed(w.encodeRetryAfter(5000));
  assert.equal(late.finished.error.code, 'protocol_error');
  const v1 = harness({ maxVersion: 1 }).start(0).feed(w.encodeRetryAfter(5000));
  assert.equal(v1.finished.error.code, 'unknown_frame_type');
});

test('R26: ERROR codes by name, an unknown code is rejected; the server text is kept for logs', () => {
  const names = { 1: 'protocol_error', 2: 'unsupported_version', 3: 'auth_failed', 4: 'duplicate_id', 5: 'hello_timeout', 6: 'frame_too_large', 7: 'server_full', 8: 'bad_id', 9: 'shutting_down', 10: 'rate_limited', 11: 'timeout', 12: 'rejected', 999: 'rejected' };
  for (const [code, name] of Object.entries(names)) {
    const h = harness().start(0).feed(w.encodeError(Number(code), 'why'));
    assert.equal(h.finished.error.code, name);
    assert.equal(h.finished.error.wireCode, Number(code));
    assert.equal(h.finished.error.serverMessage, 'why');
    assert.equal(h.finished.welcomed, false);
  }
  const t = harness().start(0).welcome(0).feed(w.encodeError(11));
  assert.equal(t.finished.error.code, 'timeout');
  assert.equal(t.finished.welcomed, true);
});

test('R26: GOODBYE reasons: 0 and unknown peer_left, 1 shutting_down, 2 replaced, 3 kicked (version 1: left)', () => {
  for (const [r, name] of [[0, 'peer_left'], [1, 'shutting_down'], [2, 'replaced'], [3, 'kicked'], [9, 'peer_left']]) {
    const h = harness().start(0).welcome(0).feed(w.encodeGoodbye(r));
    assert.equal(h.finished.error.code, name);
  }
  const v1 = harness().start(0).feed(w.encodeWelcome({ version: 1, misses: 3, intervalMs: 100 })).feed(w.encodeGoodbye(3));
  assert.equal(v1.finished.error.code, 'peer_left');
});

test('R27: leave sends GOODBYE 0 as the last frame, dropping the queued beat; done on the server close or at close_timeout', () => {
  const h = harness().start(0).welcome(0);
  h.hold = true;
  h.fire(100); // a beat queued, not written
  h.s.leave(h.at(110).now);
  h.drain();
  assert.deepEqual([...h.closeAfter], [...w.encodeGoodbye(0)]);
  assert.equal(h.timer, 1110);
  h.s.beatWritten(1, 115); // dropped with the queue: never counted
  assert.equal(h.s.beatsSent, 0);
  h.feed(w.encodeTerms({ id: 1, misses: 3, intervalMs: 100 }), 120); // a leaving client ignores TERMS
  h.feed(w.encodeGoodbye(1), 130); // not an error while leaving
  assert.equal(h.finished.ending, 'left');
  assert.equal(h.finished.error, null);

  const t = harness().start(0).welcome(0);
  t.s.leave(t.at(10).now);
  t.drain();
  t.fire(1010 - TICK_MS);
  assert.equal(t.finished, null);
  t.fire(1010);
  assert.equal(t.finished.ending, 'left');

  const c = harness().start(0).welcome(0);
  c.s.leave(c.at(10).now);
  c.drain();
  c.s.transportClosed(c.at(20).now);
  c.drain();
  assert.equal(c.finished.ending, 'left');

  const early = harness().start(0); // leave() overtakes the handshake: a WELCOME then is no error
  early.s.leave(early.at(1).now);
  early.drain();
  early.welcome(2);
  assert.equal(early.finished, null);
});

test('the transport closing ends the session as disconnected', () => {
  const h = harness().start(0).welcome(0);
  h.s.transportClosed(h.at(50).now, 'close code 1006');
  h.drain();
  assert.equal(h.finished.ending, 'transport');
  assert.equal(h.finished.error.code, 'disconnected');
  assert.equal(h.finished.welcomed, true);
});

test('R17: DATA larger than max_frame is frame_too_large at the header; send holds to the smaller limit', () => {
  const h = harness({ maxFrame: 100 }).start(0).welcome(0, { maxFrame: 50 });
  assert.equal(h.s.send(new Uint8Array(50)), true);
  assert.throws(() => h.s.send(new Uint8Array(51)), (e) => e.code === 'message_too_large');
  h.feed(hex('06 00 00 65'), 10);
  assert.equal(h.finished.error.code, 'frame_too_large');
  assert.equal(h.s.send('late'), false);
  assert.equal(harness().start(0).s.send('early'), false);
  const own = harness({ peerMaxFrame: 10 }).start(0).welcome(0);
  assert.equal(own.s.sendLimit, 10);
});

test('R18: a frame a client never receives ends the session (HELLO, BEAT, second WELCOME, TERMS_ACK)', () => {
  for (const f of [w.encodeHello({ id: 'x' }), w.encodeBeat(1), w.encodeWelcome({ version: 2, misses: 3, intervalMs: 100 }), w.encodeTermsAck(0, 1)]) {
    const h = harness().start(0).welcome(0).feed(f, 10);
    assert.equal(h.finished.error.code, 'protocol_error');
  }
});

test('frames split anywhere reach the machine alike', () => {
  const frames = Uint8Array.of(
    ...w.encodeWelcome({ version: 2, misses: 3, intervalMs: 100 }),
    ...w.encodeData('one'),
    ...w.encodeTerms({ id: 1, misses: 3, intervalMs: 120 }),
    ...w.encodeData('two'),
  );
  for (let cut = 1; cut < frames.length; cut++) {
    const h = harness().start(0);
    h.feed(frames.subarray(0, cut), 1).feed(frames.subarray(cut), 2);
    assert.deepEqual(h.delivered, ['one', 'two']);
    assert.equal(h.s.interval, 120);
  }
});

test('an id out of bounds ends before HELLO as bad_id', () => {
  assert.equal(harness({ id: '' }).start().finished.error.code, 'bad_id');
  assert.equal(harness({ id: 'x'.repeat(256) }).start().finished.error.code, 'bad_id');
});
