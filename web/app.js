// tunnelgw dashboard: sign-in, the sections, and live updates. Everything shown comes from
// the HTTP API under /api/v1/ (doc/api.yaml): the dashboard can do nothing the API cannot.
import { api, ApiError, getKey, setKey, clearKey, query, seg } from './api.js';
import {
  h, fill, setText, field, select, bytes, rate, age, when, badge, sparkline, updateSparkline,
  copyButton,
} from './dom.js';

const RANK = { viewer: 1, developer: 2, manager: 3, owner: 4, operator: 5 };
const ROLES = ['viewer', 'developer', 'manager', 'owner'];
const POLL_MS = 1000;
const SPARK_POINTS = 60;

const state = {
  me: null,          // status.caller: { operator, account, member, role }
  account: null,     // the member's account record, or the operator's chosen account name
  scope: '',         // the operator's account filter ('' = every account)
  view: null,        // the current view's { stop() }
  history: new Map(), // tunnel id -> { t, total, rates[] } for sparklines
};

const $ = (sel) => document.querySelector(sel);

function atLeast(role) { return state.me && RANK[state.me.role] >= RANK[role]; }
function isMine(member) { return !state.me.operator && member === state.me.member; }

// --- messages --------------------------------------------------------------------------

// The alert region stays in the page (a live region that is hidden is not read when it
// appears); empty, it takes no room. It is rewritten only when its text changes, so a
// failure repeated by a poller is announced once.
let alertFromPoll = false;

function showMessage(title, detail, fromPoll) {
  const box = $('#alert');
  if (box.textContent !== `${title}${detail}`) {
    fill(box, title ? h('strong', null, title) : null, detail);
  }
  alertFromPoll = Boolean(fromPoll);
}

function showError(e, fromPoll) {
  if (e instanceof ApiError) {
    if (e.status === 401 && state.me) { signOut('Your API key is no longer valid.'); return; }
    showMessage(`${e.title}: `, e.detail || `HTTP ${e.status}`, fromPoll);
  } else {
    showMessage('', String(e && e.message ? e.message : e), fromPoll);
  }
}

function clearError() {
  $('#alert').replaceChildren();
  alertFromPoll = false;
}

// Run an action from a button or form: errors go to the alert region.
async function act(fn) {
  clearError();
  try {
    return await fn();
  } catch (e) {
    showError(e);
    return undefined;
  }
}

// A button that asks once more before it acts (no modal dialog: keyboard and screen
// readers stay on the button).
function confirmButton(label, confirmLabel, onConfirm, attrs) {
  const b = h('button.danger', { type: 'button', ...attrs }, label);
  let armed = null;
  b.addEventListener('click', async () => {
    const name = attrs && attrs['aria-label'];
    const disarm = () => {
      armed = null;
      b.textContent = label;
      b.classList.remove('armed');
      if (name) b.setAttribute('aria-label', name);
    };
    if (!armed) {
      b.textContent = confirmLabel;
      b.classList.add('armed');
      if (name) b.setAttribute('aria-label', `${confirmLabel}: ${name}`);
      armed = setTimeout(disarm, 5000);
      return;
    }
    clearTimeout(armed);
    disarm();
    b.disabled = true;
    await act(onConfirm);
    b.disabled = false;
  });
  return b;
}

// Poll fn every POLL_MS (never two at once) until the view stops; slower when hidden.
// An answer that arrives after the view stopped is dropped, its error too.
function poller(fn) {
  let timer = null;
  let stopped = false;
  const run = async () => {
    try {
      await fn();
      if (!stopped && alertFromPoll) clearError();
    } catch (e) {
      if (!stopped) showError(e, true);
    }
    if (!stopped) timer = setTimeout(run, document.hidden ? POLL_MS * 5 : POLL_MS);
  };
  run();
  return () => { stopped = true; clearTimeout(timer); };
}

// --- sign-in ---------------------------------------------------------------------------

function signOut(message) {
  clearKey();
  state.me = null;
  state.account = null;
  state.scope = '';
  state.history.clear();
  if (state.view) state.view.stop();
  state.view = null;
  location.hash = '#/';
  renderSignIn(message);
}

function renderSignIn(message) {
  $('#nav').hidden = true;
  fill($('#who'));
  const key = h('input', {
    type: 'password', name: 'apikey', autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: 'tgwk_…',
  });
  const form = h('form.card.signin', { 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in'),
    h('p', null, 'Use an API key (tunnelgwctl apikey create). It is kept in this tab only.'),
    field('API key', key),
    h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setKey(key.value.trim());
    key.value = '';
    const ok = await act(loadMe);
    if (ok) route();
    else clearKey();
  });
  fill($('#main'), form);
  if (message) showMessage('', message);
  key.focus();
}

// Who the key is: the status's caller, and the member's account (its create_raw_tunnel).
async function loadMe() {
  const st = await api('GET', 'status');
  const account = st.caller.operator ? null
    : await api('GET', `accounts/${seg(st.caller.account)}`);
  state.me = st.caller;
  state.account = account;
  renderChrome();
  return true;
}

function mayOpenTunnels() {
  if (state.me.operator) return true;
  return atLeast(state.account && state.account.create_raw_tunnel || 'manager');
}

