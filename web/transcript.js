// A session's transcript rebuilt from its event log (API.md, "Event"): pure
// state with no DOM, so node's test runner covers it. Events are applied in
// seq order and an event at or below the last applied seq is ignored, so a
// replay after a reconnect can never duplicate text.

const encoder = new TextEncoder();
const byteLength = (text) => encoder.encode(text).length;

export class Transcript {
  constructor() {
    this.session = null;
    this.messages = new Map(); // id -> {id, seq, role, content, status, bytes}
    this.lastSeq = 0;
    this.deleted = false;
    this.customEvents = 0; // application events (not shown as messages)
  }

  // Messages in log order.
  orderedMessages() {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq);
  }

  // Applies one SSE event ({type, data: JSON text, id: seq}). Returns the ids
  // of the messages that changed, or null when the event changed nothing.
  apply(event) {
    const seq = Number(event.id);
    if (event.type === 'snapshot') {
      // The log was not retained: the snapshot replaces everything.
      const body = JSON.parse(event.data);
      this.session = body.session;
      this.messages.clear();
      for (const m of body.messages) this.putMessage(m);
      this.lastSeq = seq;
      return { session: true, messages: [...this.messages.keys()], reset: true };
    }
    if (!Number.isFinite(seq) || seq <= this.lastSeq) return null;
    this.lastSeq = seq;
    const data = JSON.parse(event.data);
    switch (event.type) {
      case 'session.created':
      case 'session.updated':
        this.session = data;
        return { session: true, messages: [] };
      case 'session.deleted':
        this.deleted = true;
        return { session: true, messages: [] };
      case 'state.delta':
        if (this.session) {
          this.session = { ...this.session, state: mergePatch(this.session.state, data.delta) };
        }
        return { session: true, messages: [] };
      case 'message.created':
      case 'message.completed':
        this.putMessage(data);
        this.touchSession(data.updated_at ?? data.created_at, event.type === 'message.created');
        return { session: true, messages: [data.id] };
      case 'message.delta':
        return this.appendDelta(data) ? { session: false, messages: [data.message_id] } : null;
      default:
        this.customEvents++;
        return { session: false, messages: [] };
    }
  }

  putMessage(m) {
    this.messages.set(m.id, {
      id: m.id,
      seq: m.seq,
      role: m.role,
      content: m.content ?? '',
      status: m.status,
      tokens: m.tokens ?? null,
      created_at: m.created_at,
      bytes: byteLength(m.content ?? ''),
    });
  }

  // The delta's `offset` is the byte offset where it starts: text the
  // message already holds is skipped, which keeps a message whole even if a
  // snapshot and a delta overlap.
  appendDelta({ message_id, delta, offset }) {
    const m = this.messages.get(message_id);
    if (!m) return false;
    const size = byteLength(delta);
    if (offset + size <= m.bytes) return false;
    if (offset < m.bytes) {
      const bytes = encoder.encode(delta).slice(m.bytes - offset);
      delta = new TextDecoder().decode(bytes);
    }
    m.content += delta;
    m.bytes += byteLength(delta);
    return true;
  }

  touchSession(updatedAt, created) {
    if (!this.session) return;
    this.session = {
      ...this.session,
      updated_at: updatedAt ?? this.session.updated_at,
      message_count: this.session.message_count + (created ? 1 : 0),
    };
  }
}

// RFC 7386 JSON merge patch.
export function mergePatch(target, patch) {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out = target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}
