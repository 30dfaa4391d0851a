// The session browser: sign-in, the session list, a live transcript and the
// account actions. Talks only to the chatstored that served it.
import { Api, ApiError } from './api.js';
import { followEventStream, StreamState } from './sse.js';
import { Transcript } from './transcript.js';

const TOKEN_KEY = 'chatstore.token';
const USER_KEY = 'chatstore.user';
const PAGE_SIZE = 25;
const LIST_REFRESH_MS = 5000;

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  user: sessionStorage.getItem(USER_KEY) || '',
  sessions: new Map(), // id -> session, for the list
  nextCursor: null,
  openId: null,
  transcript: null,
  stream: null,
  refreshTimer: null,
};
const api = new Api(() => state.token);

// ---- helpers ---------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

function relativeTime(iso) {
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(seconds)) return '';
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return new Date(iso).toLocaleDateString();
}

let noticeTimer = null;
function notify(text, isError = false) {
  const notice = $('notice');
  notice.textContent = text;
  notice.classList.toggle('error', isError);
  // Confirmations fade after a while; errors stay until the next notice.
  clearTimeout(noticeTimer);
  if (!isError) noticeTimer = setTimeout(() => { notice.textContent = ''; }, 6000);
}

// Runs an action and reports its failure; a 401 means the token is no
// longer good, so the user is sent back to sign in.
// `quiet`: a background refresh, whose network failures the connection
// indicator already shows.
async function guarded(action, { quiet = false } = {}) {
  try {
    return await action();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut('Your token was refused (expired or invalid). Please sign in again.');
    } else if (!quiet || error instanceof ApiError) {
      notify(error.message, true);
    }
    return undefined;
  }
}

function confirmDialog(title, text, okLabel) {
  const dialog = $('confirm-dialog');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okLabel;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

// The `sub` of a pasted JWT, for display only (the server verifies it).
function tokenSubject(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload)).sub || '';
  } catch {
    return '';
  }
}

// ---- sign-in ---------------------------------------------------------------

function showView() {
  const signedIn = state.token !== '';
  $('signin-view').hidden = signedIn;
  $('app-view').hidden = !signedIn;
  if (signedIn) {
    $('user-label').textContent = state.user;
    refreshSessions({ reset: true });
    clearInterval(state.refreshTimer);
    state.refreshTimer = setInterval(() => {
      if (document.visibilityState === 'visible') refreshSessions({ quiet: true });
    }, LIST_REFRESH_MS);
  } else {
    clearInterval(state.refreshTimer);
    $('token-input').focus();
  }
}

function signIn(token, user) {
  state.token = token;
  state.user = user;
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(USER_KEY, user);
  showView();
}

function signOut(message = '') {
  closeSession();
  state.token = '';
  state.user = '';
  state.sessions.clear();
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  $('signin-error').textContent = message;
  showView();
}

$('signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = $('token-input').value.trim();
  if (!token) {
    $('signin-error').textContent = 'Paste a token first.';
    return;
  }
  const probe = new Api(() => token);
  try {
    await probe.listSessions({ limit: 1 });
  } catch (error) {
    $('signin-error').textContent =
      error.status === 401 ? 'This token was refused.' : error.message;
    return;
  }
  $('token-input').value = '';
  signIn(token, tokenSubject(token) || 'signed in');
});

$('anonymous-button').addEventListener('click', async () => {
  try {
    const answer = await api.anonymous();
    signIn(answer.token, `${answer.user_id} (anonymous)`);
  } catch (error) {
    $('signin-error').textContent = error.message;
  }
});

$('signout-button').addEventListener('click', () => signOut());

// ---- the session list --------------------------------------------------------

function sortedSessions() {
  return [...state.sessions.values()].sort((a, b) =>
    a.updated_at < b.updated_at ? 1 : a.updated_at > b.updated_at ? -1 : a.id < b.id ? 1 : -1);
}

function renderSessions() {
  const list = $('session-list');
  const items = sortedSessions().map((s) => {
    const count = plural(s.message_count, 'message');
    const button = el(
      'button',
      {
        type: 'button',
        class: 'session-item',
        'data-session-id': s.id,
        'aria-current': s.id === state.openId ? 'true' : 'false',
        onclick: () => openSession(s.id),
      },
      el('span', { class: 'title', text: s.title || 'Untitled' }),
      el(
        'span',
        { class: 'meta' },
        el('span', { class: `badge status-${s.status}`, text: s.status }),
        ` ${count} · `,
        el('time', { datetime: s.updated_at, title: s.updated_at, text: relativeTime(s.updated_at) }),
      ),
    );
    return el('li', {}, button);
  });
  list.replaceChildren(...items);
  $('session-list-empty').hidden = items.length > 0;
  $('more-button').hidden = !state.nextCursor;
}

