// The chat page's script: one connection to the server, in either mode,
// behind the same two functions (send, and onText for what arrives).
const params = new URLSearchParams(location.search);
const id = params.get('id') || `guest-${Math.floor(Math.random() * 1000)}`;
const mode = params.get('mode') === 'framed' ? 'framed' : 'ping';
const token = params.get('token') || '';
const server = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;

const $ = (sel) => document.querySelector(sel);
$('#me').textContent = id;
$('#mode').textContent = mode;
const other = new URLSearchParams(params);
other.set('id', id);
other.set('mode', mode === 'ping' ? 'framed' : 'ping');
$('#switch').href = `?${other}`;
const status = (text) => ($('#status').textContent = text);

// ---- ping mode: a plain WebSocket, no library --------------------------------
// The server pings it and the browser answers by itself. Close codes say
// why the server ended it: 4000 + an error code (4003: wrong token, 4011:
// timed out), 4100 + a goodbye reason (4102: this id connected elsewhere,
// 4103: kicked), 1001: the server is shutting down.
function connectPing(onText) {
  const url = `${server}?id=${encodeURIComponent(id)}&token=${encodeURIComponent(token)}`;
  const final = new Set([4003, 4102, 4103]); // retrying would not help
  let ws;
  let delay = 500;
  let left = false;
  const open = () => {
    ws = new WebSocket(url);
    ws.onopen = () => {
      delay = 500;
      status('online');
    };
    ws.onmessage = (e) => onText(e.data);
    ws.onclose = (e) => {
      if (left) return status('left');
      if (final.has(e.code)) return status(`closed by the server: ${e.code} ${e.reason}`);
      status(`disconnected (${e.code}); retrying in ${(delay / 1000).toFixed(1)} s`);
      setTimeout(open, delay * (0.5 + Math.random() / 2));
      delay = Math.min(delay * 2, 10_000);
    };
  };
  open();
  return {
    send: (text) => ws.readyState === WebSocket.OPEN && (ws.send(text), true),
    leave: () => {
      left = true;
      ws.close(1000); // a deliberate close: the server reports offline (left)
    },
  };
}

// ---- framed mode: the heartbeat JavaScript client ----------------------------
// It beats, answers the server's probes (so a frozen page goes offline),
// measures RTT, and reconnects with backoff by itself.
async function connectFramed(onText) {
  const { HeartbeatClient } = await import('/js/src/index.js');
  const decoder = new TextDecoder();
  const client = new HeartbeatClient({
    url: server,
    id,
    token,
    onOnline: (terms) => status(`online, beating every ${terms.interval} ms`),
    onLost: (err) => status(`lost (${err.code}); reconnecting`),
    onGaveUp: (err) => status(`refused: ${err.code}`),
    onMessage: (bytes) => onText(decoder.decode(bytes)),
  });
  client.start();
  return { send: (text) => client.send(text), leave: () => client.leave().then(() => status('left')) };
}

// ---- what the server pushes ---------------------------------------------------

function showPresence(peers) {
  $('#peers').replaceChildren(
    ...peers.map((p) => {
      const tr = document.createElement('tr');
      const online = p.state === 'online';
      tr.className = online ? 'online' : 'offline';
      const rtt = p.rtt_us === null ? '' : `${(p.rtt_us / 1000).toFixed(1)} ms`;
      const interval = p.interval_ms === null ? '' : `${p.interval_ms} ms`;
      for (const cell of [p.id === id ? `${p.id} (you)` : p.id, p.state, rtt, interval]) {
        const td = document.createElement('td');
        td.textContent = cell;
        tr.append(td);
      }
      return tr;
    }),
  );
}

function log(text) {
  const line = document.createElement('div');
  line.textContent = text;
  $('#log').append(line);
  $('#log').scrollTop = $('#log').scrollHeight;
}

function onText(text) {
  let m;
  try {
    m = JSON.parse(text);
  } catch {
    return log(text);
  }
  if (m.type === 'presence') showPresence(m.peers);
  else if (m.type === 'chat') log(m.to ? `${m.from} to ${m.to}: ${m.text}` : `${m.from}: ${m.text}`);
  else if (m.type === 'notice') log(`(${m.text})`);
}

// A closed tab goes offline (disconnected); Leave goes offline (left).
const connection = mode === 'framed' ? await connectFramed(onText) : connectPing(onText);
$('#say').addEventListener('keydown', (e) => {
  if (e.key !== 'Enter' || !e.target.value) return;
  if (connection.send(e.target.value)) e.target.value = '';
  else log('(not connected: not sent)');
});
$('#leave').addEventListener('click', () => connection.leave());
