// Unit tests of the session browser's pure modules, run under node:
// the event-stream parser, the reconnecting follower and the transcript.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { SseParser, backoffDelay, followEventStream, StreamState } from '../../web/sse.js';
import { Transcript, mergePatch } from '../../web/transcript.js';

function parse(chunks) {
  const events = [];
  const retries = [];
  const comments = [];
  const parser = new SseParser({
    onEvent: (e) => events.push(e),
    onRetry: (ms) => retries.push(ms),
    onComment: (c) => comments.push(c),
  });
  for (const chunk of chunks) parser.push(chunk);
  return { events, retries, comments, parser };
}

test('parses events with every line ending, split anywhere', () => {
  const text =
    'retry: 250\n\nid: 1\nevent: message.created\ndata: {"a":1}\n\n' +
    'id: 2\r\nevent: message.delta\r\ndata: line one\r\ndata: line two\r\n\r\n' +
    ': keepalive\r\rid: 3\revent: x\rdata:no-space\r\r';
  const expected = [
    { type: 'message.created', data: '{"a":1}', id: '1' },
    { type: 'message.delta', data: 'line one\nline two', id: '2' },
    { type: 'x', data: 'no-space', id: '3' },
  ];
  // Whole, then cut at every position (CRLF split across chunks included).
  for (let cut = 0; cut <= text.length; cut++) {
    const { events, retries, comments } = parse([text.slice(0, cut), text.slice(cut)]);
    assert.deepEqual(events, expected, `cut at ${cut}`);
    assert.deepEqual(retries, [250]);
    assert.deepEqual(comments, ['keepalive']);
  }
  // One character at a time.
  assert.deepEqual(parse([...text]).events, expected);
});

test('follows the WHATWG rules for odd fields', () => {
  const { events, retries, parser } = parse([
    '\uFEFFdata: first\n\n', // a leading BOM is dropped
    'retry: 12x\n', // not digits: ignored
    'id: 7\n\n', // an id alone sets the last id, dispatches nothing
    'data\n\n', // field with no colon: empty data line
    'id: bad\0id\ndata: keeps 7\n\n', // an id with NUL is ignored
    'unknown: field\nevent: t\ndata: x\n\n',
    'data: cut off by a drop', // never completed: never dispatched
  ]);
  assert.deepEqual(retries, []);
  assert.deepEqual(events, [
    { type: 'message', data: 'first', id: '' },
    { type: 'message', data: '', id: '7' },
    { type: 'message', data: 'keeps 7', id: '7' },
    { type: 't', data: 'x', id: '7' },
  ]);
  assert.equal(parser.lastEventId, '7');
});

test('backoff starts at the server retry and is capped', () => {
  const none = () => 0;
  assert.equal(backoffDelay(0, 200, 5000, none), 200);
  assert.equal(backoffDelay(1, 200, 5000, none), 400);
  assert.equal(backoffDelay(3, 200, 5000, none), 1600);
  assert.equal(backoffDelay(10, 200, 5000, none), 5000);
  assert.equal(backoffDelay(0, 200, 5000, () => 1), 240); // at most +20%
});

// A fetch whose answers are scripted: each call takes the next responder.
function scriptedFetch(responders) {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push({ url, headers: { ...init.headers } });
    const responder = responders.shift();
    if (!responder) {
      // Hang like a silent server until the follower aborts (as fetch does).
      return new Promise((resolve, reject) => {
        init.signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    }
    return responder(init);
  };
  return { fetchImpl, calls };
}

function streamResponse(text, { status = 200, type = 'text/event-stream' } = {}) {
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text));
      controller.close();
    },
  });
  return new Response(body, { status, headers: { 'Content-Type': type } });
}

function waitFor(predicate, what) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10000;
    const poll = () => {
      if (predicate()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 5);
    };
    poll();
  });
}

test('reconnects after a drop with Last-Event-ID and sends the token in a header', async () => {
  const { fetchImpl, calls } = scriptedFetch([
    () => streamResponse('retry: 10\n\nid: 1\nevent: a\ndata: 1\n\nid: 2\nevent: a\ndata: 2\n\nid: 3\ndata: partial'),
    () => Promise.reject(new TypeError('connection refused')),
    () => streamResponse('id: 3\nevent: a\ndata: 3\n\n'),
  ]);
  const events = [];
  const states = [];
  const stream = followEventStream('/v1/sessions/s/stream', {
    token: () => 'tok',
    fetchImpl,
    onEvent: (e) => events.push(e.id),
    onState: (s) => states.push(s),
  });
  await waitFor(() => events.length === 3 && calls.length >= 4, 'three events');
  stream.close();
  assert.deepEqual(events, ['1', '2', '3']);
  assert.equal(calls[0].headers.Authorization, 'Bearer tok');
  assert.equal(calls[0].headers['Last-Event-ID'], undefined);
  assert.equal(calls[1].headers['Last-Event-ID'], '2'); // the partial event is re-asked
  assert.equal(calls[2].headers['Last-Event-ID'], '2');
  assert.equal(calls[3].headers['Last-Event-ID'], '3');
  assert.ok(!calls.some((c) => c.url.includes('tok')), 'the token is never in the URL');
  assert.deepEqual(states.slice(0, 3), [StreamState.CONNECTING, StreamState.LIVE, StreamState.RECONNECTING]);
  assert.ok(states.includes(StreamState.LIVE, 3), 'live again after the reconnect');
});