// Reloads the first page (reset) or merges it into what is shown, so pages
// loaded with "Load more" stay while new and changed sessions move to the top.
async function refreshSessions({ reset = false, quiet = false }) {
  const status = $('status-filter').value;
  const page = await guarded(() => api.listSessions({ limit: PAGE_SIZE, status }), { quiet });
  if (!page) return;
  if (reset || !page.next_cursor) {
    state.sessions.clear();
    state.nextCursor = page.next_cursor;
  } else {
    // Sessions as new as the page's oldest that the page lacks are gone.
    const oldest = page.sessions[page.sessions.length - 1].updated_at;
    const fresh = new Set(page.sessions.map((s) => s.id));
    for (const [id, s] of state.sessions) {
      if (s.updated_at >= oldest && !fresh.has(id)) state.sessions.delete(id);
    }
  }
  for (const s of page.sessions) state.sessions.set(s.id, s);
  renderSessions();
}

$('more-button').addEventListener('click', async () => {
  const status = $('status-filter').value;
  const page = await guarded(() =>
    api.listSessions({ limit: PAGE_SIZE, cursor: state.nextCursor, status }));
  if (!page) return;
  for (const s of page.sessions) state.sessions.set(s.id, s);
  state.nextCursor = page.next_cursor;
  renderSessions();
});

$('status-filter').addEventListener('change', () => refreshSessions({ reset: true }));

$('new-session-button').addEventListener('click', async () => {
  const session = await guarded(() => api.createSession('New session'));
  if (!session) return;
  state.sessions.set(session.id, session);
  renderSessions();
  openSession(session.id);
});

// ---- one session's transcript ------------------------------------------------

function setConnection(text) {
  const indicator = $('connection');
  indicator.dataset.state = text;
  indicator.textContent = text;
}

function closeSession() {
  if (state.stream) state.stream.close();
  state.stream = null;
  state.openId = null;
  state.transcript = null;
  setConnection('idle');
  $('session-view').hidden = true;
  $('empty-state').hidden = false;
}

function openSession(id, focusSeq = null) {
  closeSession();
  state.openId = id;
  state.transcript = new Transcript();
  $('transcript').replaceChildren();
  $('session-view').hidden = false;
  $('empty-state').hidden = true;
  const known = state.sessions.get(id);
  if (known) state.transcript.session = known;
  renderSessionHead();
  renderSessions();
  const transcript = state.transcript;
  state.stream = followEventStream(api.streamUrl(id), {
    token: () => state.token,
    onEvent: (event) => {
      if (state.transcript !== transcript) return;
      const changed = transcript.apply(event);
      if (!changed) return;
      if (changed.reset) $('transcript').replaceChildren();
      for (const messageId of changed.messages) renderMessage(transcript.messages.get(messageId));
      if (changed.session) onSessionChanged(transcript);
      if (transcript.deleted) {
        notify('This session was deleted.');
        state.sessions.delete(id);
        closeSession();
        renderSessions();
      }
      if (focusSeq !== null && highlightSeq(focusSeq)) focusSeq = null;
    },
    onState: (s) => {
      if (state.transcript !== transcript) return;
      setConnection(s === StreamState.CONNECTING ? 'connecting' : s === StreamState.CLOSED ? 'offline' : s);
    },
    onFatal: (status) => {
      if (status === 401) signOut('Your token was refused. Please sign in again.');
      else if (status === 404) {
        notify('This session no longer exists.', true);
        state.sessions.delete(id);
        closeSession();
        renderSessions();
      } else notify(`The stream was refused (HTTP ${status}).`, true);
    },
  });
}

function onSessionChanged(transcript) {
  const session = transcript.session;
  if (!session) return;
  state.sessions.set(session.id, session);
  renderSessionHead();
  renderSessions();
}

function renderSessionHead() {
  const session = state.transcript && state.transcript.session;
  if (!session) return;
  $('session-title').textContent = session.title || 'Untitled';
  const where = session.persistent ? 'persistent' : 'ephemeral';
  $('session-meta').textContent = `${session.status} · ${where} · ${plural(session.message_count, 'message')} · updated ${relativeTime(session.updated_at)}`;
  $('archive-button').textContent = session.status === 'archived' ? 'Unarchive' : 'Archive';
}

function renderMessage(m) {
  if (!m) return;
  const container = $('transcript');
  const follow = container.scrollHeight - container.scrollTop - container.clientHeight < 40;
  let node = container.querySelector(`[data-message-id="${m.id}"]`);
  if (!node) {
    node = el(
      'article',
      { class: `message role-${m.role}`, 'data-message-id': m.id, 'data-seq': String(m.seq) },
      el('header', {}, el('span', { class: 'role', text: m.role }), el('span', { class: 'streaming', text: 'streaming…' })),
      el('div', { class: 'content' }),
    );
    // Keep log order even if an older message is rendered late.
    const after = [...container.children].find((child) => Number(child.dataset.seq) > m.seq);
    container.insertBefore(node, after ?? null);
  }
  node.dataset.status = m.status;
  node.querySelector('.content').textContent = m.content;
  if (follow) container.scrollTop = container.scrollHeight;
}

