// Catalog: the diff between two versions, from GET /v1/catalog/diff.
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

  form.addEventListener('submit', (e) => { e.preventDefault(); compare(); });
  if (from.value && to.value && from.value !== to.value) compare();
})();