// The account a request is about: the member's own, or the operator's chosen one.
function acct() { return state.me.operator ? state.scope : state.me.account; }
function withAccount(body) {
  return state.me.operator && state.scope ? { account: state.scope, ...body } : body;
}

function renderChrome() {
  const links = [['#/tunnels', 'Tunnels']];
  if (mayOpenTunnels()) links.push(['#/new', 'New tunnel']);
  if (state.me.operator) links.push(['#/accounts', 'Accounts']);
  links.push(['#/members', 'Members'], ['#/tokens', 'Tokens'], ['#/keys', 'SSH keys'],
    ['#/apikeys', 'API keys'],
    ['#/addresses', 'Addresses'], ['#/events', 'Events']);
  const nav = $('#nav');
  fill(nav, h('ul', null, links.map(([href, text]) =>
    h('li', null, h('a', { href, 'data-nav': href }, text)))));
  nav.hidden = false;
  const out = h('button.link', { type: 'button' }, 'Sign out');
  out.addEventListener('click', () => signOut('Signed out.'));
  const who = state.me.operator
    ? [badge('operator', 'role'), ' ', scopePicker()]
    : [h('span', { 'data-who': '' }, `${state.me.member} · ${state.me.account}`), ' ',
      badge(state.me.role, 'role')];
  fill($('#who'), who, ' ', out);
}

// The operator's account filter, from the account list.
function scopePicker() {
  const sel = select([['', 'every account']], state.scope, { id: 'scope' });
  const wrap = h('span.scope', null, h('label', { for: 'scope' }, 'Account '), sel);
  api('GET', 'accounts').then((doc) => {
    for (const a of doc.accounts) {
      sel.appendChild(h('option', { value: a.name, selected: a.name === state.scope }, a.name));
    }
  }).catch(showError);
  sel.addEventListener('change', () => { state.scope = sel.value; route(); });
  return wrap;
}

// --- tunnels ---------------------------------------------------------------------------

// Note a tunnel's byte total now; keep a rate history for its sparkline.
function sample(t, now) {
  const total = (t.bytes_in || 0) + (t.bytes_out || 0);
  let hs = state.history.get(t.id);
  if (!hs) {
    hs = { t: now, total, rates: [] };
    state.history.set(t.id, hs);
    return hs;
  }
  const dt = (now - hs.t) / 1000;
  if (dt >= 0.5) {
    hs.rates.push(Math.max(0, (total - hs.total) / dt));
    if (hs.rates.length > SPARK_POINTS) hs.rates.shift();
    hs.t = now;
    hs.total = total;
  }
  return hs;
}

function mayClose(t) {
  if (state.me.operator || atLeast('manager')) return true;
  return isMine(t.member) && atLeast('developer');
}

async function closeTunnel(t) {
  await api('DELETE', `tunnels/${t.id}`);
}

function protoBadge(t) { return badge((t.protocol || 'tcp').toUpperCase(), t.protocol || 'tcp'); }
function statusBadge(t) {
  return t.status === 'online' ? badge('online', 'online') : badge('awaiting connection', 'wait');
}

function td(label, ...children) { return h('td', { 'data-label': label }, ...children); }

// One row of the live list; its cells are updated in place afterwards.
function tunnelRow(t) {
  const c = {
    status: td('Status'), client: td('Client'), age: td('Age'), conns: td('Connections'),
    bin: td('In'), bout: td('Out'), spark: td('Traffic'), actions: td('Actions'),
  };
  c.sparkSvg = sparkline([], 120, 24, 'no traffic yet');
  c.spark.appendChild(c.sparkSvg);
  if (mayClose(t)) {
    c.actions.appendChild(confirmButton(t.status === 'online' ? 'Close' : 'Cancel',
      'Confirm', () => closeTunnel(t), { 'aria-label': `Close tunnel ${t.public_endpoint}` }));
  }
  const tr = h('tr', { 'data-id': t.id },
    td('Protocol', protoBadge(t)),
    td('Endpoint', h('a.endpoint', { href: `#/tunnels/${t.id}` }, t.public_endpoint), ' ',
      copyButton(t.public_endpoint, `endpoint ${t.public_endpoint}`)),
    c.status, td('Account', t.account), td('Member', t.member || '(keys file)'),
    c.client, c.age, c.conns, c.bin, c.bout, c.spark, c.actions);
  tr.cells_ = c;
  return tr;
}

function updateRow(tr, t, hs, now) {
  const c = tr.cells_;
  if (c.statusText !== t.status) {
    fill(c.status, statusBadge(t));
    c.statusText = t.status;
  }
  setText(c.client, t.client || '');
  setText(c.age, age(t.started || t.created, now));
  setText(c.conns, t.status === 'online' ? t.connections : '');
  setText(c.bin, t.status === 'online' ? bytes(t.bytes_in) : '');
  setText(c.bout, t.status === 'online' ? bytes(t.bytes_out) : '');
  c.bin.dataset.bytes = String(t.bytes_in || 0);
  c.bout.dataset.bytes = String(t.bytes_out || 0);
  c.bin.title = `${t.bytes_in || 0} bytes`;
  c.bout.title = `${t.bytes_out || 0} bytes`;
  const last = hs.rates.length ? hs.rates[hs.rates.length - 1] : 0;
  updateSparkline(c.sparkSvg, hs.rates, `traffic now ${rate(last)}`);
}

