// Helpers for node tests that run the real chatstored: JWT minting, a free
// port, starting/stopping the binary, polling, and API calls.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';

// An HS256 token for `sub`, valid for an hour, signed with `secret`.
export function mintToken(secret, sub) {
  const b64u = (s) => Buffer.from(s).toString('base64url');
  const header = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = b64u(
    JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + 3600 }));
  const signature = crypto.createHmac('sha256', secret)
    .update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

// A port that was free a moment ago: a restarted server must come back on
// the same URL for clients to reconnect by themselves.
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

// Starts `binary` on 127.0.0.1:`port` with the SQLite store in `dataDir` and
// resolves with the child once it prints its listening line.
export function startServer({ binary, dataDir, port, secret, args = [] }) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [
      '--listen', `127.0.0.1:${port}`,
      '--store', `sqlite://${dataDir}/chatstore.db`,
      ...args,
    ], {
      env: { ...process.env, CHATSTORE_JWT_SECRET: secret },
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

// Sends `signal` and resolves when the child has exited.
export function stopServer(child, signal) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

// Resolves when `predicate()` (may be async) holds, polling; rejects after `ms`.
export async function waitFor(predicate, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// One API call as `token`; asserts success and returns the JSON answer.
export async function api(base, token, method, target, body) {
  const response = await fetch(`${base}${target}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      'Content-Type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${target}: ${response.status}`);
  return response.status === 204 ? null : response.json();
}
