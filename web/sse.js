// Server-sent events over fetch(), so the bearer token travels in the
// Authorization header instead of a URL (EventSource cannot set headers, and
// URLs end up in logs and browser history). Follows the WHATWG event-stream
// format: CR, LF or CRLF line ends, comments, `retry:`, `id:` and
// Last-Event-ID on reconnect.

// Incremental event-stream parser. Feed it text with push(); it calls
// onEvent({type, data, id}) for each complete event and onRetry(ms) for each
// valid `retry:` field. An event cut off by a dropped connection is never
// dispatched, so the id it carried is not remembered either.
export class SseParser {
  constructor({ onEvent, onRetry = () => {}, onComment = () => {} }) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.onComment = onComment;
    this.lastEventId = '';
    this.buffer = '';
    this.sawCR = false; // the previous chunk ended with CR: skip a leading LF
    this.atStart = true;
    this.resetEvent();
  }

  resetEvent() {
    this.data = [];
    this.type = '';
    this.pendingId = null;
  }

  push(text) {
    if (this.atStart && text.length > 0) {
      this.atStart = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.sawCR && text.startsWith('\n')) text = text.slice(1);
    this.sawCR = false;
    this.buffer += text;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      this.line(this.buffer.slice(start, i));
      if (c === '\r') {
        if (i + 1 === this.buffer.length) {
          this.sawCR = true;
        } else if (this.buffer[i + 1] === '\n') {
          i++;
        }
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  line(line) {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.startsWith(':')) {
      this.onComment(line.slice(1).trimStart());
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.type = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.pendingId = value;
        break;
      case 'retry':
        if (/^[0-9]+$/.test(value)) this.onRetry(Number(value));
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  dispatch() {
    if (this.pendingId !== null) this.lastEventId = this.pendingId;
    if (this.data.length > 0) {
      this.onEvent({
        type: this.type || 'message',
        data: this.data.join('\n'),
        id: this.lastEventId,
      });
    }
    this.resetEvent();
  }
}

// The delay before reconnect attempt `attempt` (0-based): the server's
// `retry:` for the first, then doubling up to `maxMs`, with up to 20% jitter
// so many clients of a restarted server do not come back in lockstep.
export function backoffDelay(attempt, retryMs, maxMs, random = Math.random) {
  const base = Math.min(maxMs, retryMs * 2 ** Math.min(attempt, 16));
  return Math.round(base * (1 + 0.2 * random()));
}

// Connection states reported to onState.
export const StreamState = Object.freeze({
  CONNECTING: 'connecting',
  LIVE: 'live',
  RECONNECTING: 'reconnecting',
  OFFLINE: 'offline',
  CLOSED: 'closed',
});

// Follows `url` until close() or a permanent failure. Options:
//   token()          the bearer token (read at every connect)
//   onEvent(e)       each event, in order, never twice
//   onState(s, info) connection state changes (StreamState)
//   onFatal(status)  the server refused for good (401, 404, ...): stopped
//   lastEventId      where to resume from ('' = from the start)
//   retryMs, maxBackoffMs, offlineAfterMs, idleTimeoutMs, fetchImpl
// Returns {close(), get lastEventId()}.
export function followEventStream(url, options) {
  const {
    token,
    onEvent,
    onState = () => {},
    onFatal = () => {},
    fetchImpl = (...args) => fetch(...args),
    maxBackoffMs = 5000,
    offlineAfterMs = 10000,
    idleTimeoutMs = 45000,
  } = options;
  let retryMs = options.retryMs ?? 1000;
  let lastEventId = options.lastEventId ?? '';
  let closed = false;
  let controller = null;
  let wakeUp = null;
  let state = null;
  const setState = (next, info = {}) => {
    if (next === state) return;
    state = next;
    onState(next, info);
  };

  const sleep = (ms) =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  // One connection: resolves when it ends; returns 'fatal' with the status
  // when retrying cannot help, 'progress' when events or comments arrived.
  async function connectOnce() {
    controller = new AbortController();
    const headers = { Accept: 'text/event-stream' };
    const bearer = token();
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    if (lastEventId !== '') headers['Last-Event-ID'] = lastEventId;
    let idleTimer = null;
    const armIdle = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => controller.abort(), idleTimeoutMs);
    };
    let progress = false;
    try {
      armIdle();
      const response = await fetchImpl(url, {
        headers,
        cache: 'no-store',
        signal: controller.signal,
      });
      const type = response.headers.get('content-type') || '';
      if (response.status !== 200 || !type.startsWith('text/event-stream')) {
        // 5xx and 429 are temporary; anything else will not get better.
        if (response.status >= 500 || response.status === 429) {
          return { outcome: 'retry' };
        }
        return { outcome: 'fatal', status: response.status };
      }
      setState(StreamState.LIVE);
      const parser = new SseParser({
        onEvent: (event) => {
          lastEventId = event.id;
          onEvent(event);
        },
        onRetry: (ms) => {
          retryMs = ms;
        },
      });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      while (!closed) {
        const { done, value } = await reader.read();
        if (done) break;
        armIdle();
        progress = true;
        parser.push(decoder.decode(value, { stream: true }));
      }
      return { outcome: 'ended', progress };
    } catch (error) {
      return { outcome: 'retry', progress };
    } finally {
      clearTimeout(idleTimer);
    }
  }

  (async () => {
    let attempt = 0;
    let failingSince = null;
    setState(StreamState.CONNECTING);
    while (!closed) {
      const result = await connectOnce();
      if (closed) break;
      if (result.outcome === 'fatal') {
        closed = true;
        setState(StreamState.CLOSED, { status: result.status });
        onFatal(result.status);
        return;
      }
      if (result.progress) {
        attempt = 0;
        failingSince = null;
      }
      failingSince ??= Date.now();
      const offline =
        Date.now() - failingSince >= offlineAfterMs ||
        (typeof navigator !== 'undefined' && navigator.onLine === false);
      setState(offline ? StreamState.OFFLINE : StreamState.RECONNECTING);
      await sleep(backoffDelay(attempt, retryMs, maxBackoffMs));
      attempt++;
    }
    setState(StreamState.CLOSED);
  })();

  return {
    close() {
      closed = true;
      if (controller) controller.abort();
      if (wakeUp) wakeUp();
    },
    get lastEventId() {
      return lastEventId;
    },
  };
}