function viewTunnels(main) {
  const tbody = h('tbody');
  const heads = ['Protocol', 'Endpoint', 'Status', 'Account', 'Member', 'Client', 'Age',
    'Connections', 'In', 'Out', 'Traffic', 'Actions'];
  const count = h('p.count', { 'aria-live': 'polite' }, 'Loading…');
  fill(main, h('h1', null, 'Tunnels'), count,
    h('div.scroll', null, h('table.list.tunnels', null,
      h('thead', null, h('tr', null, heads.map((x) => h('th', { scope: 'col' }, x)))), tbody)));
  const rows = new Map();
  const stop = poller(async () => {
    const doc = await api('GET', `tunnels${query({ account: acct() })}`);
    const now = Date.now();
    const seen = new Set();
    for (const t of doc.tunnels) {
      seen.add(t.id);
      let tr = rows.get(t.id);
      if (!tr) {
        tr = tunnelRow(t);
        rows.set(t.id, tr);
        tbody.appendChild(tr);
      }
      updateRow(tr, t, sample(t, now), now);
    }
    for (const [tid, tr] of rows) {
      if (!seen.has(tid)) { tr.remove(); rows.delete(tid); state.history.delete(tid); }
    }
    const online = doc.tunnels.filter((t) => t.status === 'online').length;
    setText(count, doc.tunnels.length === 0 ? 'No tunnels are open.'
      : `${online} online, ${doc.tunnels.length - online} awaiting connection.`);
  });
  return { stop };
}

// A tunnel's properties: a list whose values are updated in place, so that focus (on its
// copy button) stays where it is.
function propList(names) {
  const dd = {};
  const list = h('dl.props', null, names.map(([k, label]) => {
    dd[k] = h('dd');
    return [h('dt', null, label), dd[k]];
  }));
  return { list, dd };
}

function viewTunnel(main, tid) {
  const props = propList([['status', 'Status'], ['endpoint', 'Public endpoint'],
    ['account', 'Account'], ['member', 'Member'], ['client', 'Client'], ['forward', 'Forward'],
    ['started', 'Started'], ['conns', 'Open connections'], ['bin', 'Bytes in'],
    ['bout', 'Bytes out']]);
  const spark = sparkline([], 480, 80, 'no traffic yet');
  const conns = h('tbody');
  const actions = h('div.actions');
  const title = h('h1', null, `Tunnel ${tid}`);
  fill(main, h('p', null, h('a', { href: '#/tunnels' }, '← Tunnels')), title, actions,
    props.list, h('h2', null, 'Traffic'), h('div.bigspark', null, spark),
    h('h2', { id: 'recent-title' }, 'Recent connections'),
    h('div.scroll', null, h('table.list', null, h('thead', null, h('tr', null,
      ['Closed', 'Client', 'In', 'Out', 'Duration'].map((x) => h('th', { scope: 'col' }, x)))),
    conns)));
  let tunnel = null;
  let ticks = 0;
  let stop = null;
  const loadConnections = async (t) => {
    // A UDP tunnel's public clients are flows, each reported when it ends.
    const udp = t.protocol === 'udp';
    const ev = await api('GET', `events${query({
      type: udp ? 'udp_flow_closed' : 'tcp_connection_closed', url: t.public_endpoint,
      since: t.started, limit: 50, account: state.me.operator ? t.account : undefined,
    })}`);
    setText(main.querySelector('#recent-title'), udp ? 'Recent flows' : 'Recent connections');
    fill(conns, ev.events.length === 0
      ? h('tr', null, h('td', { colspan: 5 }, udp ? 'No flow has ended yet.' : 'No connection has closed yet.'))
      : ev.events.map((e) => h('tr', null, td('Closed', when(e.time)),
        td('Client', e.client || ''), td('In', bytes(e.bytes_in)), td('Out', bytes(e.bytes_out)),
        td('Duration', e.duration_ms === null ? '' : `${(e.duration_ms / 1000).toFixed(1)} s`))));
  };
  stop = poller(async () => {
    let t;
    try {
      t = await api('GET', `tunnels/${seg(tid)}`);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
      // Closed: say so, stop asking, keep what was shown.
      setText(title, tunnel ? `Tunnel ${tunnel.public_endpoint}: closed` : `Tunnel ${tid}: not found`);
      actions.replaceChildren();
      fill(props.dd.status, badge('closed', 'plain'));
      state.history.delete(Number(tid));
      if (tunnel && tunnel.status === 'online') await loadConnections(tunnel);
      stop();
      return;
    }
    const now = Date.now();
    const hs = sample(t, now);
    if (!tunnel) {
      fill(title, `Tunnel ${t.public_endpoint} `, protoBadge(t));
      if (mayClose(t)) {
        fill(actions, confirmButton(t.status === 'online' ? 'Close tunnel' : 'Cancel tunnel',
          'Confirm: close it', async () => { await closeTunnel(t); }));
      }
      fill(props.dd.endpoint, t.public_endpoint, ' ', copyButton(t.public_endpoint, 'endpoint'));
      setText(props.dd.account, t.account);
      setText(props.dd.member, t.member || '(keys file)');
    }
    if (!tunnel || tunnel.status !== t.status) fill(props.dd.status, statusBadge(t));
    tunnel = t;
    setText(props.dd.client, t.client || '');
    setText(props.dd.forward, t.forward || '');
    setText(props.dd.started, t.started ? `${when(t.started)} (${age(t.started, now)} ago)` : '');
    setText(props.dd.conns, t.status === 'online' ? String(t.connections) : '');
    setText(props.dd.bin, bytes(t.bytes_in));
    setText(props.dd.bout, bytes(t.bytes_out));
    updateSparkline(spark, hs.rates,
      `traffic now ${rate(hs.rates.length ? hs.rates[hs.rates.length - 1] : 0)}`);
    if (ticks % 3 === 0 && t.status === 'online') await loadConnections(t);
    ticks += 1;
  });
  return { stop() { stop(); } };
}

