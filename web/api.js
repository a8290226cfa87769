// tunnelgw dashboard: the HTTP API, with the key the user signed in with. The key lives in
// sessionStorage only (gone when the tab closes) and travels in the Authorization header,
// never in a URL.
const KEY = 'tunnelgw.apikey';
const BASE = '/api/v1/';

export class ApiError extends Error {
  constructor(status, title, detail) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title || `HTTP ${status}`;
    this.detail = detail || '';
  }
}

export function getKey() { return sessionStorage.getItem(KEY); }
export function setKey(k) { sessionStorage.setItem(KEY, k); }
export function clearKey() { sessionStorage.removeItem(KEY); }

// A query string from an object; empty and undefined values are left out.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

// Call the API: resolves to the answer's JSON, or rejects with an ApiError carrying the
// problem document's detail (RFC 9457), which the dashboard shows as it is.
export async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${getKey() || ''}` };
  const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch (e) {
    throw new ApiError(0, 'No answer', 'the gateway did not answer: is it running?');
  }
  const type = res.headers.get('Content-Type') || '';
  let doc = null;
  if (type.startsWith('application/json') || type.startsWith('application/problem+json')) {
    try { doc = await res.json(); } catch (e) { doc = null; }
  }
  if (!res.ok) {
    throw new ApiError(res.status, doc && doc.title, doc && doc.detail);
  }
  return doc;
}

// A path segment, encoded (a key's fingerprint has '/' and ':').
export function seg(s) { return encodeURIComponent(String(s)); }
