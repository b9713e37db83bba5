// Events: the change feed (GET /v1/events) in feed order, the newest at the
// bottom, filtered by account and type. The page opens on the newest page
// (before=end); Load older puts the page before the oldest row shown above
// it (before=prev_cursor), and Live long-polls after the newest row
// (after=next_cursor) and appends events as they commit. The feed is read
// with an admin or service key: an account key is told so, and the page
// asks the API nothing.
'use strict';

(function () {
  const T = window.tally;
  const $ = (id) => document.getElementById(id);
  if (!$('events-page')) return;
  const who = T.session.who();
  const msg = $('events-msg');
  const table = $('events');
  const older = $('events-older');
  const status = $('events-status');
  const liveSwitch = $('events-live');
  const names = T.names('model-names');
  const modelName = (m) => names[m] || m;

  // WAIT is how long one poll of Live waits for an event: under the
  // proxies' usual idle timeouts, and within the API's bound.
  const WAIT = '25s';
  const params = new URLSearchParams(location.search);
  // ?limit= sets the page size (1 to 1000; 50 unless given).
  const LIMIT = (() => {
    const n = Number(params.get('limit'));
    return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : 50;
  })();

  if (!who) {
    msg.replaceChildren(T.el('a', { href: '/login?next=' + encodeURIComponent(location.pathname + location.search) }, 'Sign in'),
      ' with an admin key to read the change feed.');
    return;
  }
  if (who.scope === 'account') {
    msg.classList.add('msg-bad');
    msg.replaceChildren('The change feed tells of every account, so it is read with an admin key. This key reads account ',
      T.el('b', null, who.account), ' only. ', T.el('a', { href: T.accountHref(who.account) }, 'Open ' + who.account));
    return;
  }
  $('events-body').hidden = false;

  // The feed as shown: the cursor Load older reads before (null once the
  // oldest event is shown), the one Live reads after, how many rows show,
  // and a token that every new filter changes, so that an answer to an
  // older one is dropped.
  let prev = null;
  let next = '';
  let opened = false; // the newest page has been read: next is set
  let shown = 0;
  let seen = new Set(); // the ids shown: a page read twice adds nothing
  let token = 0;
  let loop = 0; // the Live loop in force: an older one stops
  let inflight = new Set(); // the AbortControllers of the requests under way
  let poll = null; // the AbortController of Live's poll under way
  let loading = null; // the read of the newest page or of an older one under way (a promise)
  let live = false;

  function filters() {
    return { account: $('events-account').value.trim(), type: $('events-type').value };
  }

  // query is the feed's query string: the page size, the place (after or
  // before a cursor, wait), then the filters in force.
  function query(place) {
    const f = filters();
    const q = new URLSearchParams({ limit: String(LIMIT) });
    for (const [k, v] of Object.entries(place)) if (v) q.set(k, v);
    if (f.type) q.set('types', f.type);
    if (f.account) q.set('account', f.account);
    return q.toString();
  }

  // --- A row ---------------------------------------------------------------

  const secondFormat = new Intl.DateTimeFormat('en-GB', {
    year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZone: 'UTC', timeZoneName: 'short',
  });
  function when(s) {
    const d = new Date(s);
    return isNaN(d) ? String(s || '') : secondFormat.format(d);
  }
  const code = (s) => T.el('code', null, String(s));
  const credits = (n) => T.credits(n === undefined || n === null ? 0 : n);

  // line joins the parts of a summary with middle dots; a part is a node,
  // a string or an array of them; empty ones are left out.
  function line(...parts) {
    const out = T.el('span', { class: 'summary' });
    let first = true;
    for (const p of parts) {
      if (p === null || p === undefined || p === '' || (Array.isArray(p) && !p.length)) continue;
      if (!first) out.append(' \u00b7 ');
      first = false;
      for (const x of Array.isArray(p) ? p : [p]) out.append(x instanceof Node ? x : String(x));
    }
    return out;
  }
  const by = (d) => (d.member ? ['by ', code(d.member)] : '');

  // summary says what an event's data tell, in a line; a type this page
  // does not know shows its data as they are.
  function summary(e) {
    const d = e.data || {};
    switch (e.type) {
      case 'grant.created':
        return line(['grant ', code(d.grant)], d.source, credits(d.credits) + ' credits',
          d.expires_at ? 'expires ' + when(d.expires_at) : '', d.subscription ? ['subscription ', code(d.subscription)] : '');
      case 'grant.expiring':
        return line(['grant ', code(d.grant)], d.source, credits(d.remaining) + ' credits left', 'expires ' + when(d.expires_at));
      case 'grant.expired':
        return line(['grant ', code(d.grant)], d.source, credits(d.expired_credits) + ' credits expired');
      case 'grant.voided':
        return line(['grant ', code(d.grant)], d.source, credits(d.voided_credits) + ' credits voided');
      case 'generation.created':
        return line(['generation ', code(d.generation)], modelName(d.model), T.plural(d.images || 0, 'image', 'images'),
          credits(d.hold_credits) + ' held', by(d));
      case 'generation.completed':
        return line(['generation ', code(d.generation)], modelName(d.model), T.plural(d.images_delivered || 0, 'image', 'images') + ' delivered',
          'charged ' + credits(d.charged_credits), by(d));
      case 'generation.failed':
      case 'generation.expired':
        return line(['generation ', code(d.generation)], modelName(d.model), by(d));
      case 'generation.refunded':
        return line(['generation ', code(d.generation)], modelName(d.model), 'refunded ' + credits(d.refunded_credits),
          credits(d.refunded_total) + ' refunded in all', by(d));
      case 'balance.low':
      case 'balance.recovered':
      case 'balance.depleted':
        return line('available ' + credits(d.available), d.threshold ? 'alert threshold ' + credits(d.threshold) : '');
      case 'member.limit_reached':
        return line(['member ', code(d.member)], 'used ' + credits(d.used) + ' of ' + credits(d.limit),
          'period ' + T.date(d.period_start) + ' \u2013 ' + T.date(new Date(Date.parse(d.period_end) - 1).toISOString()));
      case 'subscription.created':
      case 'subscription.renewed':
      case 'subscription.changed':
      case 'subscription.canceled':
        return line(['subscription ', code(d.subscription)], 'plan ' + d.plan, d.period ? 'period ' + d.period : '',
          d.next_plan ? 'changes to ' + d.next_plan + (d.next_at ? ' on ' + when(d.next_at) : '') : '',
          d.ends_at ? 'ends ' + when(d.ends_at) : '');
      case 'topup.requested':
      case 'topup.canceled':
        return line(['top-up ', code(d.topup)], credits(d.credits) + ' credits');
      case 'topup.confirmed':
        return line(['top-up ', code(d.topup)], credits(d.credits) + ' credits', d.grant ? ['grant ', code(d.grant)] : '');
      case 'catalog.published':
        return line(['version ', code(d.version)], 'effective ' + when(d.effective_at));
      default:
        return line(JSON.stringify(d));
    }
  }

  const tone = {
    'balance.low': 'badge-warn', 'balance.depleted': 'badge-bad', 'balance.recovered': 'badge-good',
    'grant.expiring': 'badge-warn', 'grant.expired': 'badge-bad', 'grant.voided': 'badge-bad',
    'generation.completed': 'badge-good', 'generation.failed': 'badge-bad', 'generation.expired': 'badge-bad',
    'member.limit_reached': 'badge-warn', 'topup.requested': 'badge-accent', 'topup.confirmed': 'badge-good',
    'topup.canceled': 'badge-bad', 'catalog.published': 'badge-accent',
  };

  function row(e) {
    // The event as the API answered it, for whoever needs the exact data.
    const raw = T.el('details', { class: 'raw' }, T.el('summary', null, 'JSON'),
      T.el('pre', null, JSON.stringify({ id: e.id, type: e.type, time: e.time, account: e.account, data: e.data }, null, 2)));
    return T.el('tr', { 'data-event': e.id, 'data-type': e.type, 'data-account': e.account || '' },
      T.el('td', { 'data-label': 'Time' }, T.el('time', { datetime: e.time }, when(e.time))),
      T.el('th', { scope: 'row', 'data-label': 'Type' }, T.el('span', { class: 'badge ' + (tone[e.type] || '') }, e.type)),
      T.el('td', { 'data-label': 'Account' }, e.account ? T.el('a', { href: T.accountHref(e.account) }, e.account) : T.el('span', { class: 'muted' }, 'none')),
      T.el('td', { 'data-label': 'What happened' }, summary(e), raw));
  }

  // --- The feed ------------------------------------------------------------

  function emptyText() {
    const f = filters();
    if (!f.account && !f.type) return 'No events yet.';
    return 'No events ' + (f.type ? 'of type ' + f.type + ' ' : '') + (f.account ? 'of account ' + f.account + ' ' : '') + 'yet.';
  }

  function showEmpty() {
    table.tBodies[0].replaceChildren(T.el('tr', { class: 'empty-row' }, T.el('td', { class: 'empty', colspan: '4' }, emptyText())));
  }

  // add shows the events not shown yet, above the rows shown (older
  // ones) or below them (newer ones).
  function add(events, above) {
    const fresh = events.filter((e) => !seen.has(e.id));
    if (!fresh.length) return;
    const body = table.tBodies[0];
    if (!shown) body.replaceChildren();
    for (const e of fresh) seen.add(e.id);
    if (above) body.prepend(...fresh.map(row));
    else body.append(...fresh.map(row));
    shown += fresh.length;
  }

  function showStatus() {
    let text = T.plural(shown, 'event', 'events');
    if (opened && prev === null && shown) text += ' \u00b7 back to the first';
    if (live) text += ' \u00b7 live: new events appear below as they happen';
    status.textContent = text;
    older.disabled = !!loading || (opened && prev === null);
  }

  // get asks the feed for a page, aborted by ctl or by a new filter.
  async function get(place, ctl) {
    inflight.add(ctl);
    try {
      return await T.api('/v1/events?' + query(place), { signal: ctl.signal });
    } finally {
      inflight.delete(ctl);
    }
  }

  function fail(e) {
    T.setMessage(msg, e.message, 'bad');
  }

  // loadOlder reads the newest page (before=end) when none has been read
  // under the filters in force, else the page before the oldest row shown,
  // and puts it above the rows. A page shorter than asked is the first:
  // nothing is older.
  function loadOlder() {
    if (loading) return loading;
    if (opened && prev === null) return Promise.resolve();
    const my = token;
    T.setMessage(msg, '');
    const p = (async () => {
      try {
        const page = await get({ before: opened ? prev : 'end' }, new AbortController());
        if (my !== token) return;
        const events = page.events || [];
        add(events, true);
        if (!opened) {
          next = page.next_cursor || '';
          opened = true;
        }
        prev = events.length >= LIMIT && page.prev_cursor ? page.prev_cursor : null;
      } catch (e) {
        if (e.name !== 'AbortError' && my === token) fail(e);
      } finally {
        if (loading === p) loading = null;
        if (my === token) {
          if (!shown) showEmpty();
          showStatus();
        }
      }
    })();
    loading = p;
    showStatus();
    return p;
  }

  // follow long-polls the feed after the newest row while Live is on and
  // the filters stay as they were; a refusal or a lost connection turns
  // Live off and says why. It starts once the newest page is read: Live
  // reads after it.
  async function follow() {
    const my = token;
    const me = ++loop;
    if (!opened) await loadOlder(); // the newest page, or the read of it under way
    if (!live || my !== token || me !== loop) return;
    if (!opened) {
      // The newest page was refused (its message shows): there is no
      // place to follow from.
      setLive(false);
      return;
    }
    let failures = 0;
    while (live && my === token && me === loop) {
      const asked = Date.now();
      const ctl = new AbortController();
      poll = ctl;
      try {
        const page = await get({ after: next, wait: WAIT }, ctl);
        if (my !== token) return;
        const events = page.events || [];
        add(events, false);
        if (page.next_cursor) next = page.next_cursor;
        failures = 0;
        showStatus();
        // An empty answer that did not wait (a server shutting down
        // answers its polls at once) is not asked again at once.
        if (!events.length && Date.now() - asked < 1000) await new Promise((r) => setTimeout(r, 1000));
      } catch (e) {
        if (e.name === 'AbortError' || !live || my !== token || me !== loop) return;
        // A dropped connection is tried again, a refusal is not.
        if (e.status === 0 && ++failures < 3) {
          await new Promise((r) => setTimeout(r, 1000 * failures));
          continue;
        }
        fail(e);
        setLive(false);
        return;
      } finally {
        if (poll === ctl) poll = null;
      }
    }
  }

  function setLive(on) {
    live = on;
    liveSwitch.checked = on;
    if (on) {
      T.setMessage(msg, '');
      follow();
    } else if (poll) {
      poll.abort();
    }
    showStatus();
  }

  // restart reads the feed's newest page under the filters in force.
  function restart() {
    token++;
    for (const ctl of inflight) ctl.abort();
    inflight = new Set();
    poll = null;
    loading = null;
    prev = null;
    next = '';
    opened = false;
    shown = 0;
    seen = new Set();
    table.tBodies[0].replaceChildren();
    const f = filters();
    const q = new URLSearchParams();
    if (f.account) q.set('account', f.account);
    if (f.type) q.set('type', f.type);
    if (params.has('limit')) q.set('limit', params.get('limit'));
    const s = q.toString();
    history.replaceState(null, '', location.pathname + (s ? '?' + s : ''));
    loadOlder();
    if (live) follow();
  }

  $('events-filter').addEventListener('submit', (e) => {
    e.preventDefault();
    restart();
  });
  $('events-type').addEventListener('change', restart);
  $('events-clear').addEventListener('click', () => {
    $('events-account').value = '';
    $('events-type').value = '';
    restart();
  });
  older.addEventListener('click', () => { loadOlder(); });
  liveSwitch.addEventListener('change', () => setLive(liveSwitch.checked));

  restart();
})();