// --- new tunnel ------------------------------------------------------------------------

function viewNew(main) {
  if (!mayOpenTunnels()) {
    fill(main, h('h1', null, 'New tunnel'),
      h('p', null, `Opening tunnels in this account needs the role ` +
        `${state.account.create_raw_tunnel}; you are ${state.me.role}.`));
    return { stop() {} };
  }
  const proto = select([['tcp', 'TCP'], ['udp', 'UDP (through tunnelgw-udp)']], 'tcp', { id: 'proto' });
  const localHost = h('input', { value: 'localhost', required: true, autocomplete: 'off' });
  const localPort = h('input', { type: 'number', min: 1, max: 65535, required: true, value: 3000 });
  const helperPort = h('input', { type: 'number', min: 1, max: 65535, value: 5300 });
  const helperField = field('Helper port', helperPort, 'where tunnelgw-udp takes the stream, on the machine that runs ssh');
  const days = h('input', { type: 'number', min: 1, max: 365, value: 1 });
  const reserved = select([], '', {});
  const kindRandom = h('input', { type: 'radio', name: 'addr', value: 'random', checked: true, id: 'addr-random' });
  const kindReserved = h('input', { type: 'radio', name: 'addr', value: 'reserved', id: 'addr-reserved' });
  const result = h('section.result', { 'aria-live': 'polite' });
  const noAccount = state.me.operator && !state.scope;
  const pick = () => { reserved.disabled = !kindReserved.checked; };
  kindRandom.addEventListener('change', pick);
  kindReserved.addEventListener('change', pick);
  pick();
  const loadReserved = async () => {
    if (noAccount) return;
    const doc = await api('GET', `addresses${query({ account: acct() })}`);
    const mine = doc.addresses.filter((a) => (a.protocol || 'tcp') === proto.value);
    fill(reserved, mine.length === 0 ? h('option', { value: '' }, 'none reserved')
      : mine.map((a) => h('option', { value: a.port }, a.public_endpoint)));
    kindReserved.disabled = mine.length === 0;
    if (mine.length === 0) kindRandom.checked = true;
    pick();
  };
  proto.addEventListener('change', () => {
    const udp = proto.value === 'udp';
    helperField.hidden = !udp;
    if (udp && localPort.value === '3000') localPort.value = '53';
    if (!udp && localPort.value === '53') localPort.value = '3000';
    act(loadReserved);
  });
  helperField.hidden = true;
  const form = h('form.card', { 'aria-labelledby': 'new-title' },
    h('h1', { id: 'new-title' }, 'New tunnel'),
    noAccount ? h('p.warn', null, 'Choose an account at the top first.') : null,
    field('Protocol', proto),
    h('fieldset', null, h('legend', null, 'Public address'),
      h('div.radio', null, kindRandom, h('label', { for: 'addr-random' }, 'A random port (reserved for the account)')),
      h('div.radio', null, kindReserved, h('label', { for: 'addr-reserved' }, 'One the account reserved:')),
      field('Reserved address', reserved)),
    field('Local host', localHost, 'where the service runs, seen from the machine that runs ssh'),
    field('Local port', localPort, 'UDP: the service\'s UDP port'),
    helperField,
    field('Login valid for (days)', days, 'the one-time login in the command expires after this'),
    h('button', { type: 'submit', disabled: noAccount }, 'Create'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    act(async () => {
      const body = withAccount({
        protocol: proto.value, local_host: localHost.value.trim(),
        local_port: Number(localPort.value), expires_days: Number(days.value) || 1,
      });
      if (proto.value === 'udp') body.helper_port = Number(helperPort.value) || 5300;
      if (kindReserved.checked && reserved.value) body.port = Number(reserved.value);
      const t = await api('POST', 'tunnels', body);
      if (!stopped) showAwaiting(result, t);
    });
  });
  fill(main, h('div.newtunnel', null, form, result));
  let stopWatch = () => {};
  let stopped = false;
  function showAwaiting(box, t) {
    stopWatch();
    const st = h('span', null, statusBadge(t));
    const link = h('p');
    const heading = h('h2', { tabindex: -1 }, 'Run this where the service is');
    fill(box, heading,
      h('p', null, 'The command logs in once and opens ', h('strong', null, t.public_endpoint), '.'),
      h('div.cmd', null, h('code', { id: 'ssh-command' }, t.ssh_command), ' ',
        copyButton(t.ssh_command, 'ssh command')),
      h('p', null, 'Status: ', st), link);
    box.scrollIntoView({ block: 'start' });
    heading.focus();
    stopWatch = poller(async () => {
      let now;
      try {
        now = await api('GET', `tunnels/${t.id}`);
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) {
          fill(st, badge('cancelled or expired', 'plain'));
          stopWatch();
          return;
        }
        throw e;
      }
      if (now.status === 'online') {
        fill(st, statusBadge(now));
        fill(link, h('a', { href: `#/tunnels/${now.id}` }, `Open the tunnel's page`),
          ` · connected from ${now.client}`);
        stopWatch();
      }
    });
  }
  act(loadReserved);
  return { stop() { stopped = true; stopWatch(); } };
}

