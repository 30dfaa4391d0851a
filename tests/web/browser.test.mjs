// The session browser in Debian's chromium (headless, driven by
// playwright-core) against the real chatstored: sign-in, live transcript,
// streaming deltas across a SIGKILL + restart, the session actions, search,
// export, anonymous sign-in and erase. Screenshots go to WEB_ARTIFACTS_DIR.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';

import {
  api, freePort, mintToken, startServer, stopServer, waitFor,
} from '../support/chatstored.mjs';

const CHATSTORED = process.env.CHATSTORED;
const ARTIFACTS = process.env.WEB_ARTIFACTS_DIR ||
  fs.mkdtempSync(path.join(os.tmpdir(), 'chatstore-web-artifacts-'));
const SECRET = 'web-secret-0123456789abcdef0123456789abcdef';
const DEADLINE = 30000; // generous: the box is small and shared

let dataDir;
let port;
let base;
let server;
let browser;

function start() {
  return startServer({
    binary: CHATSTORED, dataDir, port, secret: SECRET,
    args: ['--sse-retry-ms', '200', '--rate-limit', '0'],
  });
}

before(async () => {
  assert.ok(CHATSTORED, 'set CHATSTORED to the chatstored binary');
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatstore-web-'));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = await start();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // Root in a container has no user namespaces for the sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
});

after(async () => {
  await browser?.close();
  if (server) await stopServer(server, 'SIGTERM');
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

// A fresh page (own sessionStorage) that records what would betray a bug:
// script errors, CSP violations, and any URL carrying a token.
async function newPage(secrets) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
    colorScheme: 'light',
  });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) problems.push(message.text());
  });
  page.on('request', (request) => {
    for (const secret of secrets()) {
      if (secret && request.url().includes(secret)) problems.push(`token in URL ${request.url()}`);
    }
  });
  return { page, context, problems };
}

const transcriptText = (page) =>
  page.locator('#transcript .message .content').allTextContents();

async function shoot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

