// Account: balances, grants, open holds, paged history, usage by model and
// day (an SVG drawn here from the API's sums), and CSV export. An account key
// sees its own account only: the console does not even ask for another.
// The support desk (support.js) adds its generations, its audit log and the
// actions; the buttons of the grants' and holds' rows are drawn here for it,
// and it asks this page to reload after an action (tally.accountPage).
// A team's page adds its members' use of their monthly limits and its usage
// by member; a member's key sees the team's pool and its own row only (the
// API answers it no other). The alerts, auto top-up and its requests show
// to every key that reads the account; the webhook deliveries of its events
// to an admin key only (the API answers no other).
'use strict';

(function () {
  const T = window.tally;
  const $ = (id) => document.getElementById(id);
  const who = T.session.who();
  const PAGE = 20;

  function signInLink(text) {
    return T.el('a', { href: '/login?next=' + encodeURIComponent(location.pathname + location.search) }, text || 'Sign in');
  }

  const page = $('account-page');
  if (!page) return;
  const id = page.dataset.account;
  const base = '/v1/accounts/' + encodeURIComponent(id);
  const msg = $('account-msg');
  const names = T.names('model-names');
  const plans = T.names('plan-names');
  const tags = T.names('tag-names');
  const modelName = (m) => names[m] || m;
  const planName = (p) => plans[p] || p;

  if (!who) {
    msg.replaceChildren(signInLink(), ' with an API key to see this account.');
    return;
  }
  if (!T.session.mayRead(id)) {
    msg.classList.add('msg-bad');
    msg.replaceChildren('This key reads account ', T.el('b', null, who.account), ' only. ',
      T.el('a', { href: T.accountHref(who.account) }, 'Open ' + who.account));
    return;
  }
  T.session.setAccount(id);
  T.renderAuth();

  // team: the account is a team's pool (its kind, from the API). zone is
  // the time zone of its members' periods: its subscription's, else its own.
  let team = false;
  let zone = 'UTC';

  const signed = (n) => (n > 0 ? '+' : '') + T.credits(n);
  const deltaClass = (n) => (n > 0 ? 'num delta-pos' : n < 0 ? 'num delta-neg' : 'num');
  function emptyRow(table, cols, text) {
    table.tBodies[0].replaceChildren(T.el('tr', null, T.el('td', { class: 'empty', colspan: String(cols) }, text)));
  }

  // The support desk's buttons on a grant's or a hold's row: support.js
  // opens the confirmation, which reads the grant or hold from the account
  // as loaded here (tally.accountPage.account()).
  const desk = T.session.maySupport();
  function act(kind, refId, label, name) {
    if (!desk) return null;
    return T.el('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-act': kind, 'data-id': refId, 'aria-label': label + ' ' + name }, label);
  }
  // voidable: a live grant with something left that a void can take back
  // (a day's free credits end at midnight; the overdraft is not a grant to
  // take back).
  const voidable = (g) => !g.expired_at && g.remaining_credits > 0 && g.source !== 'free' && g.source !== 'overdraft';
  let current = null; // the account as last loaded

  async function loadAccount() {
    const a = await T.api(base);
    current = a;
    team = a.kind === 'team';
    const active = (a.subscriptions || []).find((s) => s.id === a.subscription);
    zone = (active && active.time_zone) || a.time_zone || 'UTC';
    if (team) {
      $('account-kind').textContent = 'Team';
      $('a-available-hint').textContent = 'credits in the team\u2019s pool';
      if (who.member) $('usage-h').textContent = 'Your usage by model and day';
    }
    $('a-available').textContent = T.credits(a.available_credits);
    $('a-held').textContent = T.credits(a.held_credits);
    // A member's key is answered its own holds only; the held credits are the pool's.
    $('a-holds-count').textContent = team && who.member
      ? T.plural(a.open_holds.length, 'open hold', 'open holds') + ' of yours'
      : T.plural(a.open_holds.length, 'open hold', 'open holds');
    const b = a.balances || {};
    $('a-free').textContent = T.credits(b.free_credits || 0);
    $('a-subscription').textContent = T.credits(b.subscription_credits || 0);
    $('a-topup').textContent = T.credits(b.topup_credits || 0);
    $('a-other-card').hidden = !b.other_credits;
    $('a-other').textContent = T.credits(b.other_credits || 0);
    renderPlan(a);
    renderAlerts(a);
    const od = $('a-overdraft-card');
    od.hidden = !a.overdraft_credits;
    if (a.overdraft_credits) {
      $('a-overdraft').textContent = T.credits(a.overdraft_credits);
      $('a-overdraft-used').textContent = T.credits(a.overdraft_used_credits) + ' used';
    }

    const grants = $('grants');
    if (!a.grants.length) emptyRow(grants, 8, 'No grants yet.');
    else {
      grants.tBodies[0].replaceChildren(...a.grants.map((g) => T.el('tr', { 'data-grant': g.id },
        T.el('th', { scope: 'row', 'data-label': 'Source' }, T.el('span', { class: 'badge' }, g.source)),
        T.el('td', { class: 'num', 'data-label': 'Granted' }, T.credits(g.granted_credits)),
        T.el('td', { class: 'num', 'data-label': 'Remaining' }, T.credits(g.remaining_credits)),
        T.el('td', { class: 'num', 'data-label': 'Held' }, T.credits(g.held_credits)),
        T.el('td', { 'data-label': 'Expires' }, g.expired_at ? 'expired ' + T.time(g.expired_at) : g.expires_at ? T.time(g.expires_at) : 'never'),
        T.el('td', { 'data-label': 'Applies to' }, T.appliesTo(g.applies_to, modelName, (t) => tags[t])),
        T.el('td', { 'data-label': 'Memo' }, g.memo || ''),
        T.el('td', { class: 'act' }, voidable(g) ? act('void', g.id, 'Void', 'grant ' + g.id) : null))));
    }

    const holds = $('holds');
    if (!a.open_holds.length) emptyRow(holds, 6, 'No open holds.');
    else {
      holds.tBodies[0].replaceChildren(...a.open_holds.map((h) => T.el('tr', { 'data-hold': h.id },
        T.el('th', { scope: 'row', 'data-label': 'Hold' }, T.el('code', null, h.id)),
        T.el('td', { 'data-label': 'Generation' }, h.generation ? T.el('code', null, h.generation) : 'generic',
          h.member ? T.el('span', { class: 'muted' }, ' by ' + h.member) : null),
        T.el('td', { class: 'num', 'data-label': 'Credits' }, T.credits(h.credits)),
        T.el('td', { 'data-label': 'Created' }, T.time(h.created_at)),
        T.el('td', { 'data-label': 'Expires' }, T.time(h.expires_at)),
        T.el('td', { class: 'act' }, act('release', h.id, 'Release', 'hold ' + h.id)))));
    }
    return a;
  }

  // Members: what each used of the pool this period against their monthly
  // limit. The bar is the used share of the limit, drawn from the API's
  // two numbers (full when the limit is 0 or used past a lowered limit);
  // every figure shown is the API's. A member's key gets its own row only.
  const lastInstant = (s) => new Date(Date.parse(s) - 1).toISOString();
  function memberRow(m, mine) {
    const limit = m.monthly_limit_credits;
    const limited = limit !== null && limit !== undefined;
    let bar = null;
    if (limited) {
      const share = limit > 0 ? Math.min(1, Math.max(0, m.used_credits / limit)) : 1;
      const percent = Math.round(share * 1000) / 10;
      const fill = T.el('span', { class: 'meter-fill' });
      fill.style.width = percent + '%'; // CSSOM: allowed by the CSP, unlike a style attribute
      bar = T.el('div', {
        class: 'meter' + (share >= 1 ? ' meter-full' : share >= 0.8 ? ' meter-warn' : ''),
        role: 'meter', 'aria-label': (mine ? 'Your' : m.member + '\u2019s') + ' use of the limit',
        'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(percent),
        'aria-valuetext': T.credits(m.used_credits) + ' of ' + T.credits(limit) + ' credits used',
        'data-percent': String(percent),
      }, fill);
    }
    return T.el('tr', { 'data-member': m.member, class: mine ? 'row-current' : null },
      T.el('th', { scope: 'row', 'data-label': 'Member' }, T.el('code', null, m.member), mine ? T.el('span', { class: 'muted' }, ' (you)') : null),
      T.el('td', { class: 'num', 'data-label': 'Used / limit' }, T.credits(m.used_credits) + ' / ' + (limited ? T.credits(limit) : 'No limit')),
      T.el('td', { class: 'meter-cell', 'data-label': limited ? 'Share used' : null }, bar),
      T.el('td', { class: 'num', 'data-label': 'Remaining' }, limited ? T.credits(m.remaining_credits) : 'No limit'),
      T.el('td', { 'data-label': 'Resets' }, T.el('time', {
        datetime: m.period_end,
        title: T.zoneFormat(m.period_end, zone, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' }),
      }, T.date(m.period_end, zone))));
  }

  async function loadMembers() {
    const block = $('members-block');
    block.hidden = !team;
    if (!team) return;
    const mine = !!who.member;
    $('members-h').textContent = mine ? 'Your limit this period' : 'Members';
    $('members-hint').textContent = mine
      ? 'What you used of the team\u2019s credits this period, against your monthly limit. The balance above is the team\u2019s.'
      : 'What each member used of the team\u2019s credits this period, against their monthly limit.';
    const table = $('members');
    let rows;
    try {
      rows = (await T.api(base + '/members')).members || [];
    } catch (e) {
      emptyRow(table, 5, T.accountRefusal(e, id));
      return;
    }
    const first = rows[0];
    $('members-period').textContent = first
      ? 'This period: ' + T.date(first.period_start, zone) + ' \u2013 ' + T.date(lastInstant(first.period_end), zone)
      : '';
    if (!rows.length) {
      emptyRow(table, 5, mine ? 'You are not a member of this team.' : 'No members yet.');
      return;
    }
    table.tBodies[0].replaceChildren(...rows.map((m) => memberRow(m, mine && m.member === who.member)));
  }

  // The plan whose rules apply, the subscription it comes through, and the
  // unlimited windows in force, each day on the calendar of the account's
  // (or the subscription's) time zone.
  const billed = { month: 'billed monthly', quarter: 'billed quarterly', year: 'billed yearly' };
  function renderPlan(a) {
    const subs = a.subscriptions || [];
    const sub = subs.find((s) => s.id === a.subscription);
    $('a-plan').textContent = a.plan ? planName(a.plan) : 'No plan';
    const line = $('a-sub');
    if (sub) {
      const tz = sub.time_zone || a.time_zone;
      const parts = ['Subscription to ' + planName(sub.plan) + ', ' + (billed[sub.billing] || sub.billing)];
      if (sub.ends_at) {
        parts.push('ends on ' + T.date(sub.ends_at, tz));
      } else {
        const d = T.day(sub.starts_at, tz);
        parts.push('renews on the ' + T.ordinal(d) + ' of each month' + (d > 28 ? ' (the last day of shorter months)' : ''));
        if (sub.next_plan && sub.next_at) parts.push('changes to ' + planName(sub.next_plan) + ' on ' + T.date(sub.next_at, tz));
        else if (sub.renews_at) parts.push('next renewal ' + T.date(sub.renews_at, tz));
      }
      line.textContent = parts.join(' \u00b7 ');
    } else {
      // No subscription in force: one to come, or the last one that ended.
      const next = subs.find((s) => s.status === 'scheduled');
      const last = subs.filter((s) => s.status === 'ended').pop();
      const tz = a.time_zone;
      if (next) line.textContent = 'Subscription to ' + planName(next.plan) + ' starts on ' + T.date(next.starts_at, next.time_zone || tz);
      else if (last) line.textContent = 'Subscription to ' + planName(last.plan) + ' ended on ' + T.date(last.ends_at, last.time_zone || tz);
      else line.textContent = a.plan ? 'No subscription.' : '';
    }
    const windows = a.unlimited || [];
    const box = $('a-unlimited');
    box.hidden = !windows.length;
    const tz = (sub && sub.time_zone) || a.time_zone;
    box.replaceChildren(...windows.map((w) => {
      const parts = [T.list(w.models.map(modelName), 'and') + ' unlimited until ' + T.zoneFormat(w.until, tz, { month: 'short', day: 'numeric' })];
      if (w.daily_fast) {
        let fast = w.fast_left + ' of ' + T.plural(w.daily_fast, 'fast generation', 'fast generations') + ' left today';
        if (!w.fast_left) fast += w.after_fast === 'relaxed' ? ', then the relaxed queue until midnight' : ', more after midnight';
        parts.push(fast);
      }
      parts.push(w.open + ' of ' + w.max_concurrent + ' running');
      return T.el('li', { title: 'Until ' + T.zoneFormat(w.until, tz, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short' }) }, parts.join(' \u00b7 '));
    }));
  }

  // Alerts and auto top-up: the settings the account carries, and its
  // recent top-up requests, the pending one (at most one) called out.
  function renderAlerts(a) {
    const low = a.low_balance_credits;
    $('a-low').replaceChildren(low
      ? T.el('span', null, 'Below ' + T.credits(low) + ' credits',
        T.el('span', { class: 'hint' }, 'balance.low when the available balance falls below it, balance.recovered when it is back'))
      : T.el('span', null, 'Off', T.el('span', { class: 'hint' }, 'balance.depleted and balance.recovered still tell when the balance reaches 0 and comes back')));
    const at = a.auto_topup || {};
    $('a-auto').replaceChildren(at.amount_credits
      ? T.el('span', null, T.credits(at.amount_credits) + ' credits when the balance falls below ' + T.credits(at.threshold_credits),
        T.el('span', { class: 'hint' }, 'at most ' + T.credits(at.monthly_cap_credits) + ' credits a month'))
      : 'Off');
  }

  const topupTone = { pending: 'badge-warn', confirmed: 'badge-good', canceled: 'badge-bad' };
  async function loadTopups() {
    const list = (await T.api(base + '/topups?limit=5')).topups || [];
    const pending = list.find((t) => t.status === 'pending');
    $('a-pending-box').hidden = !pending;
    if (pending) {
      $('a-pending').replaceChildren(T.el('span', null, T.credits(pending.credits) + ' credits, requested ' + T.time(pending.created_at),
        T.el('span', { class: 'hint' }, T.el('code', null, pending.id), ' \u00b7 awaiting confirmation')));
    }
    $('topups-block').hidden = !list.length;
    $('topups').tBodies[0].replaceChildren(...list.map((t) => T.el('tr', { 'data-topup': t.id },
      T.el('th', { scope: 'row', 'data-label': 'Top-up' }, T.el('code', null, t.id)),
      T.el('td', { class: 'num', 'data-label': 'Credits' }, T.credits(t.credits)),
      T.el('td', { 'data-label': 'Status' }, T.el('span', { class: 'badge ' + (topupTone[t.status] || '') }, t.status),
        t.grant ? T.el('span', { class: 'muted' }, ' grant ', T.el('code', null, t.grant)) : null),
      T.el('td', { 'data-label': 'Requested' }, T.time(t.created_at)),
      T.el('td', { 'data-label': 'Answered' }, t.resolved_at ? T.time(t.resolved_at) : ''))));
  }

  // Webhook deliveries of the account's events, newest first, paged by the
  // API's next_before.
  const DELIVERIES = 20;
  const deliveryPages = [''];
  let deliveryIndex = 0;
  let deliveryNext = '';
  let endpoints = null; // webhook id → the endpoint
  const deliveryTone = { delivered: 'badge-good', pending: 'badge-warn', failed: 'badge-bad' };

  function lastAttempt(d) {
    if (!d.attempts) return T.el('span', { class: 'muted' }, 'not tried yet');
    const answer = d.last_status ? 'HTTP ' + d.last_status : 'no answer';
    return T.el('span', null, answer, d.last_error ? T.el('span', { class: 'muted' }, ': ' + d.last_error) : null,
      d.last_attempt_at ? T.el('span', { class: 'hint sub' }, T.time(d.last_attempt_at)) : null);
  }

  // endpoint is a delivery's endpoint: its URL and id, and whether it was
  // disabled (a deleted one is its id only).
  function endpoint(id) {
    const w = endpoints.get(id);
    if (!w) return [T.el('code', { class: 'sub' }, id + ' (deleted)')];
    const out = [T.el('span', { class: 'endpoint-url' }, w.url)];
    if (w.disabled_at) out.push(' ', T.el('span', { class: 'badge badge-bad', title: w.disabled_reason || '' }, 'disabled'));
    out.push(T.el('code', { class: 'sub' }, id));
    return out;
  }

  function deliveryStatus(d) {
    let note = '';
    if (d.status === 'pending' && d.next_at) note = 'next attempt ' + T.time(d.next_at);
    else if (d.status === 'delivered' && d.delivered_at) note = T.time(d.delivered_at);
    return [T.el('span', { class: 'badge ' + (deliveryTone[d.status] || '') }, d.status), note ? T.el('span', { class: 'hint sub' }, note) : null];
  }

  async function loadDeliveries() {
    const block = $('deliveries-block');
    block.hidden = who.scope !== 'admin';
    if (block.hidden) return;
    if (!endpoints) {
      endpoints = new Map(((await T.api('/v1/webhooks')).webhooks || []).map((w) => [w.id, w]));
    }
    const q = new URLSearchParams({ limit: String(DELIVERIES) });
    if (deliveryPages[deliveryIndex]) q.set('before', deliveryPages[deliveryIndex]);
    const page = await T.api(base + '/deliveries?' + q.toString());
    const list = page.deliveries || [];
    deliveryNext = page.next_before || '';
    const table = $('deliveries');
    if (!list.length) emptyRow(table, 6, deliveryIndex ? 'No older deliveries.' : 'No deliveries of this account\u2019s events.');
    else {
      table.tBodies[0].replaceChildren(...list.map((d) => T.el('tr', { 'data-delivery': d.id, 'data-status': d.status },
        T.el('th', { scope: 'row', 'data-label': 'Event' }, T.el('span', { class: 'badge' }, d.event_type), T.el('code', { class: 'sub' }, d.event)),
        T.el('td', { 'data-label': 'Endpoint' }, ...endpoint(d.webhook)),
        T.el('td', { 'data-label': 'Status' }, ...deliveryStatus(d)),
        T.el('td', { class: 'num', 'data-label': 'Attempts' }, String(d.attempts)),
        T.el('td', { 'data-label': 'Last attempt' }, lastAttempt(d)),
        T.el('td', { 'data-label': 'Made' }, T.time(d.created_at)))));
    }
    $('deliveries-page').textContent = 'Page ' + (deliveryIndex + 1);
    $('deliveries-newer').disabled = deliveryIndex === 0;
    $('deliveries-older').disabled = !deliveryNext;
  }
  $('deliveries-older').addEventListener('click', () => {
    if (!deliveryNext) return;
    deliveryPages[deliveryIndex + 1] = deliveryNext;
    deliveryIndex++;
    loadDeliveries().catch(fail);
  });
  $('deliveries-newer').addEventListener('click', () => {
    if (deliveryIndex === 0) return;
    deliveryIndex--;
    loadDeliveries().catch(fail);
  });

  // History: cursor paging. cursors[i] is the cursor of page i ('' = newest).
  const cursors = [''];
  let pageIndex = 0;
  let nextCursor = '';
  const kindLabel = { grant: 'Grant', hold: 'Hold', capture: 'Charge', release: 'Release', expire: 'Expiry', refund: 'Refund', void: 'Void', debit: 'Debit' };

  // charged is what a charge cost, with its list price when that differs
  // (a generation in an unlimited window is charged 0).
  function charged(n, list) {
    if (list && list !== n) return T.credits(n || 0) + ' (list price ' + T.credits(list) + ')';
    return n ? T.credits(n) : T.credits(null);
  }

  async function loadEntries() {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (cursors[pageIndex]) q.set('cursor', cursors[pageIndex]);
    const page = await T.api(base + '/entries?' + q.toString());
    nextCursor = page.next_cursor || '';
    const table = $('entries');
    if (!page.entries.length) emptyRow(table, 8, 'No entries yet.');
    else {
      // Charged is what the entry charged the account: positive for a
      // charge, negative for a refund, a dash for an entry that charges
      // nothing (a hold moves credits, it does not charge them).
      table.tBodies[0].replaceChildren(...page.entries.map((e) => T.el('tr', { 'data-entry': String(e.id), 'data-kind': e.kind },
        T.el('td', { 'data-label': 'Time' }, T.el('time', { datetime: e.time }, T.time(e.time))),
        T.el('th', { scope: 'row', 'data-label': 'Entry' }, T.el('span', { class: 'badge' }, kindLabel[e.kind] || e.kind), ' ', T.el('code', null, e.ref),
          e.member ? T.el('span', { class: 'muted' }, ' by ' + e.member) : null),
        T.el('td', { 'data-label': 'Model' }, e.model ? modelName(e.model) : ''),
        T.el('td', { 'data-label': 'Catalog' }, e.catalog_version ? T.el('code', { class: 'version' }, e.catalog_version) : ''),
        T.el('td', { class: deltaClass(e.available_delta), 'data-label': 'Available' }, signed(e.available_delta)),
        T.el('td', { class: deltaClass(e.held_delta), 'data-label': 'Held' }, signed(e.held_delta)),
        T.el('td', { class: 'num', 'data-label': 'Charged' }, charged(e.charged_delta, e.list_credits)),
        T.el('td', { class: 'num', 'data-label': 'Balance after' }, T.credits(e.available_after) + (e.held_after ? ' (' + T.credits(e.held_after) + ' held)' : '')))));
    }
    $('page-label').textContent = 'Page ' + (pageIndex + 1);
    $('page-newer').disabled = pageIndex === 0;
    $('page-older').disabled = !nextCursor;
  }

  $('page-older').addEventListener('click', () => {
    if (!nextCursor) return;
    cursors[pageIndex + 1] = nextCursor;
    pageIndex++;
    loadEntries().catch(fail);
  });
  $('page-newer').addEventListener('click', () => {
    if (pageIndex === 0) return;
    pageIndex--;
    loadEntries().catch(fail);
  });

  // Usage: the window's days, each split by model. The API sums by one
  // dimension at a time, so the chart asks by day, then by model for each
  // day that had charges. Every number shown is the API's.
  const DAY = 86400000;
  const palette = ['#8b7bff', '#4fc3f7', '#5fd08f', '#f3c15a', '#ff8a8a', '#f48fb1', '#80cbc4', '#ce93d8', '#ffab91', '#aed581'];
  const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');
  let usage = null;

  function usageWindow() {
    const days = Number($('usage-window').value);
    const now = new Date();
    const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    return { days: days, from: end - days * DAY, to: end };
  }

  async function loadUsage() {
    const w = usageWindow();
    const range = 'from=' + encodeURIComponent(iso(w.from)) + '&to=' + encodeURIComponent(iso(w.to));
    const [byDay, byModel] = await Promise.all([
      T.api(base + '/usage?group_by=day&' + range),
      T.api(base + '/usage?group_by=model&' + range),
    ]);
    const active = byDay.groups.filter((g) => g.count > 0 || g.charged_credits !== 0);
    const perDay = await Promise.all(active.map((g) => {
      const from = Date.parse(g.key + 'T00:00:00Z');
      return T.api(base + '/usage?group_by=model&from=' + encodeURIComponent(iso(from)) + '&to=' + encodeURIComponent(iso(from + DAY)))
        .then((u) => [g.key, g, u.groups]);
    }));
    usage = { window: w, days: new Map(perDay.map(([k, g, groups]) => [k, { total: g, models: groups }])), models: byModel.groups };
    drawUsage();
    renderUsageTable();
    await loadMemberUsage(w, range);
  }

  // Usage by member, on a team: what each member was charged in the
  // window. A member's key is not offered it: the API answers such a key
  // its own usage only, which the chart above already shows.
  async function loadMemberUsage(w, range) {
    const block = $('usage-members-block');
    block.hidden = !team || !!who.member;
    if (block.hidden) return;
    const byMember = await T.api(base + '/usage?group_by=member&' + range);
    const table = $('usage-members');
    if (!byMember.groups.length) emptyRow(table, 3, 'No charges in the last ' + w.days + ' days.');
    else {
      table.tBodies[0].replaceChildren(...byMember.groups.map((g) => T.el('tr', { 'data-member': g.key },
        T.el('th', { scope: 'row', 'data-label': 'Member' }, T.el('code', null, g.key)),
        T.el('td', { class: 'num', 'data-label': 'Charges' }, String(g.count)),
        T.el('td', { class: 'num', 'data-label': 'Credits' }, T.credits(g.charged_credits) +
          (g.list_credits && g.list_credits !== g.charged_credits ? ' (list price ' + T.credits(g.list_credits) + ')' : '')))));
    }
  }

  function colors() {
    const order = usage.models.slice().sort((a, b) => b.charged_credits - a.charged_credits).map((g) => g.key);
    const m = new Map();
    order.forEach((k, i) => m.set(k, palette[i % palette.length]));
    return m;
  }

  const svg = T.svg;
  const niceMax = T.niceMax;

  function drawUsage() {
    const box = $('usage-chart');
    const legend = $('usage-legend');
    const w = usage.window;
    if (!usage.days.size) {
      box.replaceChildren(T.el('p', { class: 'empty' }, 'No charges in the last ' + w.days + ' days.'));
      legend.replaceChildren();
      return;
    }
    const col = colors();
    const width = Math.max(300, box.clientWidth - 24);
    const height = 220;
    const pad = { l: 44, r: 8, t: 10, b: 26 };
    const plotW = width - pad.l - pad.r;
    const plotH = height - pad.t - pad.b;
    let top = 0;
    for (const d of usage.days.values()) top = Math.max(top, d.total.charged_credits);
    top = niceMax(top);
    const y = (v) => pad.t + plotH - (Math.max(0, v) / top) * plotH;
    const slot = plotW / w.days;
    const barW = Math.max(2, Math.min(28, slot * 0.7));
    const chart = svg('svg', {
      viewBox: '0 0 ' + width + ' ' + height, width: String(width), height: String(height), role: 'img',
      'aria-label': 'Credits charged per day over the last ' + w.days + ' days, stacked by model',
    });
    for (let i = 0; i <= 4; i++) {
      const v = (top * i) / 4;
      chart.append(svg('line', { class: i ? 'gridline' : 'axis', x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v) }),
        svg('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, T.credits(v)));
    }
    const every = Math.ceil(w.days / Math.max(1, Math.floor(plotW / 44)));
    for (let i = 0; i < w.days; i++) {
      const day = new Date(w.from + i * DAY).toISOString().slice(0, 10);
      const x = pad.l + i * slot + (slot - barW) / 2;
      if ((w.days - 1 - i) % every === 0) { // today always has its label
        const last = i === w.days - 1; // kept inside the chart's right edge
        chart.append(svg('text', { x: last ? x + barW : x + barW / 2, y: height - 8, 'text-anchor': last ? 'end' : 'middle' }, day.slice(5)));
      }
      const d = usage.days.get(day);
      if (!d) continue;
      let base = 0;
      const g = svg('g', { 'data-day': day });
      for (const m of d.models) {
        if (m.charged_credits <= 0) continue;
        const y0 = y(base);
        const y1 = y(base + m.charged_credits);
        base += m.charged_credits;
        g.append(svg('rect', { x: x, y: y1, width: barW, height: Math.max(1, y0 - y1), rx: 2, fill: col.get(m.key) || palette[0], 'data-model': m.key },
          svg('title', {}, day + ' \u00b7 ' + modelName(m.key) + ': ' + T.credits(m.charged_credits) + ' credits (' + T.plural(m.count, 'charge', 'charges') + ')')));
      }
      g.append(svg('title', {}, day + ': ' + T.credits(d.total.charged_credits) + ' credits'));
      chart.append(g);
    }
    box.replaceChildren(chart);
    legend.replaceChildren(...usage.models.map((m) => T.el('span', null,
      svg('svg', { width: '10', height: '10', 'aria-hidden': 'true' }, svg('rect', { width: '10', height: '10', rx: '3', fill: col.get(m.key) })),
      modelName(m.key))));
  }

  function renderUsageTable() {
    const table = $('usage-table');
    table.hidden = !usage.models.length;
    table.tBodies[0].replaceChildren(...usage.models.map((m) => T.el('tr', null,
      T.el('th', { scope: 'row', 'data-label': 'Model' }, modelName(m.key)),
      T.el('td', { class: 'num', 'data-label': 'Charges' }, String(m.count)),
      T.el('td', { class: 'num', 'data-label': 'Credits' }, T.credits(m.charged_credits) +
        (m.list_credits && m.list_credits !== m.charged_credits ? ' (list price ' + T.credits(m.list_credits) + ')' : '')))));
  }

  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (usage) drawUsage(); }, 150);
  });
  $('usage-window').addEventListener('change', () => loadUsage().catch(fail));

  // CSV export: the API's CSV, every page of it, saved through a Blob.
  const fileId = id.replace(/[^A-Za-z0-9._-]+/g, '_');
  async function exportEntries(btn) {
    btn.disabled = true;
    try {
      let cursor = '';
      let out = '';
      for (let n = 0; n < 1000; n++) {
        const q = new URLSearchParams({ limit: '1000' });
        if (cursor) q.set('cursor', cursor);
        const r = await T.api(base + '/entries?' + q.toString(), { csv: true });
        let text = await r.text();
        if (out) text = text.slice(text.indexOf('\n') + 1); // one header row
        out += text;
        cursor = r.headers.get('Next-Cursor') || '';
        if (!cursor) break;
      }
      T.download(new Blob([out], { type: 'text/csv' }), 'tally-' + fileId + '-history.csv');
    } catch (e) {
      fail(e);
    } finally {
      btn.disabled = false;
    }
  }
  async function exportUsage(btn) {
    btn.disabled = true;
    try {
      const w = usageWindow();
      const r = await T.api(base + '/usage?group_by=day&from=' + encodeURIComponent(iso(w.from)) + '&to=' + encodeURIComponent(iso(w.to)), { csv: true });
      T.download(new Blob([await r.text()], { type: 'text/csv' }), 'tally-' + fileId + '-usage-' + w.days + 'd.csv');
    } catch (e) {
      fail(e);
    } finally {
      btn.disabled = false;
    }
  }
  $('csv-entries').addEventListener('click', (e) => exportEntries(e.currentTarget));
  $('csv-usage').addEventListener('click', (e) => exportUsage(e.currentTarget));

  function fail(e) {
    T.setMessage(msg, T.accountRefusal(e, id), 'bad');
  }

  // What the support desk (support.js) reads and asks of this page: the
  // account as last loaded, and a reload after an action, which answers
  // the account as it is now.
  let markReady;
  T.accountPage = {
    id: id,
    base: base,
    // ready settles once the account has loaded (never, when it cannot).
    ready: new Promise((resolve) => { markReady = resolve; }),
    account: () => current,
    async reload() {
      const a = await loadAccount();
      pageIndex = 0;
      await Promise.all([loadEntries(), loadUsage(), loadTopups()]);
      return a;
    },
  };

  (async function () {
    try {
      await loadAccount();
      await loadMembers();
    } catch (e) {
      fail(e);
      return;
    }
    $('account-body').hidden = false;
    $('account-actions').hidden = false;
    markReady(current);
    try {
      await Promise.all([loadEntries(), loadUsage(), loadTopups(), loadDeliveries()]);
    } catch (e) {
      fail(e);
    }
  })();
})();