// --- lists with forms ------------------------------------------------------------------

// A titled list section: a table made from rows by cols ([heading, fn(row) -> node]).
function table(cols, rows, empty) {
  if (rows.length === 0) return h('p.empty', null, empty);
  return h('div.scroll', null, h('table.list', null,
    h('thead', null, h('tr', null, cols.map(([c]) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, rows.map((r) => h('tr', null, cols.map(([c, fn]) => td(c, fn(r))))))));
}

// A secret shown once (a token, an API key) with its copy button.
function secretBox(what, secret, extra) {
  return h('div.secret', null,
    h('p', { role: 'status' }, h('strong', null, `Your new ${what}, shown once:`), ' copy it now; ',
      'only its hash is kept.'),
    h('div.cmd', null, h('code', { 'data-secret': what }, secret), ' ', copyButton(secret, what)),
    extra || null);
}

// A page whose content is reloaded after every change.
function page(main, title, load) {
  const body = h('div');
  const flash = h('div', { 'aria-live': 'polite' });
  fill(main, h('h1', null, title), flash, body);
  const reload = () => act(async () => { await load(body, flash, reload); });
  reload();
  return { stop() {} };
}

function needAccount(body) {
  if (state.me.operator && !state.scope) {
    fill(body, h('p.warn', null, 'Choose an account at the top.'));
    return true;
  }
  return false;
}

function viewAccounts(main) {
  return page(main, 'Accounts', async (body, flash, reload) => {
    const doc = await api('GET', 'accounts');
    const name = h('input', { required: true, autocomplete: 'off' });
    const lim = () => h('input', { type: 'number', min: 0, placeholder: 'no limit' });
    const maxT = lim();
    const maxC = lim();
    const maxA = lim();
    const raw = select(ROLES.map((r) => [r, r]), 'manager');
    const form = h('form.card.inline', null, h('h2', null, 'Create an account'),
      field('Name', name), field('Max tunnels', maxT), field('Max connections', maxC),
      field('Max reserved addresses', maxA), field('Opening tunnels needs', raw),
      h('button', { type: 'submit' }, 'Create account'));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      act(async () => {
        const b = { name: name.value.trim(), create_raw_tunnel: raw.value };
        for (const [k, el] of [['max_tunnels', maxT], ['max_connections', maxC], ['max_addresses', maxA]]) {
          if (el.value !== '') b[k] = Number(el.value);
        }
        await api('POST', 'accounts', b);
        fill(flash, h('p.ok', null, `Account ${b.name} created.`));
        renderChrome();
        reload();
      });
    });
    // Change an account's limits: the form shows the chosen account's; empty is no limit.
    const limits = [['max_tunnels', 'Max tunnels'], ['max_connections', 'Max connections'],
      ['max_addresses', 'Max reserved addresses']];
    const which = select(doc.accounts.map((a) => [a.name, a.name]), state.scope || '');
    const edits = Object.fromEntries(limits.map(([k]) => [k, lim()]));
    const editRaw = select(ROLES.map((r) => [r, r]), 'manager');
    const show = () => {
      const a = doc.accounts.find((x) => x.name === which.value);
      if (!a) return;
      for (const [k] of limits) edits[k].value = a[k] === null ? '' : String(a[k]);
      editRaw.value = a.create_raw_tunnel;
    };
    which.addEventListener('change', show);
    show();
    const edit = h('form.card.inline', null, h('h2', null, 'Change an account\'s limits'),
      field('Account', which), limits.map(([k, label]) => field(label, edits[k])),
      field('Opening tunnels needs', editRaw), h('button', { type: 'submit' }, 'Save limits'));
    edit.addEventListener('submit', (ev) => {
      ev.preventDefault();
      act(async () => {
        const b = { create_raw_tunnel: editRaw.value };
        for (const [k] of limits) b[k] = edits[k].value === '' ? null : Number(edits[k].value);
        await api('PATCH', `accounts/${seg(which.value)}`, b);
        fill(flash, h('p.ok', null, `Account ${which.value} changed.`));
        reload();
      });
    });
    const lim2 = (v) => (v === null ? '—' : String(v));
    fill(body, table([
      ['Name', (a) => h('a', { href: '#/members', onclick: () => { state.scope = a.name; renderChrome(); } }, a.name)],
      ['Tunnels', (a) => lim2(a.max_tunnels)], ['Connections', (a) => lim2(a.max_connections)],
      ['Addresses', (a) => `${a.addresses} / ${lim2(a.max_addresses)}`],
      ['Opening tunnels', (a) => a.create_raw_tunnel], ['Members', (a) => String(a.members)],
      ['Created', (a) => when(a.created)],
      ['', (a) => confirmButton('Delete', 'Confirm delete', async () => {
        await api('DELETE', `accounts/${seg(a.name)}`);
        if (state.scope === a.name) state.scope = '';
        renderChrome();
        reload();
      }, { 'aria-label': `Delete account ${a.name}` })],
    ], doc.accounts, 'No accounts yet.'), form, doc.accounts.length ? edit : null);
  });
}