test('stops for good when the server refuses the stream', async () => {
  const { fetchImpl, calls } = scriptedFetch([
    () => new Response('{"status":401}', { status: 401, headers: { 'Content-Type': 'application/problem+json' } }),
  ]);
  let fatal = null;
  const states = [];
  followEventStream('/x', { token: () => 't', fetchImpl, onEvent: () => {}, onFatal: (s) => { fatal = s; }, onState: (s) => states.push(s) });
  await waitFor(() => fatal !== null, 'the fatal status');
  assert.equal(fatal, 401);
  assert.equal(states.at(-1), StreamState.CLOSED);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(calls.length, 1);
});

test('retries on 503 and reports offline when failures last', async () => {
  const unavailable = () => new Response('', { status: 503 });
  const { fetchImpl } = scriptedFetch([unavailable, unavailable, unavailable]);
  const states = [];
  const stream = followEventStream('/x', {
    token: () => 't', fetchImpl, onEvent: () => {}, onState: (s) => states.push(s),
    retryMs: 5, offlineAfterMs: 0,
  });
  await waitFor(() => states.includes(StreamState.OFFLINE), 'offline');
  stream.close();
});

function event(id, type, data) {
  return { id: String(id), type, data: JSON.stringify(data) };
}

test('the transcript applies deltas once, whatever is replayed', () => {
  const t = new Transcript();
  const session = { id: 's', title: 'T', status: 'active', message_count: 0, updated_at: 'a' };
  const streaming = { id: 'm', seq: 2, role: 'assistant', content: '', status: 'streaming' };
  const log = [
    event(1, 'session.created', session),
    event(2, 'message.created', streaming),
    event(3, 'message.delta', { message_id: 'm', delta: 'héllo', offset: 0 }),
    event(4, 'message.delta', { message_id: 'm', delta: ' wörld', offset: 6 }),
  ];
  for (const e of log) t.apply(e);
  for (const e of log) assert.equal(t.apply(e), null, 'a replayed event changes nothing');
  assert.equal(t.messages.get('m').content, 'héllo wörld');
  assert.equal(t.session.message_count, 1);
  // A delta overlapping text already held (offset in bytes) adds only the rest.
  t.lastSeq = 4;
  t.apply(event(5, 'message.delta', { message_id: 'm', delta: 'wörld!', offset: 7 }));
  assert.equal(t.messages.get('m').content, 'héllo wörld!');
  t.apply(event(6, 'message.completed', { ...streaming, content: 'héllo wörld!', status: 'complete' }));
  assert.equal(t.messages.get('m').status, 'complete');
  t.apply(event(7, 'state.delta', { delta: { phase: 'done' } }));
  assert.deepEqual(t.session.state, { phase: 'done' });
  t.apply(event(8, 'app.progress', { p: 1 }));
  assert.equal(t.customEvents, 1);
  t.apply(event(9, 'session.deleted', { id: 's' }));
  assert.ok(t.deleted);
});

test('a snapshot replaces the transcript', () => {
  const t = new Transcript();
  t.apply(event(1, 'message.created', { id: 'old', seq: 1, role: 'user', content: 'x', status: 'complete' }));
  const changed = t.apply(event(40, 'snapshot', {
    session: { id: 's', message_count: 1 },
    messages: [{ id: 'n', seq: 39, role: 'user', content: 'kept', status: 'complete' }],
  }));
  assert.ok(changed.reset);
  assert.deepEqual([...t.messages.keys()], ['n']);
  assert.equal(t.lastSeq, 40);
  assert.equal(t.apply(event(40, 'message.created', {})), null);
});

test('merge patch follows RFC 7386', () => {
  assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { a: null, b: { c: 9 }, e: [1] }),
    { b: { c: 9, d: 3 }, e: [1] });
  assert.equal(mergePatch({ a: 1 }, 'x'), 'x');
});
