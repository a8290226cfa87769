// tunnelgw dashboard: building the page. Every string from the API becomes a text node
// (textContent, never innerHTML), so a name like <img src=x onerror=...> shows as text.
const SVG = 'http://www.w3.org/2000/svg';

// h('tag.class', {attr: value, onclick: fn}, child, ...): an element. Children are nodes,
// strings (text nodes), arrays of either, or null (left out).
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = String(v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// Replace an element's children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// Set a node's text only when it changed, so live updates leave focus and selection alone.
export function setText(el, s) {
  const t = s === null || s === undefined ? '' : String(s);
  if (el.textContent !== t) el.textContent = t;
}

let uid = 0;
export function id(prefix) { uid += 1; return `${prefix}-${uid}`; }

// A labelled form control: <label for> and the control, in a .field.
export function field(label, control, hint) {
  if (!control.id) control.id = id('f');
  const parts = [h('label', { for: control.id }, label), control];
  if (hint) {
    const hid = id('hint');
    control.setAttribute('aria-describedby', hid);
    parts.push(h('small.hint', { id: hid }, hint));
  }
  return h('div.field', null, parts);
}

// A <select> of options [value, text] with one selected.
export function select(options, value, attrs) {
  return h('select', attrs, options.map(([v, t]) =>
    h('option', { value: v, selected: String(v) === String(value) }, t)));
}

export function bytes(n) {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function rate(bps) { return `${bytes(Math.round(bps))}/s`; }

// How long ago an RFC 3339 time was, shortly: 42s, 5m, 3h 2m, 4d.
export function age(t, now) {
  if (!t) return '';
  let s = Math.max(0, Math.floor(((now || Date.now()) - Date.parse(t)) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr}h ${m % 60}m`;
  s = Math.floor(hr / 24);
  return `${s}d`;
}

export function when(t) {
  if (!t) return '';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

export function badge(text, kind) {
  return h(`span.badge.badge-${kind || 'plain'}`, null, text);
}

// A sparkline of values (newest last) as an inline SVG, scaled to its own maximum.
export function sparkline(values, width, height, label) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('class', 'spark');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const line = document.createElementNS(SVG, 'polyline');
  svg.appendChild(line);
  updateSparkline(svg, values);
  return svg;
}

export function updateSparkline(svg, values, label) {
  const w = Number(svg.getAttribute('width'));
  const ht = Number(svg.getAttribute('height'));
  if (values.length < 2) values = [0, 0];
  const max = Math.max(1, ...values);
  const n = Math.max(2, values.length);
  const pts = values.map((v, i) =>
    `${((i + (n - values.length)) * (w - 2) / (n - 1) + 1).toFixed(1)},` +
    `${(ht - 1 - (v / max) * (ht - 2)).toFixed(1)}`).join(' ');
  svg.firstChild.setAttribute('points', pts);
  if (label) svg.setAttribute('aria-label', label);
}

// Copy text: the clipboard API where the page may use it, else a selected hidden field.
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (e) {
    const ta = h('textarea.offscreen', { readonly: true });
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch (e2) { ok = false; }
    ta.remove();
    return ok;
  }
}

// A button that copies text, and says so.
export function copyButton(text, what) {
  const b = h('button.copy', { type: 'button', 'aria-label': `Copy ${what}` }, 'Copy');
  b.addEventListener('click', async () => {
    const ok = await copyText(typeof text === 'function' ? text() : text);
    b.textContent = ok ? 'Copied' : 'Select and copy';
    setTimeout(() => { b.textContent = 'Copy'; }, 1500);
  });
  return b;
}