// Marks the message at `seq` (a search hit) once it is shown; false until then.
function highlightSeq(seq) {
  const node = $('transcript').querySelector(`[data-seq="${seq}"]`);
  if (!node) return false;
  node.classList.add('highlight');
  node.scrollIntoView({ block: 'center' });
  return true;
}

$('compose-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = $('compose-input');
  const content = input.value;
  if (!content.trim() || !state.openId) return;
  const sent = await guarded(() => api.addMessage(state.openId, $('compose-role').value, content));
  if (sent) input.value = '';
});

$('compose-input').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    $('compose-form').requestSubmit();
  }
});

$('rename-button').addEventListener('click', () => {
  const session = state.transcript && state.transcript.session;
  if (!session) return;
  const dialog = $('rename-dialog');
  $('rename-input').value = session.title || '';
  dialog.returnValue = '';
  dialog.showModal();
  dialog.addEventListener(
    'close',
    async () => {
      if (dialog.returnValue !== 'ok') return;
      const title = $('rename-input').value.trim();
      const updated = await guarded(() => api.patchSession(session.id, { title }));
      if (updated) notify('Renamed.');
    },
    { once: true },
  );
});

$('archive-button').addEventListener('click', async () => {
  const session = state.transcript && state.transcript.session;
  if (!session) return;
  const status = session.status === 'archived' ? 'active' : 'archived';
  const updated = await guarded(() => api.patchSession(session.id, { status }));
  if (updated) notify(status === 'archived' ? 'Archived.' : 'Restored.');
});

$('delete-button').addEventListener('click', async () => {
  const session = state.transcript && state.transcript.session;
  if (!session) return;
  const ok = await confirmDialog(
    'Delete this session?',
    `“${session.title || 'Untitled'}” and all its messages and events will be deleted.`,
    'Delete session',
  );
  if (!ok) return;
  const id = session.id;
  const done = await guarded(() => api.deleteSession(id).then(() => true));
  if (!done) return;
  state.sessions.delete(id);
  if (state.openId === id) closeSession();
  renderSessions();
  notify('Session deleted.');
});

// ---- search ------------------------------------------------------------------

$('search-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const q = $('search-input').value.trim();
  if (!q) return clearSearch();
  const answer = await guarded(() => api.search(q));
  if (!answer) return;
  const items = answer.hits.map((hit) =>
    el(
      'li',
      {},
      el(
        'button',
        { type: 'button', class: 'search-hit', onclick: () => openSession(hit.session_id, hit.seq) },
        el('span', { class: 'snippet' }, ...snippetNodes(hit.snippet)),
        el('span', { class: 'meta', text: `${state.sessions.get(hit.session_id)?.title ?? 'session'} · #${hit.seq}` }),
      ),
    ));
  if (items.length === 0) items.push(el('li', { class: 'muted small', text: 'No matches.' }));
  $('search-list').replaceChildren(...items);
  $('search-results').hidden = false;
});

// Search snippets wrap matched terms in [ ] (include/chatstore/types.h):
// shown as <mark>, built as nodes so message text is never parsed as HTML.
function snippetNodes(snippet) {
  return snippet.split(/(\[[^\]]*\])/).filter(Boolean).map((part) =>
    part.startsWith('[') && part.endsWith(']') ? el('mark', { text: part.slice(1, -1) }) : part);
}

function clearSearch() {
  $('search-input').value = '';
  $('search-results').hidden = true;
  $('search-list').replaceChildren();
}
$('clear-search-button').addEventListener('click', clearSearch);

// ---- account -----------------------------------------------------------------

$('export-button').addEventListener('click', async () => {
  const response = await guarded(() => api.exportMine());
  if (!response) return;
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = el('a', { href: url, download: 'chatstore-export.json' });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  notify('Export downloaded.');
});

$('erase-button').addEventListener('click', async () => {
  const ok = await confirmDialog(
    'Erase all your data?',
    'Every session, message and event of yours is deleted from every store. This cannot be undone.',
    'Erase everything',
  );
  if (!ok) return;
  const answer = await guarded(() => api.eraseMine());
  if (!answer) return;
  closeSession();
  state.sessions.clear();
  state.nextCursor = null;
  renderSessions();
  notify(`Erased ${plural(answer.sessions_deleted, 'session')} and ${plural(answer.messages_deleted, 'message')}.`);
});

// ---- keyboard ----------------------------------------------------------------

document.addEventListener('keydown', (event) => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName ?? '');
  if (event.key === '/' && !typing && !$('app-view').hidden) {
    event.preventDefault();
    $('search-input').focus();
  }
});

// Cancel buttons are type="button": the default (Enter) action of a dialog
// is its confirming button.
for (const button of document.querySelectorAll('[data-close-dialog]')) {
  button.addEventListener('click', () => button.closest('dialog').close('cancel'));
}

window.addEventListener('online', () => notify(''));
showView();
