// Raw TCP clients for the transport tests: exact bytes on the wire, and the difference between a
// clean close (FIN: 'end') and a reset (RST: 'error' ECONNRESET), which node:http hides.

import net from 'node:net';

// One connection that records everything it receives and how it ended.
export class RawConnection {
  constructor(port, host = '127.0.0.1') {
    this.socket = net.connect(port, host);
    this.data = Buffer.alloc(0);
    this.ended = false; // the server closed cleanly (FIN)
    this.error = null; // e.g. ECONNRESET
    this.closed = new Promise((resolve) => this.socket.once('close', resolve));
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
    this.waiters = [];
    this.socket.on('data', (chunk) => {
      this.data = Buffer.concat([this.data, chunk]);
      this.wake();
    });
    this.socket.on('end', () => {
      this.ended = true;
      this.wake();
    });
    this.socket.on('error', (err) => {
      this.error = err;
      this.wake();
    });
    this.socket.on('close', () => this.wake());
  }

  wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  // Resolves when something changes (data, end, error, close) or after timeoutMs.
  changed(timeoutMs) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  write(bytes) {
    return new Promise((resolve, reject) => this.socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  get finished() {
    return this.ended || this.error !== null || this.socket.destroyed;
  }

  // Reads one whole response (status line, headers, Content-Length body) from what arrives.
  // Resolves {status, headers, body, raw} or null if the connection ended before a whole one.
  async readResponse(timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = this.takeResponse();
      if (response) return response;
      if (this.finished) return null;
      if (Date.now() > deadline) throw new Error(`no whole response in ${timeoutMs} ms; have: ${JSON.stringify(this.data.toString('latin1'))}`);
      await this.changed(Math.max(1, deadline - Date.now()));
    }
  }

  takeResponse() {
    const end = this.data.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const head = this.data.subarray(0, end).toString('latin1');
    const [statusLine, ...lines] = head.split('\r\n');
    const headers = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(statusLine.split(' ')[1]);
    const length = status >= 200 && status !== 204 && status !== 304 ? Number(headers['content-length'] ?? 0) : 0;
    if (this.data.length < end + 4 + length) return null;
    const body = this.data.subarray(end + 4, end + 4 + length).toString('utf8');
    const raw = this.data.subarray(0, end + 4 + length).toString('latin1');
    this.data = this.data.subarray(end + 4 + length);
    let json;
    try {
      json = JSON.parse(body);
    } catch {
      json = undefined;
    }
    return { status, statusLine, headers, body, json, raw };
  }

  // Waits until the server closes the connection; resolves 'end' (clean), 'reset' or 'timeout'.
  async waitClosed(timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    while (!this.finished && Date.now() < deadline) await this.changed(deadline - Date.now());
    if (this.error?.code === 'ECONNRESET') return 'reset';
    if (this.error) return `error ${this.error.code}`;
    return this.finished ? 'end' : 'timeout';
  }

  destroy() {
    this.socket.destroy();
  }
}

// Sends bytes on a fresh connection and reads every response until the server closes it.
// Resolves {responses, rest, closed} where closed is 'end', 'reset' or 'timeout'.
export async function exchange(port, bytes, { timeoutMs = 20_000 } = {}) {
  const conn = new RawConnection(port);
  try {
    await conn.connected;
    await conn.write(bytes);
    const responses = [];
    for (;;) {
      const response = await conn.readResponse(timeoutMs);
      if (!response) break;
      responses.push(response);
    }
    const closed = await conn.waitClosed(timeoutMs);
    return { responses, rest: conn.data.toString('latin1'), closed };
  } finally {
    conn.destroy();
  }
}

// Resolves true once nothing listens on the port any more (connections are refused).
export function refused(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err) => resolve(err.code === 'ECONNREFUSED'));
  });
}

// The state and the send and receive queues of every TCP socket on the machine, by
// "localPort:remotePort", from /proc/net/tcp and tcp6 (loopback tests: the ports alone tell the
// sockets apart).
async function tcpQueues() {
  const { readFile } = await import('node:fs/promises');
  const queues = new Map();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 5) continue;
      const port = (address) => parseInt(address.slice(address.lastIndexOf(':') + 1), 16);
      const [tx, rx] = fields[4].split(':').map((hex) => parseInt(hex, 16));
      queues.set(`${port(fields[1])}:${port(fields[2])}`, { established: fields[3] === '01', tx, rx });
    }
  }
  return queues;
}

// Resolves once the server has read every byte these connections wrote: nothing left in the
// client's send queue, nor in the receive queue of the server's end (gone counts as read).
export async function readByServer(conns, { timeoutMs = 10_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const queues = await tcpQueues();
    const unread = conns.filter((conn) => {
      const client = queues.get(`${conn.socket.localPort}:${conn.socket.remotePort}`);
      const server = queues.get(`${conn.socket.remotePort}:${conn.socket.localPort}`);
      return (client?.tx ?? 0) > 0 || (server?.rx ?? 0) > 0;
    });
    if (unread.length === 0) return;
    if (Date.now() > deadline) throw new Error(`the server left the bytes of ${unread.length} connections unread for ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

// How many of these connections the server has accepted and read, and not closed: its end is
// established with nothing left unread. A connection waiting in the listen backlog has its bytes
// in the receive queue of a socket no one has accepted yet.
export async function readAndOpenOnServer(conns) {
  const queues = await tcpQueues();
  return conns.filter((conn) => {
    const client = queues.get(`${conn.socket.localPort}:${conn.socket.remotePort}`);
    const server = queues.get(`${conn.socket.remotePort}:${conn.socket.localPort}`);
    return server !== undefined && server.established && server.rx === 0 && (client?.tx ?? 0) === 0;
  }).length;
}

// The CPU time (user + system) a process has used, in seconds, from /proc/PID/stat.
export async function cpuSeconds(pid) {
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // the command name may hold spaces; the fields after it are space-separated
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return ticks / 100; // USER_HZ is 100 on Linux
}
