// The support desk of the Account page: the account's generations (by
// status and model, a page at a time), its audit log, and the actions a
// support or admin key may take: grant, take back, void a grant, refund a
// generation, release a hold.
//
// Every action opens a confirmation that states its exact effect, with the
// page's own numbers, before anything is sent, and asks for a reason (kept
// in the audit log). The confirmation makes its Idempotency-Key when it
// opens and sends that key with every try: a retry after a lost answer is
// the same request, done once. Amounts are counted in integer thousandths
// (tally.milli), never in floating point.
'use strict';

(function () {
  const T = window.tally;
  const $ = (id) => document.getElementById(id);
  const P = T.accountPage; // account.js: set once the key may read the account
  if (!P || !$('account-page')) return;
  const who = T.session.who();
  const id = P.id;
  const base = P.base;
  const enc = encodeURIComponent;
  const msg = $('account-msg');
  const names = T.names('model-names');
  const modelName = (m) => names[m] || m || 'generic';
  const desk = T.session.maySupport();
  const GEN_PAGE = 20;
  const AUDIT_PAGE = 20;

  function emptyRow(table, cols, text) {
    table.tBodies[0].replaceChildren(T.el('tr', null, T.el('td', { class: 'empty', colspan: String(cols) }, text)));
  }

  // Generations, newest first; Load more follows next_cursor, a filter
  // starts again.
  const gens = new Map(); // id → the generation as listed
  let genCursor = '';
  let genAsking = null;
  const statusTone = { held: 'badge-warn', completed: 'badge-good', failed: 'badge-bad', expired: '' };
  // refundable is what is left to refund of a generation's charge, in
  // thousandths.
  const refundable = (g) => (g.status === 'completed' ? T.milli(g.charged_credits) - T.milli(g.refunded_credits) : 0);

  function genRow(g) {
    const images = g.status === 'completed' ? g.images_delivered + ' of ' + g.images : String(g.images);
    return T.el('tr', { 'data-generation': g.id, 'data-status': g.status },
      T.el('th', { scope: 'row', 'data-label': 'Generation' }, T.el('code', null, g.id),
        g.member ? T.el('span', { class: 'sub' }, 'by ' + g.member) : null),
      T.el('td', { 'data-label': 'Created' }, T.el('time', { datetime: g.created_at }, T.time(g.created_at))),
      T.el('td', { 'data-label': 'Model' }, modelName(g.model)),
      T.el('td', { 'data-label': 'Status' }, T.el('span', { class: 'badge ' + (statusTone[g.status] || '') }, g.status),
        g.unlimited ? T.el('span', { class: 'sub' }, 'unlimited' + (g.lane ? ', ' + g.lane : '')) : null),
      T.el('td', { class: 'num', 'data-label': 'Images' }, images),
      T.el('td', { class: 'num', 'data-label': 'Held' }, T.credits(g.hold_credits)),
      T.el('td', { class: 'num', 'data-label': 'Charged' }, g.status === 'completed' ? T.credits(g.charged_credits) : T.credits(null)),
      T.el('td', { class: 'num', 'data-label': 'Refunded' }, g.refunded_credits ? T.credits(g.refunded_credits) : T.credits(null)),
      T.el('td', { class: 'act' }, desk && refundable(g) > 0
        ? T.el('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-act': 'refund', 'data-id': g.id, 'aria-label': 'Refund generation ' + g.id }, 'Refund')
        : null));
  }

  async function loadGenerations(fresh) {
    if (genAsking) genAsking.abort();
    const ctl = new AbortController();
    genAsking = ctl;
    if (fresh) genCursor = '';
    const q = new URLSearchParams({ limit: String(GEN_PAGE) });
    if ($('gen-status').value) q.set('status', $('gen-status').value);
    if ($('gen-model').value) q.set('model', $('gen-model').value);
    if (genCursor) q.set('cursor', genCursor);
    const more = $('gen-more');
    more.disabled = true;
    const table = $('generations');
    let page;
    try {
      page = await T.api(base + '/generations?' + q.toString(), { signal: ctl.signal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      emptyRow(table, 9, T.accountRefusal(e, id));
      more.hidden = true;
      return;
    } finally {
      if (genAsking === ctl) genAsking = null;
    }
    const list = page.generations || [];
    if (fresh) {
      gens.clear();
      table.tBodies[0].replaceChildren();
    }
    for (const g of list) gens.set(g.id, g);
    genCursor = page.next_cursor || '';
    if (!gens.size) emptyRow(table, 9, $('gen-status').value || $('gen-model').value ? 'No generations match.' : 'No generations yet.');
    else table.tBodies[0].append(...list.map(genRow));
    more.hidden = !genCursor;
    more.disabled = false;
    $('gen-count').textContent = gens.size ? T.plural(gens.size, 'generation', 'generations') + (genCursor ? ' so far' : '') : '';
  }
  $('gen-status').addEventListener('change', () => loadGenerations(true));
  $('gen-model').addEventListener('change', () => loadGenerations(true));
  $('gen-filter').addEventListener('submit', (e) => { e.preventDefault(); loadGenerations(true); });
  $('gen-more').addEventListener('click', () => { if (genCursor) loadGenerations(false); });

  // The audit log of the account: who did what, when, and why.
  const actionLabel = {
    'grant.create': 'Grant', 'grant.void': 'Void grant', 'grant.amend': 'Move a grant\u2019s expiry', 'account.debit': 'Take back',
    'generation.refund': 'Refund', 'hold.release': 'Release hold', 'account.create': 'Open account', 'account.plan': 'Set program',
    'account.alerts': 'Set alert', 'account.auto_topup': 'Set auto top-up', 'subscription.create': 'Subscribe',
    'subscription.cancel': 'Cancel subscription', 'subscription.change': 'Change subscription', 'member.set': 'Set member',
    'member.remove': 'Remove member', 'topup.confirm': 'Confirm top-up', 'topup.cancel': 'Cancel top-up',
  };
  // What a detail's fields say, amounts first.
  const amountFields = { credits: 'credits', refunded: 'refunded', voided: 'took back', released: 'returned', charged: 'charged', refunded_total: 'refunded so far' };
  function details(d) {
    const parts = [];
    for (const k of Object.keys(d || {})) {
      if (k === 'reason') continue;
      const v = d[k];
      if (amountFields[k] && typeof v === 'number') parts.push(amountFields[k] + ' ' + T.credits(v));
      else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') parts.push(k.replace(/_/g, ' ') + ' ' + v);
      else if (v) parts.push(k.replace(/_/g, ' ') + ' ' + JSON.stringify(v));
    }
    return parts.join(' \u00b7 ');
  }
  let auditCursor = '';
  function auditRow(e) {
    const d = e.detail && typeof e.detail === 'object' ? e.detail : {};
    return T.el('tr', { 'data-audit': String(e.id), 'data-action': e.action },
      T.el('td', { 'data-label': 'When' }, T.el('time', { datetime: e.at }, T.time(e.at))),
      T.el('td', { 'data-label': 'Who' }, T.el('code', null, e.actor), who && e.actor === who.key ? T.el('span', { class: 'muted' }, ' (you)') : null),
      T.el('th', { scope: 'row', 'data-label': 'Action' }, actionLabel[e.action] || e.action, T.el('code', { class: 'sub action-code' }, e.action)),
      T.el('td', { 'data-label': 'Reason' }, d.reason ? d.reason : T.el('span', { class: 'muted' }, 'none given')),
      T.el('td', { 'data-label': 'Details' }, details(d)));
  }
  async function loadAudit(fresh) {
    const block = $('audit-block');
    block.hidden = !desk;
    if (!desk) return;
    if (fresh) auditCursor = '';
    const q = new URLSearchParams({ limit: String(AUDIT_PAGE) });
    if (auditCursor) q.set('cursor', auditCursor);
    const table = $('audit');
    const more = $('audit-more');
    let page;
    try {
      page = await T.api(base + '/audit?' + q.toString());
    } catch (e) {
      emptyRow(table, 5, e.message);
      more.hidden = true;
      return;
    }
    const list = page.entries || [];
    if (fresh) table.tBodies[0].replaceChildren();
    if (fresh && !list.length) emptyRow(table, 5, 'Nobody has acted on this account yet.');
    else table.tBodies[0].append(...list.map(auditRow));
    auditCursor = page.next_cursor || '';
    more.hidden = !auditCursor;
  }
  $('audit-more').addEventListener('click', () => { if (auditCursor) loadAudit(false); });

  // The confirmation. pending is the one open: its action and the
  // Idempotency-Key every try of it sends.
  const dialog = $('confirm');
  const form = $('confirm-form');
  const effect = $('confirm-effect');
  const note = $('confirm-note');
  const amountBox = $('confirm-amount-box');
  const amountInput = $('confirm-amount');
  const reasonInput = $('confirm-reason');
  const cmsg = $('confirm-msg');
  const ok = $('confirm-ok');
  const cancel = $('confirm-cancel');
  let pending = null;
  const utf8 = new TextEncoder();

  // An action: title, button, effect(x) (the sentence, for the amount x in
  // thousandths, null while the amount typed is not one), note, amount (for
  // an amount chosen in the confirmation: label, max, value, verb), send(x,
  // reason, key) and done(x) (what the page says after).
  function confirm(action) {
    pending = { action: action, key: T.uuid(), busy: false };
    $('confirm-h').textContent = action.title;
    ok.textContent = action.button;
    note.textContent = action.note || '';
    amountBox.hidden = !action.amount;
    if (action.amount) {
      $('confirm-amount-label').textContent = action.amount.label;
      amountInput.value = T.decimal(action.amount.value);
    }
    reasonInput.value = '';
    T.setMessage(cmsg, '');
    ok.disabled = false;
    cancel.disabled = false;
    dialog.dataset.idempotencyKey = pending.key;
    renderEffect();
    dialog.showModal();
    reasonInput.focus();
  }

  // amount is the confirmation's amount in thousandths, or a sentence
  // saying why the text typed is not one.
  function amount() {
    const a = pending.action;
    if (!a.amount) return { x: a.fixed === undefined ? null : a.fixed };
    const x = T.parseAmount(amountInput.value);
    if (!(x > 0)) return { x: null, problem: 'Enter an amount of credits: more than 0, with at most three decimals.' };
    if (x > a.amount.max) return { x: null, problem: 'At most ' + T.creditsOf(a.amount.max) + ' credits can be ' + a.amount.verb + '.' };
    return { x: x };
  }

  // renderEffect states the effect of the amount typed, or why it is not
  // one (a message it takes back once the amount is right).
  function renderEffect() {
    if (!pending) return;
    const got = amount();
    effect.textContent = pending.action.effect(got.x);
    if (got.problem) {
      T.setMessage(cmsg, got.problem, 'bad');
      pending.amountSaid = true;
    } else if (pending.amountSaid) {
      T.setMessage(cmsg, '');
      pending.amountSaid = false;
    }
  }
  amountInput.addEventListener('input', renderEffect);

  function reasonProblem(r) {
    if (!r) return 'Say why: the reason goes to the audit log.';
    if (utf8.encode(r).length > 500) return 'The reason is too long: at most 500 bytes.';
    if (/[\u0000-\u001f\u007f-\u009f]/.test(r)) return 'The reason must be one line of text.';
    return '';
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!pending || pending.busy) return; // a second click while the first is on its way sends nothing
    const p = pending;
    const got = amount();
    if (got.problem) {
      T.setMessage(cmsg, got.problem, 'bad');
      amountInput.focus();
      return;
    }
    const reason = reasonInput.value.trim();
    const problem = reasonProblem(reason);
    if (problem) {
      T.setMessage(cmsg, problem, 'bad');
      reasonInput.focus();
      return;
    }
    p.busy = true;
    p.amountSaid = false;
    ok.disabled = true;
    cancel.disabled = true;
    T.setMessage(cmsg, 'Sending\u2026');
    try {
      await p.action.send(got.x, reason, p.key);
    } catch (err) {
      p.busy = false;
      ok.disabled = false;
      cancel.disabled = false;
      // A lost answer may hide a done action: the retry sends the same
      // key, so the API answers what it did rather than doing it twice.
      T.setMessage(cmsg, err.status === 0
        ? err.message + ' Confirm again to retry: it is sent with the same idempotency key, so it is done at most once.'
        : err.message, 'bad');
      return;
    }
    pending = null;
    dialog.close();
    const done = p.action.done(got.x);
    T.setMessage(msg, done);
    msg.scrollIntoView({ block: 'center' });
    try {
      const a = await P.reload();
      await Promise.all([loadGenerations(true), loadAudit(true)]);
      T.setMessage(msg, done + ' Available now: ' + T.credits(a.available_credits) + ' credits.', 'good');
    } catch (err) {
      T.setMessage(msg, done + ' The page could not reload: ' + err.message, 'bad');
    }
  });
  cancel.addEventListener('click', () => { if (pending && !pending.busy) dialog.close(); });
  dialog.addEventListener('cancel', (e) => { if (pending && pending.busy) e.preventDefault(); }); // Escape while sending
  dialog.addEventListener('close', () => {
    pending = null;
    delete dialog.dataset.idempotencyKey;
  });

  const post = (path, body, key) => T.api(path, { method: 'POST', body: body, idempotencyKey: key });
  const amountText = (x) => (x === null ? '\u2026' : T.creditsOf(x));

  // The actions on a row: refund a generation, void a grant, release a hold.
  function refund(g) {
    const charged = T.milli(g.charged_credits);
    const refunded = T.milli(g.refunded_credits);
    const left = charged - refunded;
    const images = g.images_delivered + ' of ' + T.plural(g.images, 'image', 'images') + ' delivered';
    confirm({
      title: 'Refund a generation',
      button: 'Refund',
      amount: { label: 'Credits to refund', max: left, value: left, verb: 'refunded' },
      effect: (x) => 'Refund ' + amountText(x) + ' of ' + T.creditsOf(left) + ' credits to ' + id,
      note: 'Generation ' + g.id + ': ' + modelName(g.model) + ', ' + images + ', charged ' + T.creditsOf(charged) +
        (refunded ? ', of which ' + T.creditsOf(refunded) + ' already refunded' : '') + '. The credits go back to the grants that paid.',
      send: (x, reason, key) => post('/v1/generations/' + enc(g.id) + '/refund', { credits: T.amountJSON(x), reason: reason }, key),
      done: (x) => 'Refunded ' + T.creditsOf(x) + ' credits to ' + id + '.',
    });
  }

  function voidGrant(g) {
    const left = T.milli(g.remaining_credits);
    const held = T.milli(g.held_credits);
    confirm({
      title: 'Void a grant',
      button: 'Void grant',
      fixed: left,
      effect: () => 'Void grant ' + g.id + ' of ' + id + ': takes back ' + T.creditsOf(left) + ' credits',
      note: 'A ' + g.source + ' grant of ' + T.credits(g.granted_credits) + ' credits' +
        (held ? '; its ' + T.creditsOf(held) + ' held credits stay with their holds' : '') + '. A void cannot be undone.',
      send: (x, reason, key) => post('/v1/grants/' + enc(g.id) + '/void', { reason: reason }, key),
      done: () => 'Voided grant ' + g.id + ': took back ' + T.creditsOf(left) + ' credits.',
    });
  }

  function release(h) {
    const credits = T.milli(h.credits);
    confirm({
      title: 'Release a hold',
      button: 'Release hold',
      fixed: credits,
      effect: () => 'Release hold ' + h.id + ' of ' + id + ': returns ' + T.creditsOf(credits) + ' credits',
      note: h.generation
        ? 'The hold of generation ' + h.generation + ', which is marked failed: nothing is charged for it.'
        : 'A hold for another product than images: nothing is charged for it.',
      send: (x, reason, key) => h.generation
        ? post('/v1/generations/' + enc(h.generation) + '/fail', { reason: reason }, key)
        : post('/v1/holds/' + enc(h.id) + '/release', { reason: reason }, key),
      done: () => 'Released hold ' + h.id + ': ' + T.creditsOf(credits) + ' credits returned.',
    });
  }

  document.addEventListener('click', (e) => {
    const b = e.target.closest && e.target.closest('button[data-act]');
    if (!b || !desk) return;
    const a = P.account() || {};
    const ref = b.dataset.id;
    let found;
    if (b.dataset.act === 'refund' && (found = gens.get(ref))) refund(found);
    else if (b.dataset.act === 'void' && (found = (a.grants || []).find((g) => g.id === ref))) voidGrant(found);
    else if (b.dataset.act === 'release' && (found = (a.open_holds || []).find((h) => h.id === ref))) release(found);
  });

  // Grant and take back: the forms on the page, then the confirmation.
  function readForm(input, out) {
    const x = T.parseAmount(input.value);
    if (!(x > 0)) {
      T.setMessage(out, 'Enter an amount of credits: more than 0, with at most three decimals.', 'bad');
      input.focus();
      return null;
    }
    T.setMessage(out, '');
    return x;
  }

  $('grant-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const x = readForm($('grant-credits'), $('grant-msg'));
    if (x === null) return;
    const source = $('grant-source').value;
    const expiry = $('grant-expiry').value; // YYYY-MM-DD: that day's midnight UTC, as the API reads it
    const memo = $('grant-memo').value.trim();
    confirm({
      title: 'Grant credits',
      button: 'Grant',
      fixed: x,
      effect: () => 'Grant ' + T.creditsOf(x) + ' ' + source + ' credits to ' + id + (expiry ? ', expiring at ' + expiry + ' 00:00 UTC' : ''),
      note: [expiry ? '' : 'They never expire.', memo ? 'Memo: \u201c' + memo + '\u201d.' : ''].filter(Boolean).join(' '),
      send: (_, reason, key) => {
        const body = { credits: T.amountJSON(x), source: source, reason: reason };
        if (expiry) body.expires_at = expiry;
        if (memo) body.memo = memo;
        return post(base + '/grants', body, key);
      },
      done: () => {
        $('grant-form').reset();
        return 'Granted ' + T.creditsOf(x) + ' ' + source + ' credits to ' + id + '.';
      },
    });
  });

  $('debit-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const x = readForm($('debit-credits'), $('debit-msg'));
    if (x === null) return;
    const memo = $('debit-memo').value.trim();
    const a = P.account() || {};
    confirm({
      title: 'Take back credits',
      button: 'Take back',
      fixed: x,
      effect: () => 'Take back ' + T.creditsOf(x) + ' credits from ' + id,
      note: 'Available now: ' + T.credits(a.available_credits) + ' credits.' + (memo ? ' Memo: \u201c' + memo + '\u201d.' : ''),
      send: (_, reason, key) => {
        const body = { credits: T.amountJSON(x), reason: reason };
        if (memo) body.memo = memo;
        return post(base + '/debits', body, key);
      },
      done: () => {
        $('debit-form').reset();
        return 'Took back ' + T.creditsOf(x) + ' credits from ' + id + '.';
      },
    });
  });

  P.ready.then(() => {
    $('desk-block').hidden = !desk;
    loadGenerations(true);
    loadAudit(true);
  });
})();
