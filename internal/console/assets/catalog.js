// Catalog: the diff between two versions, from GET /v1/catalog/diff, and
// beside it what the newer of the two would have charged for the
// generations of a window (GET /v1/catalog/impact, admin and support keys).
'use strict';

(function () {
  const T = window.tally;
  const form = document.getElementById('diff-form');
  if (!form) return;
  const out = document.getElementById('diff');
  const msg = document.getElementById('diff-msg');
  const from = document.getElementById('from');
  const to = document.getElementById('to');
  const names = {};
  document.querySelectorAll('#model-names option').forEach((o) => { names[o.value] = o.textContent; });
  // The model's name: from the catalog in use, or as the diff gives it for
  // a model added or removed.
  function modelName(c) {
    if (c.kind === 'model_added') return c.new || c.model;
    if (c.kind === 'model_removed') return c.old || c.model;
    return names[c.model] || c.model;
  }

  const kinds = {
    model_added: ['Model added', 'badge-good'],
    model_removed: ['Model removed', 'badge-bad'],
    price_up: ['Price up', 'badge-bad'],
    price_down: ['Price down', 'badge-good'],
    price_added: ['Price added', 'badge-accent'],
    price_removed: ['Price removed', 'badge-warn'],
    aspect_ratio_added: ['Aspect ratio added', 'badge-accent'],
    aspect_ratio_removed: ['Aspect ratio removed', 'badge-warn'],
    setting_changed: ['Setting changed', ''],
    plan_added: ['Plan added', 'badge-accent'],
    plan_removed: ['Plan removed', 'badge-warn'],
    plan_changed: ['Plan changed', ''],
    allowance_added: ['Allowance added', 'badge-good'],
    allowance_removed: ['Allowance removed', 'badge-bad'],
    allowance_changed: ['Allowance changed', ''],
    window_added: ['Unlimited window added', 'badge-good'],
    window_removed: ['Unlimited window removed', 'badge-bad'],
    window_changed: ['Unlimited window changed', ''],
  };

  function summary(changes) {
    const count = {};
    for (const c of changes) count[c.kind] = (count[c.kind] || 0) + 1;
    const parts = [];
    let named = 0;
    const say = (k, one, many) => {
      if (!count[k]) return;
      parts.push(T.plural(count[k], one, many));
      named += count[k];
    };
    say('price_up', 'price up', 'prices up');
    say('price_down', 'price down', 'prices down');
    say('model_added', 'model added', 'models added');
    say('model_removed', 'model removed', 'models removed');
    if (changes.length > named) parts.push(T.plural(changes.length - named, 'other change', 'other changes'));
    return parts.join(', ');
  }

  async function compare() {
    T.setMessage(msg, '');
    const q = new URLSearchParams({ from: from.value, to: to.value });
    history.replaceState(null, '', '/catalog?' + q.toString());
    if (from.value === to.value) {
      out.replaceChildren();
      T.setMessage(msg, 'Pick two different versions to compare.');
      return;
    }
    try {
      const d = await T.api('/v1/catalog/diff?' + q.toString());
      if (!d.changes.length) {
        out.replaceChildren(T.el('p', { class: 'muted' }, 'No differences between ' + d.from + ' and ' + d.to + '.'));
        return;
      }
      const rows = d.changes.map((c) => {
        const [label, cls] = kinds[c.kind] || [c.kind, ''];
        const delta = c.delta ? (c.delta > 0 ? '+' : '') + T.credits(c.delta) : '';
        const model = c.kind === 'model_added' || c.kind === 'model_removed';
        return T.el('tr', { 'data-kind': c.kind },
          T.el('td', { 'data-label': 'Change' }, T.el('span', { class: 'badge ' + cls }, label)),
          c.plan
            ? T.el('th', { scope: 'row', 'data-label': 'Plan' }, 'Plan ', T.el('code', { class: 'muted' }, c.plan))
            : T.el('th', { scope: 'row', 'data-label': 'Model' }, modelName(c), ' ', T.el('code', { class: 'muted' }, c.model)),
          T.el('td', { 'data-label': 'What' }, c.what || ''),
          T.el('td', { 'data-label': 'Before → after' }, !model && (c.old || c.new) ? (c.old || 'none') + ' \u2192 ' + (c.new || 'none') : ''),
          T.el('td', { class: 'num ' + (c.delta > 0 ? 'up' : c.delta < 0 ? 'down' : ''), 'data-label': 'Difference' }, delta));
      });
      out.replaceChildren(
        T.el('p', { class: 'muted', id: 'diff-summary' }, d.from + ' \u2192 ' + d.to + ': ' + summary(d.changes) + '.'),
        T.el('table', { class: 'table stack', id: 'diff-table' },
          T.el('thead', null, T.el('tr', null, ...['Change', 'Model', 'What', 'Before → after', 'Difference'].map((h, i) =>
            T.el('th', { scope: 'col', class: i === 4 ? 'num' : null }, h)))),
          T.el('tbody', null, ...rows)));
    } catch (e) {
      out.replaceChildren();
      T.setMessage(msg, e.message, 'bad');
    }
  }

  // What would it have charged: the impact of a version over a window,
  // by default the newer of the two compared over the last 30 days.
  const impactForm = document.getElementById('impact-form');
  const impactOut = document.getElementById('impact');
  const impactMsg = document.getElementById('impact-msg');
  const impactVersion = document.getElementById('impact-version');
  const DAY = 86400000;
  const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
  const now = new Date();
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  document.getElementById('impact-from').value = isoDay(today - 29 * DAY);
  document.getElementById('impact-to').value = isoDay(today + DAY);
  // newer is the newer of two versions: the options list them newest first.
  function newer(a, b) {
    const rank = (v) => Array.from(from.options).findIndex((o) => o.value === v);
    return rank(a) <= rank(b) ? a : b;
  }
  const signed = (n) => (n > 0 ? '+' : '') + T.credits(n);
  const change = (n) => 'num ' + (n > 0 ? 'up' : n < 0 ? 'down' : '');
  function unpriced(m) {
    if (!m.unpriced_generations) return T.credits(0);
    const why = Object.keys(m.unpriced_reasons || {}).sort().map((r) => r + ' \u00d7 ' + m.unpriced_reasons[r]);
    return [String(m.unpriced_generations) + ' (charged ' + T.credits(m.unpriced_then_credits) + ')',
      why.length ? T.el('span', { class: 'sub' }, why.join(', ')) : null];
  }
  function impactRow(m, total) {
    const cells = [
      T.el('td', { class: 'num', 'data-label': 'Generations' }, String(m.generations)),
      T.el('td', { class: 'num', 'data-label': 'Charged then' }, T.credits(m.charged_then_credits)),
      T.el('td', { class: 'num', 'data-label': 'Charged now' }, T.credits(m.charged_now_credits)),
      T.el('td', { class: change(m.difference_credits), 'data-label': 'Difference' }, signed(m.difference_credits)),
      T.el('td', { class: 'num', 'data-label': 'Unpriced' }, ...[].concat(unpriced(m))),
    ];
    const head = total
      ? T.el('th', { scope: 'row', 'data-label': 'Model' }, 'Total')
      : T.el('th', { scope: 'row', 'data-label': 'Model' }, names[m.model] || m.model, ' ', T.el('code', { class: 'muted' }, m.model));
    return T.el('tr', { 'data-model': total ? 'total' : m.model }, head, ...cells);
  }
  async function impact() {
    if (!impactForm) return;
    T.setMessage(impactMsg, '');
    if (!T.session.maySupport()) {
      impactOut.replaceChildren();
      const who = T.session.who();
      if (!who) impactMsg.replaceChildren(T.el('a', { href: '/login?next=' + encodeURIComponent(location.pathname + location.search) }, 'Sign in'), ' with an admin or support key to see what a version would have charged.');
      else T.setMessage(impactMsg, 'What a version would have charged is for admin and support keys.');
      return;
    }
    const q = new URLSearchParams({ version: impactVersion.value, from: document.getElementById('impact-from').value, to: document.getElementById('impact-to').value });
    T.setMessage(impactMsg, 'Pricing the window again\u2026');
    try {
      const r = await T.api('/v1/catalog/impact?' + q.toString());
      T.setMessage(impactMsg, '');
      const span = String(r.from).slice(0, 10) + ' to ' + String(r.to).slice(0, 10) + ' (not included)';
      const summary = r.generations || r.unpriced_generations
        ? r.version + ', over the generations charged from ' + span + ': ' + T.plural(r.generations, 'generation', 'generations') + ' charged ' +
          T.credits(r.charged_then_credits) + ' then would be charged ' + T.credits(r.charged_now_credits) + ' (' + signed(r.difference_credits) + ')' +
          (r.unpriced_generations ? '; it cannot price ' + T.plural(r.unpriced_generations, 'generation', 'generations') + ' (charged ' + T.credits(r.unpriced_then_credits) + ')' : '') + '.'
        : 'No generation was charged from ' + span + '.';
      const parts = [T.el('p', { class: 'muted', id: 'impact-summary' }, summary)];
      if ((r.models || []).length) {
        parts.push(T.el('table', { class: 'table stack', id: 'impact-table' },
          T.el('thead', null, T.el('tr', null, ...['Model', 'Generations', 'Charged then', 'Charged now', 'Difference', 'Unpriced'].map((h, i) =>
            T.el('th', { scope: 'col', class: i ? 'num' : null }, h)))),
          T.el('tbody', null, ...r.models.map((m) => impactRow(m, false))),
          T.el('tfoot', null, impactRow({
            generations: r.generations, charged_then_credits: r.charged_then_credits, charged_now_credits: r.charged_now_credits,
            difference_credits: r.difference_credits, unpriced_generations: r.unpriced_generations, unpriced_then_credits: r.unpriced_then_credits,
          }, true))));
      }
      impactOut.replaceChildren(...parts);
    } catch (e) {
      impactOut.replaceChildren();
      T.setMessage(impactMsg, e.message, 'bad');
    }
  }
  if (impactForm) impactForm.addEventListener('submit', (e) => { e.preventDefault(); impact(); });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    compare();
    if (impactForm && from.value !== to.value) {
      impactVersion.value = newer(from.value, to.value);
      impact();
    }
  });
  if (from.value && to.value && from.value !== to.value) {
    compare();
    if (impactForm) {
      impactVersion.value = newer(from.value, to.value);
      impact();
    }
  }
})();
