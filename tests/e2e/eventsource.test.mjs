// A real SSE client (the `eventsource` npm package) follows a session while
// chatstored is killed and restarted; it must see every event exactly once,
// in order, reconnecting by itself with Last-Event-ID.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { EventSource } from 'eventsource';

const CHATSTORED = process.env.CHATSTORED;
const SECRET = 'e2e-secret-0123456789abcdef0123456789abcdef';

function mintToken(sub) {
  const b64u = (s) => Buffer.from(s).toString('base64url');
  const header = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64u(
    JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + 3600 }));
  const signature = crypto.createHmac('sha256', SECRET)
    .update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

// A port that was free a moment ago: the restarted server must come back on
// the same URL for the client to reconnect by itself.
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// Starts chatstored and resolves once it prints its listening line.
function startServer(dataDir, port) {
  return new Promise((resolve, reject) => {
    const child = spawn(CHATSTORED, [
      '--listen', `127.0.0.1:${port}`,
      '--store', `sqlite://${dataDir}/chatstore.db`,
      '--sse-retry-ms', '200',
      '--rate-limit', '0',
    ], {
      env: { ...process.env, CHATSTORE_JWT_SECRET: SECRET },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`chatstored did not start: ${out}`));
    }, 30000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('listening on http://')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`chatstored exited with ${code}: ${out}`));
    });
  });
}

function stopServer(child, signal) {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

async function api(base, token, method, target, body) {
  const response = await fetch(`${base}${target}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${target}: ${response.status}`);
  return response.json();
}

async function appendEvents(base, token, id, n) {
  const events = Array.from({ length: n }, (_, i) => ({ type: 'app.tick', data: { i } }));
  return api(base, token, 'POST', `/v1/sessions/${id}/events`, { events });
}

// Resolves when `predicate()` holds, polling; rejects after `ms`.
async function waitFor(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('eventsource receives every event exactly once across a server restart',
  { timeout: 120000 }, async () => {
    assert.ok(CHATSTORED, 'set CHATSTORED to the chatstored binary');
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatstore-e2e-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const token = mintToken('e2e-user');
    let server = await startServer(dataDir, port);
    let source;
    try {
      const session = await api(base, token, 'POST', '/v1/sessions', { title: 'e2e' });
      await appendEvents(base, token, session.id, 40);  // seqs 1..41

      const seen = [];
      let errors = 0;
      source = new EventSource(
        `${base}/v1/sessions/${session.id}/stream?access_token=${token}`);
      const record = (event) => seen.push(Number(event.lastEventId));
      source.addEventListener('session.created', record);
      source.addEventListener('app.tick', record);
      source.addEventListener('error', () => { errors += 1; });

      await waitFor(() => seen.length >= 41, 30000, 'the first 41 events');

      // Kill it hard mid-stream; acknowledged events are on disk.
      await stopServer(server, 'SIGKILL');
      await waitFor(() => errors > 0, 30000, 'the client to notice');
      server = await startServer(dataDir, port);
      // Appends race the client's reconnection.
      for (let i = 0; i < 6; ++i) await appendEvents(base, token, session.id, 10);
      const last = 41 + 60;
      await waitFor(() => seen.length >= last, 60000, `event ${last}`);
      // Give a duplicate, if any were coming, a chance to show up.
      await appendEvents(base, token, session.id, 1);
      await waitFor(() => seen.length >= last + 1, 30000, 'the final event');

      const expected = Array.from({ length: last + 1 }, (_, i) => i + 1);
      assert.deepEqual(seen, expected);
      assert.ok(errors >= 1, 'the client saw the restart');
    } finally {
      source?.close();
      await stopServer(server, 'SIGTERM');
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