test('a signed-in user follows a session live, across a server restart',
  { timeout: 240000 }, async () => {
    const token = mintToken(SECRET, 'web-user');
    const { page, context, problems } = await newPage(() => [token]);
    try {
      await page.goto(base);
      await page.locator('#signin-view').waitFor();
      await shoot(page, 'sign-in');

      // A refused token stays on the sign-in page with a message.
      await page.fill('#token-input', 'not-a-token');
      await page.click('#signin-form button[type=submit]');
      await page.locator('#signin-error', { hasText: 'refused' }).waitFor();

      await page.fill('#token-input', token);
      await page.keyboard.press('Tab'); // keyboard reaches the button
      await page.keyboard.press('Enter');
      await page.locator('#app-view').waitFor();
      assert.equal(await page.textContent('#user-label'), 'web-user');
      assert.equal(await page.evaluate(() => sessionStorage.getItem('chatstore.token')), token);

      // Sessions created through the API appear in the list by themselves.
      const older = await api(base, token, 'POST', '/v1/sessions', { title: 'Trip to Kyoto' });
      await api(base, token, 'POST', `/v1/sessions/${older.id}/messages`,
        { role: 'user', content: 'Which temples open early?' });
      await page.locator(`[data-session-id="${older.id}"]`, { hasText: 'Trip to Kyoto' })
        .waitFor({ timeout: DEADLINE });
      await page.locator(`[data-session-id="${older.id}"]`, { hasText: '1 message' })
        .waitFor({ timeout: DEADLINE });

      // A new session from the page opens, live.
      await page.click('#new-session-button');
      await page.locator('#connection[data-state="live"]').waitFor({ timeout: DEADLINE });
      const sessionId = await page.locator('.session-item[aria-current="true"]')
        .getAttribute('data-session-id');
      assert.ok(sessionId);

      // Rename through the dialog, by keyboard.
      await page.click('#rename-button');
      await page.fill('#rename-input', 'Planning the release');
      await page.keyboard.press('Enter');
      await page.locator('#session-title', { hasText: 'Planning the release' }).waitFor();
      await page.locator(`[data-session-id="${sessionId}"]`, { hasText: 'Planning the release' })
        .waitFor();

      // Messages posted by the API appear while the page watches.
      await api(base, token, 'POST', `/v1/sessions/${sessionId}/messages`,
        { role: 'system', content: 'You are a careful release manager.' });
      await api(base, token, 'POST', `/v1/sessions/${sessionId}/messages`,
        { role: 'user', content: 'What is left before we ship?' });
      await page.locator('#transcript .message', { hasText: 'What is left before we ship?' })
        .waitFor({ timeout: DEADLINE });

      // Composing from the page (Ctrl+Enter sends).
      await page.fill('#compose-input', 'Also check the changelog.');
      await page.press('#compose-input', 'Control+Enter');
      await page.locator('#transcript .message.role-user', { hasText: 'Also check the changelog.' })
        .waitFor({ timeout: DEADLINE });
      assert.equal(await page.inputValue('#compose-input'), '');

      // A streaming message grows delta by delta.
      const streaming = await api(base, token, 'POST', `/v1/sessions/${sessionId}/messages`,
        { role: 'assistant', content: '', status: 'streaming' });
      const node = page.locator(`[data-message-id="${streaming.id}"]`);
      const deltas = ['Three things: ', 'the migration notes, ', 'the benchmark figures, '];
      let expected = '';
      let lastSeqBeforeKill = 0;
      for (const delta of deltas) {
        ({ seq: lastSeqBeforeKill } = await api(base, token, 'POST',
          `/v1/sessions/${sessionId}/messages/${streaming.id}/append`, { delta }));
        expected += delta;
        await waitFor(async () => (await node.locator('.content').textContent()) === expected,
          DEADLINE, `the delta "${delta}"`);
      }
      assert.equal(await node.getAttribute('data-status'), 'streaming');
      await shoot(page, 'transcript-streaming');

      // Kill the server mid-stream; the page notices and says so.
      const resumedFrom = [];
      page.on('request', (request) => {
        if (request.url().endsWith(`/v1/sessions/${sessionId}/stream`)) {
          resumedFrom.push(request.headers()['last-event-id'] ?? null);
        }
      });
      await stopServer(server, 'SIGKILL');
      await page.locator('#connection[data-state="reconnecting"], #connection[data-state="offline"]')
        .waitFor({ timeout: DEADLINE });
      await shoot(page, 'reconnecting');
      server = await start();
      // These race the page's reconnection: replayed or live, each exactly once.
      const more = ['and the ', 'upgrade guide.'];
      for (const delta of more) {
        await api(base, token, 'POST',
          `/v1/sessions/${sessionId}/messages/${streaming.id}/append`, { delta });
        expected += delta;
      }
      await api(base, token, 'POST',
        `/v1/sessions/${sessionId}/messages/${streaming.id}/complete`, {});
      await page.locator('#connection[data-state="live"]').waitFor({ timeout: DEADLINE });
      await page.locator(`[data-message-id="${streaming.id}"][data-status="complete"]`)
        .waitFor({ timeout: DEADLINE });
      assert.equal(await node.locator('.content').textContent(), expected);
      // Every reconnect resumed after the last event shown before the kill.
      assert.ok(resumedFrom.length >= 1);
      assert.ok(resumedFrom.every((id) => id === String(lastSeqBeforeKill)),
        `Last-Event-ID ${resumedFrom} after seq ${lastSeqBeforeKill}`);
      // The outage showed in the indicator only, not as an error notice.
      assert.equal(await page.locator('#notice.error').count(), 0);
      await api(base, token, 'POST', `/v1/sessions/${sessionId}/messages`,
        { role: 'user', content: 'Thanks, shipping.' });
      await page.locator('#transcript .message', { hasText: 'Thanks, shipping.' })
        .waitFor({ timeout: DEADLINE });

      // The page shows exactly the stored transcript: nothing doubled or lost.
      const stored = await api(base, token, 'GET', `/v1/sessions/${sessionId}/messages?limit=100`);
      assert.deepEqual(await transcriptText(page), stored.messages.map((m) => m.content));
      await page.locator(`[data-session-id="${sessionId}"]`, { hasText: '5 messages' })
        .waitFor({ timeout: DEADLINE });
      await shoot(page, 'session-browser');

      // Search finds a message and opens its session.
      await page.keyboard.press('Escape');
      await page.click('#transcript');
      await page.keyboard.press('/');
      await page.keyboard.type('temples');
      await page.keyboard.press('Enter');
      const hit = page.locator('.search-hit', { hasText: 'temples' });
      await hit.waitFor({ timeout: DEADLINE });
      assert.equal(await hit.locator('mark').textContent(), 'temples');
      await shoot(page, 'search');
      await hit.click();
      await page.locator('#session-title', { hasText: 'Trip to Kyoto' }).waitFor();
      await page.locator('#transcript .message.highlight', { hasText: 'Which temples open early?' })
        .waitFor({ timeout: DEADLINE });

      // Archive, then delete with a confirmation.
      await page.click('#archive-button');
      await page.locator(`[data-session-id="${older.id}"] .badge`, { hasText: 'archived' })
        .waitFor({ timeout: DEADLINE });
      assert.equal(await page.textContent('#archive-button'), 'Unarchive');
      await page.click('#delete-button');
      await page.locator('#confirm-dialog[open]').waitFor();
      await page.click('#confirm-ok');
      await page.locator(`[data-session-id="${older.id}"]`).waitFor({ state: 'detached' });
      const listed = await api(base, token, 'GET', '/v1/sessions');
      assert.deepEqual(listed.sessions.map((s) => s.id), [sessionId]);

      // The export downloads as one JSON document with the user's data.
      const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: DEADLINE }),
        page.click('#export-button'),
      ]);
      const exported = JSON.parse(fs.readFileSync(await download.path(), 'utf8'));
      assert.ok(JSON.stringify(exported).includes('Thanks, shipping.'));

      // Sign out forgets the token.
      await page.click('#signout-button');
      await page.locator('#signin-view').waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.getItem('chatstore.token')), null);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

