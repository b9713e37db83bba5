// Reports: liability (credits outstanding by grant source, and how much of
// them expires within 7, 30 and 90 days) and consumption (credits charged,
// grouped by model, source or day, and which kind of balance paid them),
// from GET /v1/reports/…; each as cards, an SVG chart drawn here and a
// table, and as the API's CSV. Admin and support keys only.
//
// Every figure shown is the API's; the only sums made here are a bar's
// height on a chart, in integer thousandths (tally.milli).
'use strict';

(function () {
  const T = window.tally;
  const $ = (id) => document.getElementById(id);
  if (!$('reports-page')) return;
  const who = T.session.who();
  const msg = $('reports-msg');
  const names = T.names('model-names');
  const sourceNames = T.names('source-names');
  const order = Object.keys(sourceNames); // the order the charts stack sources in
  const sourceName = (s) => sourceNames[s] || s;

  if (!who) {
    msg.replaceChildren(T.el('a', { href: '/login?next=' + encodeURIComponent(location.pathname + location.search) }, 'Sign in'),
      ' with an admin or support key to see the reports.');
    return;
  }
  if (!T.session.maySupport()) {
    T.setMessage(msg, 'Reports need an admin or support key.', 'bad');
    return;
  }
  $('reports-body').hidden = false;

  const DAY = 86400000;
  const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  const params = new URLSearchParams(location.search);
  const isDate = (s) => /^\d{4}-\d{2}-\d{2}$/.test(s || '');
  function remember() {
    const q = new URLSearchParams();
    if ($('liability-at').value) q.set('at', $('liability-at').value);
    q.set('from', $('consumption-from').value);
    q.set('to', $('consumption-to').value);
    q.set('group_by', $('consumption-by').value);
    history.replaceState(null, '', '/reports?' + q.toString());
  }

  function chartWidth(box) { return Math.max(300, box.clientWidth - 24); }
  function swatch(color) {
    return T.svg('svg', { width: '10', height: '10', 'aria-hidden': 'true' }, T.svg('rect', { width: '10', height: '10', rx: '3', fill: color }));
  }

  // Liability.
  let liability = null;
  const six = [
    ['outstanding_credits', 'Outstanding'],
    ['expiring_within_7_days_credits', 'Within 7 days'],
    ['expiring_within_30_days_credits', 'Within 30 days'],
    ['expiring_within_90_days_credits', 'Within 90 days'],
    ['never_expiring_credits', 'Never expiring'],
    ['past_expiry_credits', 'Past expiry'],
  ];

  async function loadLiability() {
    const at = $('liability-at').value;
    const r = await T.api('/v1/reports/liability' + (at ? '?at=' + encodeURIComponent(at) : ''));
    liability = r;
    $('liability-when').textContent = at ? 'At ' + at + ' 00:00 UTC.' : 'Now: ' + T.time(r.at) + '.';
    $('l-outstanding').textContent = T.credits(r.outstanding_credits);
    $('l-within7').textContent = T.credits(r.expiring_within_7_days_credits);
    $('l-within30').textContent = T.credits(r.expiring_within_30_days_credits);
    $('l-within90').textContent = T.credits(r.expiring_within_90_days_credits);
    $('l-never').textContent = T.credits(r.never_expiring_credits);
    $('l-past-card').hidden = !r.past_expiry_credits;
    $('l-past').textContent = T.credits(r.past_expiry_credits);
    const table = $('liability-table');
    const rows = r.by_source || [];
    if (!rows.length) {
      table.tBodies[0].replaceChildren(T.el('tr', null, T.el('td', { class: 'empty', colspan: '7' }, 'Nothing outstanding.')));
    } else {
      table.tBodies[0].replaceChildren(...rows.map((s) => T.el('tr', { 'data-source': s.source },
        T.el('th', { scope: 'row', 'data-label': 'Source' }, sourceName(s.source)),
        ...six.map(([k, label]) => T.el('td', { class: 'num', 'data-label': label }, T.credits(s[k]))))));
    }
    table.tFoot.replaceChildren(T.el('tr', { 'data-source': 'total' },
      T.el('th', { scope: 'row', 'data-label': 'Source' }, 'Total'),
      ...six.map(([k, label]) => T.el('td', { class: 'num', 'data-label': label }, T.credits(r[k])))));
    drawLiability();
  }

  // drawLiability: one horizontal bar per source, its outstanding credits
  // written at its end. The overdraft's (0 or less) runs left of zero.
  function drawLiability() {
    const box = $('liability-chart');
    const rows = (liability.by_source || []).filter((s) => T.milli(s.outstanding_credits) !== 0);
    if (!rows.length) {
      box.replaceChildren(T.el('p', { class: 'empty' }, 'Nothing outstanding.'));
      return;
    }
    const width = chartWidth(box);
    const rowH = 30;
    const pad = { l: 104, r: 72, t: 6, b: 6 };
    const height = pad.t + pad.b + rows.length * rowH;
    const values = rows.map((s) => T.milli(s.outstanding_credits));
    const hi = Math.max(0, ...values);
    const lo = Math.min(0, ...values);
    const span = hi - lo || 1;
    const plotW = width - pad.l - pad.r;
    const x = (v) => pad.l + ((v - lo) / span) * plotW;
    const chart = T.svg('svg', {
      viewBox: '0 0 ' + width + ' ' + height, width: String(width), height: String(height), role: 'img',
      'aria-label': 'Credits outstanding by grant source',
    });
    chart.append(T.svg('line', { class: 'axis', x1: x(0), x2: x(0), y1: pad.t, y2: height - pad.b }));
    rows.forEach((s, i) => {
      const v = values[i];
      const y = pad.t + i * rowH;
      const x0 = Math.min(x(0), x(v));
      const w = Math.max(1, Math.abs(x(v) - x(0)));
      chart.append(T.svg('g', { 'data-source': s.source },
        T.svg('text', { class: 'bar-label', x: pad.l - 8, y: y + rowH / 2 + 4, 'text-anchor': 'end' }, sourceName(s.source)),
        T.svg('rect', { x: x0, y: y + 5, width: w, height: rowH - 10, rx: 3, fill: T.sourceColors[s.source] || '#8b7bff' },
          T.svg('title', {}, sourceName(s.source) + ': ' + T.credits(s.outstanding_credits) + ' credits outstanding')),
        T.svg('text', { class: 'bar-value', x: v < 0 ? x0 - 6 : x0 + w + 6, y: y + rowH / 2 + 4, 'text-anchor': v < 0 ? 'end' : 'start' },
          T.credits(s.outstanding_credits))));
    });
    box.replaceChildren(chart);
  }

  // Consumption.
  let consumption = null;
  const groupLabel = { model: 'Model', source: 'Source', day: 'Day' };
  function keyName(by, key) {
    if (by === 'model') return key === 'other' ? 'Other (generic holds)' : names[key] || key;
    if (by === 'source') return sourceName(key);
    return key;
  }

  async function loadConsumption() {
    const q = new URLSearchParams({ from: $('consumption-from').value, to: $('consumption-to').value, group_by: $('consumption-by').value });
    const r = await T.api('/v1/reports/consumption?' + q.toString());
    consumption = r;
    const by = r.group_by;
    $('consumption-total').textContent = 'Charged ' + T.credits(r.charged_credits) + ' credits in ' + T.plural(r.charges, 'charge', 'charges') +
      ' from ' + String(r.from).slice(0, 10) + ' to ' + String(r.to).slice(0, 10) + ' (not included), net of refunds.';
    const present = sourcesOf(r);
    const table = $('consumption-table');
    table.tHead.replaceChildren(T.el('tr', null,
      T.el('th', { scope: 'col' }, groupLabel[by] || by),
      T.el('th', { scope: 'col', class: 'num' }, 'Charged'),
      T.el('th', { scope: 'col', class: 'num' }, 'Charges'),
      ...present.map((s) => T.el('th', { scope: 'col', class: 'num' }, sourceName(s)))));
    const groups = r.groups || [];
    const cols = 3 + present.length;
    if (!groups.length) {
      table.tBodies[0].replaceChildren(T.el('tr', null, T.el('td', { class: 'empty', colspan: String(cols) }, 'No charges in this window.')));
    } else {
      table.tBodies[0].replaceChildren(...groups.map((g) => T.el('tr', { 'data-key': g.key },
        T.el('th', { scope: 'row', 'data-label': groupLabel[by] || by }, keyName(by, g.key)),
        T.el('td', { class: 'num', 'data-label': 'Charged' }, T.credits(g.charged_credits)),
        T.el('td', { class: 'num', 'data-label': 'Charges' }, String(g.charges)),
        ...present.map((s) => T.el('td', { class: 'num', 'data-label': sourceName(s), 'data-source': s }, T.credits((g.by_source || {})[s] || 0))))));
    }
    table.tFoot.replaceChildren(T.el('tr', { 'data-key': 'total' },
      T.el('th', { scope: 'row', 'data-label': groupLabel[by] || by }, 'Total'),
      T.el('td', { class: 'num', 'data-label': 'Charged' }, T.credits(r.charged_credits)),
      T.el('td', { class: 'num', 'data-label': 'Charges' }, String(r.charges)),
      ...present.map((s) => T.el('td', { class: 'num', 'data-label': sourceName(s), 'data-source': s }, T.credits((r.by_source || {})[s] || 0)))));
    $('consumption-legend').replaceChildren(...present.map((s) => T.el('span', { 'data-source': s }, swatch(T.sourceColors[s] || '#8b7bff'), sourceName(s))));
    drawConsumption();
  }

  // sourcesOf: the sources that paid anything in the report, in the
  // charts' order (any the page does not name, after).
  function sourcesOf(r) {
    const seen = new Set();
    const note = (m) => { for (const k of Object.keys(m || {})) if (T.milli(m[k]) !== 0) seen.add(k); };
    note(r.by_source);
    for (const g of r.groups || []) note(g.by_source);
    return order.filter((s) => seen.has(s)).concat(Array.from(seen).filter((s) => !order.includes(s)).sort());
  }

  // drawConsumption: one bar per group, stacked by the source that paid,
  // its total written above it. Refunds that outweigh a group's charges
  // (a day of refunds only) stack below zero.
  function drawConsumption() {
    const box = $('consumption-chart');
    const r = consumption;
    const groups = r.groups || [];
    if (!groups.length) {
      box.replaceChildren(T.el('p', { class: 'empty' }, 'No charges in this window.'));
      return;
    }
    const present = sourcesOf(r);
    // Each group's parts, in thousandths, and the extent of the stacks.
    const stacks = groups.map((g) => {
      let up = 0;
      let down = 0;
      const parts = present.map((s) => {
        const v = T.milli((g.by_source || {})[s] || 0);
        const part = { source: s, v: v, from: v >= 0 ? up : down };
        if (v >= 0) up += v; else down += v;
        part.to = v >= 0 ? up : down;
        return part;
      });
      return { g: g, parts: parts, up: up, down: down };
    });
    const hi = T.niceMax(Math.max(0, ...stacks.map((s) => s.up)) / 1000) * 1000;
    const lo = Math.min(0, ...stacks.map((s) => s.down));
    const width = chartWidth(box);
    const pad = { l: 48, r: 8, t: 22, b: 40 };
    const height = 260 + (lo < 0 ? 40 : 0);
    const plotW = width - pad.l - pad.r;
    const plotH = height - pad.t - pad.b;
    const span = hi - lo || 1;
    const y = (v) => pad.t + ((hi - v) / span) * plotH;
    const slot = plotW / groups.length;
    const barW = Math.max(3, Math.min(56, slot * 0.6));
    const chart = T.svg('svg', {
      viewBox: '0 0 ' + width + ' ' + height, width: String(width), height: String(height), role: 'img',
      'aria-label': 'Credits charged by ' + (groupLabel[r.group_by] || r.group_by).toLowerCase() + ', stacked by the source that paid',
    });
    for (let i = 0; i <= 4; i++) {
      const v = Math.round((hi * i) / 4);
      chart.append(T.svg('line', { class: i ? 'gridline' : 'axis', x1: pad.l, x2: width - pad.r, y1: y(v), y2: y(v) }),
        T.svg('text', { x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, T.creditsOf(v)));
    }
    const every = Math.ceil(groups.length / Math.max(1, Math.floor(plotW / 64)));
    stacks.forEach((st, i) => {
      const g = st.g;
      const x = pad.l + i * slot + (slot - barW) / 2;
      const name = keyName(r.group_by, g.key);
      const bar = T.svg('g', { 'data-key': g.key });
      for (const p of st.parts) {
        if (!p.v) continue;
        const top = y(Math.max(p.from, p.to));
        const bottom = y(Math.min(p.from, p.to));
        bar.append(T.svg('rect', { x: x, y: top, width: barW, height: Math.max(1, bottom - top), fill: T.sourceColors[p.source] || '#8b7bff', 'data-source': p.source, 'data-credits': T.decimal(p.v) },
          T.svg('title', {}, name + ' \u00b7 ' + sourceName(p.source) + ': ' + T.creditsOf(p.v) + ' credits')));
      }
      bar.append(T.svg('text', { class: 'bar-total', x: x + barW / 2, y: y(st.up) - 6, 'text-anchor': 'middle' }, T.credits(g.charged_credits)));
      if ((groups.length - 1 - i) % every === 0) {
        const short = name.length > 12 ? name.slice(0, 11) + '\u2026' : name;
        bar.append(T.svg('text', { class: 'bar-label', x: x + barW / 2, y: height - pad.b + 16, 'text-anchor': 'middle' }, short));
      }
      chart.append(bar);
    });
    box.replaceChildren(chart);
  }

  // CSV: the API's, fetched with the key and saved through a Blob.
  async function csv(btn, path, file) {
    btn.disabled = true;
    try {
      const r = await T.api(path, { csv: true });
      T.download(new Blob([await r.text()], { type: 'text/csv' }), file);
    } catch (e) {
      T.setMessage(msg, e.message, 'bad');
    } finally {
      btn.disabled = false;
    }
  }
  $('liability-csv').addEventListener('click', (e) => {
    const at = $('liability-at').value;
    csv(e.currentTarget, '/v1/reports/liability' + (at ? '?at=' + encodeURIComponent(at) : ''), 'tally-liability-' + (at || 'now') + '.csv');
  });
  $('consumption-csv').addEventListener('click', (e) => {
    const q = new URLSearchParams({ from: $('consumption-from').value, to: $('consumption-to').value, group_by: $('consumption-by').value });
    csv(e.currentTarget, '/v1/reports/consumption?' + q.toString(),
      'tally-consumption-' + q.get('from') + '-' + q.get('to') + '-by-' + q.get('group_by') + '.csv');
  });

  const fail = (e) => T.setMessage(msg, e.message, 'bad');
  $('liability-form').addEventListener('submit', (e) => {
    e.preventDefault();
    T.setMessage(msg, '');
    remember();
    loadLiability().catch(fail);
  });
  $('consumption-form').addEventListener('submit', (e) => {
    e.preventDefault();
    T.setMessage(msg, '');
    remember();
    loadConsumption().catch(fail);
  });
  $('consumption-by').addEventListener('change', () => $('consumption-form').requestSubmit());

  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (liability) drawLiability();
      if (consumption) drawConsumption();
    }, 150);
  });

  // The windows asked in the address, or now and the last 30 days (today
  // included).
  if (isDate(params.get('at'))) $('liability-at').value = params.get('at');
  $('consumption-from').value = isDate(params.get('from')) ? params.get('from') : isoDay(today - 29 * DAY);
  $('consumption-to').value = isDate(params.get('to')) ? params.get('to') : isoDay(today + DAY);
  if (['model', 'source', 'day'].includes(params.get('group_by'))) $('consumption-by').value = params.get('group_by');
  loadLiability().catch(fail);
  loadConsumption().catch(fail);
})();
