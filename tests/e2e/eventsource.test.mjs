// A real SSE client (the `eventsource` npm package) follows a session while
// chatstored is killed and restarted; it must see every event exactly once,
// in order, reconnecting by itself with Last-Event-ID.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { EventSource } from 'eventsource';

import {
  api, freePort, mintToken as mintTokenWith, startServer as startWith,
  stopServer, waitFor,
} from '../support/chatstored.mjs';

const CHATSTORED = process.env.CHATSTORED;
const SECRET = 'e2e-secret-0123456789abcdef0123456789abcdef';

const mintToken = (sub) => mintTokenWith(SECRET, sub);
const startServer = (dataDir, port) => startWith({
  binary: CHATSTORED, dataDir, port, secret: SECRET,
  args: ['--sse-retry-ms', '200', '--rate-limit', '0'],
});

async function appendEvents(base, token, id, n) {
  const events = Array.from({ length: n }, (_, i) => ({ type: 'app.tick', data: { i } }));
  return api(base, token, 'POST', `/v1/sessions/${id}/events`, { events });
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