function viewMembers(main) {
  return page(main, 'Members and roles', async (body, flash, reload) => {
    if (needAccount(body)) return;
    const doc = await api('GET', `members${query({ account: acct() })}`);
    const roles = new Map(doc.members.map((m) => [m.name, m.role]));
    // A role is given with its own button: a select's change event fires on each arrow key.
    const roleCell = (m) => {
      if (!atLeast('owner') || isMine(m.name) || RANK[m.role] > RANK[state.me.role]) return m.role;
      const sel = select(ROLES.filter((r) => RANK[r] <= RANK[state.me.role]).map((r) => [r, r]), m.role,
        { 'aria-label': `Role of ${m.name}` });
      const save = h('button', { type: 'button', 'aria-label': `Save the role of ${m.name}` }, 'Save');
      save.addEventListener('click', () => act(async () => {
        try {
          await api('PATCH', `members/${seg(m.name)}`, withAccount({ role: sel.value }));
        } catch (e) {
          sel.value = m.role;
          throw e;
        }
        m.role = sel.value;
        fill(flash, h('p.ok', null, `${m.name} is now ${sel.value}.`));
      }));
      return h('span.rolepick', null, sel, ' ', save);
    };
    const cols = [['Name', (m) => m.name], ['Role', roleCell], ['SSH keys', (m) => String(m.keys)],
      ['Tokens', (m) => String(m.tokens)], ['API keys', (m) => String(m.apikeys)],
      ['Added', (m) => when(m.created)]];
    if (atLeast('manager')) {
      cols.push(['', (m) => (isMine(m.name) || !mayActFor(m.name, 'owner', roles) ? '' : confirmButton('Remove', 'Confirm remove', async () => {
        await api('DELETE', `members/${seg(m.name)}${query({ account: state.me.operator ? acct() : undefined })}`);
        reload();
      }, { 'aria-label': `Remove member ${m.name}` }))]);
    }
    const parts = [table(cols, doc.members, 'No members.')];
    if (atLeast('manager')) {
      const name = h('input', { required: true, autocomplete: 'off' });
      const role = select(ROLES.filter((r) => RANK[r] <= RANK[state.me.role]).map((r) => [r, r]), 'developer');
      const form = h('form.card.inline', null, h('h2', null, 'Add a member'),
        field('Name', name), field('Role', role), h('button', { type: 'submit' }, 'Add member'));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        act(async () => {
          await api('POST', 'members', withAccount({ name: name.value.trim(), role: role.value }));
          fill(flash, h('p.ok', null, `Member ${name.value.trim()} added.`));
          reload();
        });
      });
      parts.push(form);
    }
    fill(body, parts);
  });
}

// The roles of the account's members, by name.
async function memberRoles() {
  const doc = await api('GET', `members${query({ account: acct() })}`);
  return new Map(doc.members.map((m) => [m.name, m.role]));
}

// May the caller act for member name (its keys, tokens, API keys), as the API decides:
// itself at role self, another at manager, never one whose role is above its own.
function mayActFor(name, self, roles) {
  if (state.me.operator) return true;
  if (name === state.me.member) return atLeast(self);
  if (!atLeast('manager')) return false;
  const r = roles.get(name);
  return !r || RANK[r] <= RANK[state.me.role];
}

// A "for whom" picker of the members the caller may act for (managers and above).
function memberPicker(roles) {
  if (!atLeast('manager')) return null;
  const names = [...roles.keys()].filter((n) => mayActFor(n, 'viewer', roles));
  return select(names.map((n) => [n, n]), state.me.operator ? '' : state.me.member);
}

function viewTokens(main) {
  return page(main, 'Tokens', async (body, flash, reload) => {
    if (needAccount(body)) return;
    const doc = await api('GET', `tokens${query({ account: acct() })}`);
    const roles = await memberRoles();
    const mayRevoke = (t) => mayActFor(t.member, 'developer', roles);
    const parts = [table([
      ['ID', (t) => String(t.id)], ['Member', (t) => t.member || ''],
      ['Created', (t) => when(t.created)], ['Expires', (t) => when(t.expires) || 'never'],
      ['Last used', (t) => when(t.last_used) || 'never'],
      ['State', (t) => (t.revoked ? badge('revoked', 'plain') : badge('active', 'online'))],
      ['', (t) => (!t.revoked && mayRevoke(t) ? confirmButton('Revoke', 'Confirm revoke', async () => {
        await api('DELETE', `tokens/${t.id}${query({ account: state.me.operator ? acct() : undefined })}`);
        reload();
      }, { 'aria-label': `Revoke token ${t.id}` }) : '')],
    ], doc.tokens, 'No tokens.')];
    if (atLeast('developer')) {
      const who = memberPicker(roles);
      const days = h('input', { type: 'number', min: 1, max: 3650, value: 30 });
      const form = h('form.card.inline', null, h('h2', null, 'Create a token'),
        who ? field('For member', who) : null, field('Valid for (days)', days),
        h('button', { type: 'submit' }, 'Create token'));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        act(async () => {
          const b = withAccount({ expires_days: Number(days.value) || 30 });
          if (who && who.value) b.member = who.value;
          const t = await api('POST', 'tokens', b);
          await reload();
          fill(flash, secretBox('token', t.token,
            h('p', null, 'It logs in to the gateway as the SSH user name (or the password) of ',
              h('code', null, 'ssh -R'), '.')));
        });
      });
      parts.push(form);
    }
    fill(body, parts);
  });
}

