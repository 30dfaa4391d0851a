// A small client of chatstored's HTTP API (API.md) for the page: every call
// carries the bearer token in the Authorization header; errors become
// ApiError with the problem+json detail.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

export class Api {
  // token(): the current bearer token ('' before sign-in).
  constructor(token, fetchImpl = (...args) => fetch(...args)) {
    this.token = token;
    this.fetch = fetchImpl;
  }

  async request(method, target, body, { raw = false } = {}) {
    const headers = { Accept: 'application/json' };
    const bearer = this.token();
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await this.fetch(target, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
    if (!response.ok) {
      let detail = '';
      try {
        detail = (await response.json()).detail;
      } catch {
        // not problem+json: keep the status alone
      }
      throw new ApiError(response.status, detail);
    }
    if (raw) return response;
    if (response.status === 204) return null;
    return response.json();
  }

  anonymous() {
    return this.request('POST', '/v1/auth/anonymous');
  }
  listSessions({ limit = 25, cursor = '', status = '' } = {}) {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set('cursor', cursor);
    if (status) query.set('status', status);
    return this.request('GET', `/v1/sessions?${query}`);
  }
  createSession(title) {
    return this.request('POST', '/v1/sessions', title ? { title } : {});
  }
  getSession(id) {
    return this.request('GET', `/v1/sessions/${encodeURIComponent(id)}`);
  }
  patchSession(id, patch) {
    return this.request('PATCH', `/v1/sessions/${encodeURIComponent(id)}`, patch);
  }
  deleteSession(id) {
    return this.request('DELETE', `/v1/sessions/${encodeURIComponent(id)}`);
  }
  addMessage(id, role, content) {
    return this.request('POST', `/v1/sessions/${encodeURIComponent(id)}/messages`, {
      role,
      content,
    });
  }
  search(q, { limit = 20, cursor = '' } = {}) {
    const query = new URLSearchParams({ q, limit: String(limit) });
    if (cursor) query.set('cursor', cursor);
    return this.request('GET', `/v1/search?${query}`);
  }
  exportMine() {
    return this.request('GET', '/v1/me/export', undefined, { raw: true });
  }
  eraseMine() {
    return this.request('DELETE', '/v1/me');
  }
  streamUrl(id) {
    return `/v1/sessions/${encodeURIComponent(id)}/stream`;
  }
}