test('an anonymous user signs in, writes, and erases everything',
  { timeout: 120000 }, async () => {
    let anonymousToken = '';
    const { page, context, problems } = await newPage(() => [anonymousToken]);
    try {
      await page.goto(base);
      await page.click('#anonymous-button');
      await page.locator('#app-view').waitFor();
      anonymousToken = await page.evaluate(() => sessionStorage.getItem('chatstore.token'));
      assert.ok(anonymousToken);
      assert.match(await page.textContent('#user-label'), /^anon:.*\(anonymous\)$/);

      await page.click('#new-session-button');
      await page.locator('#connection[data-state="live"]').waitFor({ timeout: DEADLINE });
      await page.locator('#session-meta', { hasText: 'ephemeral' }).waitFor();
      await page.fill('#compose-input', 'Hello from nowhere.');
      await page.click('#compose-form button[type=submit]');
      await page.locator('#transcript .message', { hasText: 'Hello from nowhere.' })
        .waitFor({ timeout: DEADLINE });
      await page.click('#new-session-button');
      await page.locator('.session-item').nth(1).waitFor({ timeout: DEADLINE });

      // Cancelling the confirmation erases nothing.
      await page.click('#erase-button');
      await page.locator('#confirm-dialog[open]').waitFor();
      await shoot(page, 'erase-confirm');
      await page.keyboard.press('Escape');
      await page.locator('#confirm-dialog[open]').waitFor({ state: 'detached' });
      let listed = await api(base, anonymousToken, 'GET', '/v1/sessions');
      assert.equal(listed.sessions.length, 2);

      await page.click('#erase-button');
      await page.click('#confirm-ok');
      await page.locator('#notice', { hasText: 'Erased 2 sessions and 1 message.' })
        .waitFor({ timeout: DEADLINE });
      await page.locator('#session-list-empty').waitFor();
      listed = await api(base, anonymousToken, 'GET', '/v1/sessions');
      assert.deepEqual(listed.sessions, []);
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

test('the session list pages and filters by status', { timeout: 120000 }, async () => {
  const token = mintToken(SECRET, 'web-pager');
  const ids = [];
  for (let i = 0; i < 27; i++) {
    ids.push((await api(base, token, 'POST', '/v1/sessions', { title: `Session ${i}` })).id);
  }
  await api(base, token, 'PATCH', `/v1/sessions/${ids[3]}`, { status: 'archived' });
  const { page, context, problems } = await newPage(() => [token]);
  try {
    await page.goto(base);
    await page.fill('#token-input', token);
    await page.click('#signin-form button[type=submit]');
    const items = page.locator('.session-item');
    await waitFor(async () => (await items.count()) === 25, DEADLINE, 'the first page');
    // In the API's order: newest update first.
    const firstPage = await api(base, token, 'GET', '/v1/sessions?limit=25');
    const shown = await items.evaluateAll((nodes) => nodes.map((n) => n.dataset.sessionId));
    assert.deepEqual(shown, firstPage.sessions.map((x) => x.id));
    await page.click('#more-button');
    await waitFor(async () => (await items.count()) === 27, DEADLINE, 'the second page');
    assert.ok(await page.locator('#more-button').isHidden());
    // A refresh keeps the loaded pages.
    await api(base, token, 'POST', `/v1/sessions/${ids[0]}/messages`, { role: 'user', content: 'bump' });
    await page.locator('.session-item').first().locator('.title', { hasText: 'Session 0' })
      .waitFor({ timeout: DEADLINE });
    assert.equal(await items.count(), 27);

    await page.selectOption('#status-filter', 'archived');
    await waitFor(async () => (await items.count()) === 1, DEADLINE, 'the archived filter');
    assert.equal(await items.first().getAttribute('data-session-id'), ids[3]);
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});