function viewApikeys(main) {
  return page(main, 'API keys', async (body, flash, reload) => {
    const doc = await api('GET', `apikeys${query({ account: acct() || undefined })}`);
    const roles = acct() ? await memberRoles() : new Map();
    const mayRevoke = (k) => (k.account === null ? state.me.operator
      : mayActFor(k.member, 'viewer', roles));
    const parts = [table([
      ['ID', (k) => String(k.id)], ['Account', (k) => k.account || '(operator)'],
      ['Member', (k) => k.member || ''], ['Role', (k) => k.role],
      ['Created', (k) => when(k.created)], ['Last used', (k) => when(k.last_used) || 'never'],
      ['State', (k) => (k.revoked ? badge('revoked', 'plain') : badge('active', 'online'))],
      ['', (k) => (!k.revoked && mayRevoke(k) ? confirmButton('Revoke', 'Confirm revoke', async () => {
        await api('DELETE', `apikeys/${k.id}`);
        reload();
      }, { 'aria-label': `Revoke API key ${k.id}` }) : '')],
    ], doc.apikeys, 'No API keys.')];
    // The operator makes an operator key only when it says so; a member's key needs an
    // account chosen first.
    const opKey = state.me.operator ? h('input', { type: 'checkbox', id: 'opkey' }) : null;
    const who = acct() ? memberPicker(roles) : null;
    const submit = h('button', { type: 'submit' }, 'Create API key');
    const note = h('small.hint', { id: 'apikey-note' });
    const sync = () => {
      const none = state.me.operator && !opKey.checked && !state.scope;
      submit.disabled = none;
      setText(note, none ? 'Choose an account at the top, or make an operator key.' : '');
      if (who) who.disabled = Boolean(opKey && opKey.checked);
    };
    const form = h('form.card.inline', null, h('h2', null, 'Create an API key'),
      who ? field('For member', who) : null,
      opKey ? h('div.radio', null, opKey, h('label', { for: 'opkey' }, 'An operator key (above every account)')) : null,
      submit, note);
    if (opKey) {
      opKey.addEventListener('change', sync);
      sync();
    }
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      act(async () => {
        let b;
        if (opKey && opKey.checked) b = { operator: true };
        else {
          b = withAccount({});
          if (who && who.value) b.member = who.value;
        }
        const k = await api('POST', 'apikeys', b);
        await reload();
        fill(flash, secretBox('API key', k.key));
      });
    });
    parts.push(form);
    fill(body, parts);
  });
}

function viewKeys(main) {
  return page(main, 'SSH keys', async (body, flash, reload) => {
    if (needAccount(body)) return;
    const doc = await api('GET', `keys${query({ account: acct() })}`);
    const roles = await memberRoles();
    const mayDelete = (k) => mayActFor(k.member, 'developer', roles);
    const parts = [table([
      ['Fingerprint', (k) => h('code', null, k.fingerprint)], ['Type', (k) => k.type],
      ['Comment', (k) => k.comment || ''], ['Member', (k) => k.member || '(keys file)'],
      ['Added', (k) => `${when(k.created)} by ${k.added_by}`],
      ['', (k) => (mayDelete(k) ? confirmButton('Delete', 'Confirm delete', async () => {
        await api('DELETE', `keys/${seg(k.fingerprint)}`);
        reload();
      }, { 'aria-label': `Delete key ${k.fingerprint}` }) : '')],
    ], doc.keys, 'No SSH keys.')];
    if (atLeast('developer')) {
      const who = memberPicker(roles);
      const key = h('textarea', { rows: 3, required: true, spellcheck: 'false', placeholder: 'ssh-ed25519 AAAA… comment' });
      const form = h('form.card.inline', null, h('h2', null, 'Add an SSH key'),
        who ? field('For member', who) : null,
        field('Public key (one line of ~/.ssh/id_*.pub)', key),
        h('button', { type: 'submit' }, 'Add key'));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        act(async () => {
          const b = withAccount({ key: key.value.trim() });
          if (who && who.value) b.member = who.value;
          const k = await api('POST', 'keys', b);
          fill(flash, h('p.ok', null, `Key ${k.fingerprint} added.`));
          reload();
        });
      });
      parts.push(form);
    }
    fill(body, parts);
  });
}

