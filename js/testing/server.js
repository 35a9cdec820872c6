// Runs the C++ heartbeat_ws_test_server for the integration tests: spawns
// it, reads its event lines, writes its commands, and kills only the
// process it started.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export const SERVER_PATH = process.env.HEARTBEAT_WS_SERVER ?? '/work/main/build/boost/tests/heartbeat_ws_test_server';
export const SERVER_MISSING = existsSync(SERVER_PATH)
  ? false
  : `the C++ test server is not built: ${SERVER_PATH} does not exist (set HEARTBEAT_WS_SERVER to its path)`;

/** The bound of every wait: generous, the tests are not timing them. */
export const WAIT_MS = 5000;

export class TestServer {
  /** Starts the server with `args` (an object: {port, 'interval-ms', ...}; arrays repeat a flag). */
  static async start(args = {}) {
    const s = new TestServer(args);
    const line = await s.waitFor(/^listening (\d+)$/);
    s.port = Number(line.split(' ')[1]);
    s.url = `ws://127.0.0.1:${s.port}/`;
    return s;
  }

  constructor(args) {
    const argv = [];
    for (const [k, v] of Object.entries({ port: 0, ...args })) for (const x of [v].flat()) argv.push(`--${k}`, String(x));
    this.argv = argv;
    this.lines = [];
    this._waiters = [];
    this._buf = '';
    this.exited = false;
    this.proc = spawn(SERVER_PATH, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.stderr = '';
    this.proc.stderr.on('data', (d) => (this.stderr += d));
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d) => {
      this._buf += d;
      let i;
      while ((i = this._buf.indexOf('\n')) >= 0) {
        const l = this._buf.slice(0, i).replace(/\r$/, '');
        this._buf = this._buf.slice(i + 1);
        this.lines.push({ line: l, at: performance.now() });
        this._check();
      }
    });
    this._exit = new Promise((resolve) =>
      this.proc.on('exit', (code, signal) => {
        this.exited = true;
        this._check();
        resolve({ code, signal });
      }),
    );
    this.proc.stdin.on('error', () => {}); // the server may be gone when we write
  }

  _check() {
    for (const w of [...this._waiters]) {
      const hit = this.lines.slice(w.from).find((l) => w.match(l.line));
      if (hit) {
        this._waiters.splice(this._waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(hit.line);
      } else if (this.exited) {
        this._waiters.splice(this._waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.reject(new Error(`server exited while waiting for ${w.what}; stderr: ${this.stderr}`));
      }
    }
  }

  /**
   * The first line (from index `from`, default 0) that matches `pattern`
   * (a string is an exact line, a RegExp a pattern); rejects after `ms`.
   */
  waitFor(pattern, { from = 0, ms = WAIT_MS } = {}) {
    const match = typeof pattern === 'string' ? (l) => l === pattern : (l) => pattern.test(l);
    return new Promise((resolve, reject) => {
      const w = { match, from, resolve, reject, what: String(pattern) };
      w.timer = setTimeout(() => {
        this._waiters.splice(this._waiters.indexOf(w), 1);
        reject(new Error(`no line ${pattern} within ${ms} ms; lines: ${JSON.stringify(this.lines.map((l) => l.line))}`));
      }, ms);
      this._waiters.push(w);
      this._check();
    });
  }

  /** Lines matching `pattern` so far. */
  matching(pattern) {
    return this.lines.map((l) => l.line).filter((l) => (typeof pattern === 'string' ? l === pattern : pattern.test(l)));
  }

  /** The index the next line will have: for waitFor's `from`. */
  get mark() {
    return this.lines.length;
  }

  command(text) {
    if (!this.exited) this.proc.stdin.write(`${text}\n`);
  }

  /** Asks it to quit, then kills the process we started if it lingers. */
  async stop() {
    if (this.exited) return;
    this.command('quit');
    const t = setTimeout(() => this.kill(), 2000);
    await this._exit;
    clearTimeout(t);
  }

  /** SIGKILL to the process we started (by its PID, through its handle). */
  async kill() {
    if (this.exited) return;
    this.proc.kill('SIGKILL');
    await this._exit;
  }
}

/** Resolves when `predicate()` holds (polled), rejects after `ms`. */
export async function until(predicate, what, ms = WAIT_MS) {
  const end = performance.now() + ms;
  while (!predicate()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
