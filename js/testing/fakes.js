// A fake clock with timers, and a fake WebSocket the test plays the server
// through: the driver tests run at exact instants, without sockets.

export class FakeTime {
  constructor() {
    this.now = 0;
    this._timers = new Map();
    this._next = 1;
    this.clock = () => this.now;
    this.timers = {
      setTimeout: (f, ms) => {
        const id = this._next++;
        this._timers.set(id, { at: this.now + Math.max(0, ms), f, id });
        return id;
      },
      clearTimeout: (id) => this._timers.delete(id),
    };
  }

  /** Pending timer instants, earliest first. */
  get pending() {
    return [...this._timers.values()].map((t) => t.at).sort((a, b) => a - b);
  }

  /** Runs every timer due up to `to`, in order, moving the clock to each. */
  advance(to) {
    for (;;) {
      let first = null;
      for (const t of this._timers.values()) if (t.at <= to && (first === null || t.at < first.at || (t.at === first.at && t.id < first.id))) first = t;
      if (!first) break;
      this._timers.delete(first.id);
      this.now = first.at;
      first.f();
    }
    this.now = to;
  }
}

export function fakeWebSocketClass() {
  class FakeWebSocket {
    static instances = [];
    constructor(url, protocols) {
      this.url = url;
      this.protocols = protocols;
      this.readyState = 0;
      this.protocol = '';
      this.binaryType = 'blob';
      this.bufferedAmount = 0;
      this.sent = [];
      this.closedWith = null;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      FakeWebSocket.instances.push(this);
    }
    static get last() {
      return FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
    }
    send(data) {
      if (this.readyState !== 1) throw new Error('not open');
      this.sent.push(Uint8Array.from(data));
    }
    close(code) {
      if (this.readyState >= 2) return;
      this.readyState = 2;
      this.closedWith = code ?? 1005;
    }
    // ---- the test's side ----
    accept(protocol = 'heartbeat') {
      this.readyState = 1;
      this.protocol = protocol;
      this.onopen?.({});
    }
    deliver(bytes) {
      const b = Uint8Array.from(bytes);
      this.onmessage?.({ data: b.buffer });
    }
    deliverText(text) {
      this.onmessage?.({ data: text });
    }
    serverClose(code = 1006) {
      this.readyState = 3;
      this.onclose?.({ code });
    }
    /** Everything sent so far, as one byte stream. */
    stream() {
      const n = this.sent.reduce((k, m) => k + m.length, 0);
      const all = new Uint8Array(n);
      let at = 0;
      for (const m of this.sent) {
        all.set(m, at);
        at += m.length;
      }
      return all;
    }
  }
  return FakeWebSocket;
}