function viewAddresses(main) {
  return page(main, 'Reserved addresses', async (body, flash, reload) => {
    if (needAccount(body)) return;
    const doc = await api('GET', `addresses${query({ account: acct() })}`);
    const cols = [['Address', (a) => [a.public_endpoint, ' ', copyButton(a.public_endpoint, a.public_endpoint)]],
      ['Account', (a) => a.account], ['Reserved', (a) => when(a.created)]];
    if (atLeast('manager')) {
      cols.push(['', (a) => confirmButton('Release', 'Confirm release', async () => {
        await api('DELETE', `addresses/${a.port}${query({
          account: state.me.operator ? acct() : undefined,
          protocol: a.protocol === 'udp' ? 'udp' : undefined,
        })}`);
        reload();
      }, { 'aria-label': `Release ${a.public_endpoint}` })]);
    }
    const parts = [table(cols, doc.addresses, 'No addresses reserved.')];
    if (atLeast('manager')) {
      const port = h('input', { type: 'number', min: 1, max: 65535, placeholder: 'any free port' });
      const kind = select([['tcp', 'TCP'], ['udp', 'UDP']], 'tcp');
      const form = h('form.card.inline', null, h('h2', null, 'Reserve an address'),
        field('Protocol', kind),
        field('Port', port, 'empty: a random free port of the range'),
        h('button', { type: 'submit' }, 'Reserve'));
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        act(async () => {
          const b = withAccount({ protocol: kind.value });
          if (port.value !== '') b.port = Number(port.value);
          const a = await api('POST', 'addresses', b);
          fill(flash, h('p.ok', null, `Reserved ${a.public_endpoint}.`));
          reload();
        });
      });
      parts.push(form);
    }
    fill(body, parts);
  });
}

// A datetime-local value (local time) as RFC 3339 UTC, for since/until.
function utc(v) { return v ? new Date(v).toISOString().replace(/\.\d+Z$/, 'Z') : undefined; }

function viewEvents(main) {
  const type = select([['', 'any'], ['tunnel_opened', 'tunnel opened'], ['tunnel_closed', 'tunnel closed'],
    ['tcp_connection_closed', 'connection closed'], ['udp_flow_closed', 'UDP flow ended'],
    ['audit', 'audit (changes)']], '');
  const url = h('input', { placeholder: 'tcp://host:port', autocomplete: 'off' });
  const since = h('input', { type: 'datetime-local' });
  const until = h('input', { type: 'datetime-local' });
  const out = h('div');
  const more = h('button', { type: 'button', hidden: true }, 'Older events');
  const form = h('form.card.filters', { 'aria-label': 'Filter events' },
    field('Type', type), field('Tunnel address', url), field('From', since), field('Until', until),
    h('button', { type: 'submit' }, 'Show'));
  const tbody = h('tbody');
  let cursor = null;
  let filters = null;	// those of the first page: "older" goes on with them
  let busy = false;
  const load = async (reset) => {
    if (busy) return;
    if (reset) {
      filters = {
        type: type.value, url: url.value.trim(), since: utc(since.value),
        until: utc(until.value), limit: 100, account: acct() || undefined,
      };
    }
    busy = true;
    more.disabled = true;
    let doc;
    try {
      doc = await api('GET', `events${query({ ...filters, cursor: reset ? undefined : cursor })}`);
    } finally {
      busy = false;
      more.disabled = false;
    }
    if (reset) tbody.replaceChildren();
    for (const e of doc.events) {
      tbody.appendChild(h('tr', null, td('Time', when(e.time)), td('Event', e.event),
        td('Account', e.account || ''), td('Tunnel', e.url || ''), td('Client', e.client || ''),
        td('In', bytes(e.bytes_in)), td('Out', bytes(e.bytes_out)),
        td('Detail', h('code.detail', null, e.detail && Object.keys(e.detail).length ? JSON.stringify(e.detail) : ''))));
    }
    cursor = doc.next_cursor;
    more.hidden = !cursor;
    if (reset && doc.events.length === 0) tbody.appendChild(h('tr', null, h('td', { colspan: 8 }, 'No events match.')));
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); act(() => load(true)); });
  more.addEventListener('click', () => act(() => load(false)));
  fill(out, h('div.scroll', null, h('table.list', null, h('thead', null, h('tr', null,
    ['Time', 'Event', 'Account', 'Tunnel', 'Client', 'In', 'Out', 'Detail'].map((x) => h('th', { scope: 'col' }, x)))),
  tbody)), more);
  fill(main, h('h1', null, 'Events'), form, out);
  act(() => load(true));
  return { stop() {} };
}

// --- routing ---------------------------------------------------------------------------

const ROUTES = {
  tunnels: viewTunnels, new: viewNew, accounts: viewAccounts, members: viewMembers,
  tokens: viewTokens, keys: viewKeys, apikeys: viewApikeys, addresses: viewAddresses, events: viewEvents,
};

function route() {
  if (!state.me) return;
  if (state.view) state.view.stop();
  state.view = null;
  clearError();
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  let name = parts[0] || 'tunnels';
  if (!Object.hasOwn(ROUTES, name) || (name === 'accounts' && !state.me.operator)) name = 'tunnels';
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.nav === `#/${name}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = $('#main');
  state.view = name === 'tunnels' && parts[1] ? viewTunnel(main, parts[1]) : ROUTES[name](main);
  document.title = `tunnelgw · ${name}`;
  // Keyboard and screen-reader users start at the new page's content, not the old link.
  main.focus({ preventScroll: true });
}

async function start() {
  window.addEventListener('hashchange', route);
  if (!getKey()) { renderSignIn(); return; }
  if (await act(loadMe)) route();
  else renderSignIn();
}

start();
