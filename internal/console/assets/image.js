// Image mode: choosing a model offers only the settings it supports; every
// change asks POST /v1/quotes for the total on Create and its breakdown; with
// an account, the balance and what it buys; Create holds the total
// (POST /v1/generations), and each generation can be marked delivered
// (capture) or failed (release).
'use strict';

(function () {
  const T = window.tally;
  const form = document.getElementById('studio');
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const radios = Array.from(form.querySelectorAll('.model-radio'));
  const f = {
    ratio: $('aspect_ratio'), res: $('resolution'), images: $('images'), enhancer: $('prompt_enhancer'),
    scale: $('scale'), file: $('input_image'), width: $('input_width'), height: $('input_height'),
    account: $('account'),
  };
  const createBtn = $('create');
  const createTotal = $('create-total');
  const createTip = $('create-tip');
  const createMsg = $('create-msg');
  const walletMsg = $('wallet-msg');
  const GENS = 'tally.gens';
  const plans = T.names('plan-names');

  let fileHead = null; // the input image's first 64 KiB, base64
  let seq = 0; // answers to older requests are dropped
  let busy = false;

  const split = (s) => (s ? s.split(' ').filter(Boolean) : []);
  function model() {
    const r = radios.find((x) => x.checked) || radios[0];
    const d = r.dataset;
    return {
      id: r.value, name: d.name, kind: d.kind, resolutions: split(d.resolutions), ratios: split(d.ratios),
      scales: split(d.scales), maxImages: Number(d.maxImages) || 1, needsInput: d.needsInput === 'true',
      unpublished: d.unpublished === 'true', cap: d.cap, enhancer: d.enhancer,
    };
  }

  // fill replaces a select's options, keeping the current value when the
  // model offers it and falling back to the model's default otherwise.
  function fill(select, values, label, fallback) {
    const keep = select.value;
    const want = values.includes(keep) ? keep : fallback;
    select.replaceChildren(...values.map((v) => T.el('option', { value: v }, label ? label(v) : v)));
    select.value = want;
  }

  function applyModel() {
    const m = model();
    $('chosen-name').textContent = m.name;
    const upscale = m.kind === 'upscale';
    $('image-settings').hidden = upscale;
    $('upscale-settings').hidden = !upscale;
    if (upscale) {
      fill(f.scale, m.scales, (v) => v + '×', m.scales[0]);
      $('input-hint').textContent = m.needsInput
        ? 'Priced by the input\u2019s megapixels. PNG, JPEG, GIF or WebP: only its size is read, on the server, from the file\u2019s header.'
        : 'Priced by scale alone; the size gives the output size. Only the file\u2019s header is read.';
    } else {
      fill(f.ratio, m.ratios, null, m.ratios.includes('1:1') ? '1:1' : m.ratios[0]);
      fill(f.res, m.resolutions, null, m.resolutions[0]);
      const counts = [];
      for (let n = 1; n <= m.maxImages; n++) counts.push(String(n));
      fill(f.images, counts, null, '1');
      $('resolution-hint').textContent = m.unpublished ? 'Cap not published: 1K only.' : (m.cap || '');
      $('enhancer-hint').textContent = m.enhancer ? '+' + m.enhancer + ' credits per generation' : 'No extra credits';
    }
  }

  // settings is the request body for the current settings, or null with
  // the reason when the model cannot be priced yet.
  function settings() {
    const m = model();
    const body = { model: m.id };
    if (m.kind === 'upscale') {
      body.scale = Number(f.scale.value);
      if (fileHead) {
        body.input_image = fileHead;
      } else if (f.width.value !== '' || f.height.value !== '') {
        const w = Number(f.width.value);
        const h = Number(f.height.value);
        const ok = (n) => Number.isInteger(n) && n >= 1 && n <= 16384;
        if (!ok(w) || !ok(h)) return { error: 'Width and height are whole pixels, 1 to 16384.' };
        body.input_width = w;
        body.input_height = h;
      } else if (m.needsInput) {
        return { error: 'Choose an input image or enter its size to see the price.' };
      }
    } else {
      body.resolution = f.res.value;
      body.aspect_ratio = f.ratio.value;
      body.images = Number(f.images.value);
      if (f.enhancer.checked) body.prompt_enhancer = true;
    }
    return { body: body };
  }

  // syncURL keeps the address the same as the settings, so a reload or a
  // shared link shows the same price (the page reads them server-side too).
  function syncURL() {
    const m = model();
    const q = new URLSearchParams({ model: m.id });
    if (m.kind === 'upscale') {
      q.set('scale', f.scale.value);
      if (!fileHead && f.width.value && f.height.value) {
        q.set('input_width', f.width.value);
        q.set('input_height', f.height.value);
      }
    } else {
      q.set('resolution', f.res.value);
      q.set('aspect_ratio', f.ratio.value);
      q.set('images', f.images.value);
      if (f.enhancer.checked) q.set('prompt_enhancer', 'on');
    }
    history.replaceState(null, '', '/?' + q.toString());
  }

  function renderBreakdown(q, error) {
    if (!q) {
      createTotal.textContent = '';
      createTip.replaceChildren(T.el('p', null, error));
      T.refreshTip(createTip);
      return;
    }
    createTotal.textContent = ' \u00b7 ' + T.credits(q.total_credits) + ' credits';
    const rows = q.lines.map((l) => T.el('tr', null,
      T.el('th', { scope: 'row' }, l.label),
      T.el('td', { class: 'num' }, l.quantity + ' \u00d7 ' + T.credits(l.unit_credits)),
      T.el('td', { class: 'num' }, T.credits(l.credits))));
    const size = q.width ? q.width + '\u00d7' + q.height + ' px \u00b7 ' : '';
    createTip.replaceChildren(
      T.el('table', { class: 'breakdown' },
        T.el('tbody', null, ...rows),
        T.el('tfoot', null, T.el('tr', null, T.el('th', { scope: 'row' }, 'Total'), T.el('td'),
          T.el('td', { class: 'num' }, T.credits(q.total_credits) + ' credits')))),
      T.el('p', { class: 'tip-note' }, size + 'catalog ' + q.catalog_version));
    T.refreshTip(createTip);
    const stale = q.catalog_version !== form.dataset.catalog;
    if (stale) {
      T.setMessage(createMsg, '');
      createMsg.replaceChildren('Catalog ' + q.catalog_version + ' is now in use. ',
        T.el('a', { href: location.href }, 'Reload'), ' to see its model list.');
    }
  }

  function renderInputSize(q) {
    const size = $('input-size');
    if (fileHead && q && q.input_width) size.textContent = q.input_width + '\u00d7' + q.input_height + ' px, read from the file';
    else if (fileHead) size.textContent = '';
  }

  function renderAfford(q) {
    const a = q && q.affordable;
    const note = $('bal-plan-note');
    if (!a) return;
    $('balance').hidden = false;
    $('bal-available').textContent = T.credits(a.available_credits);
    $('bal-buys').textContent = q.kind === 'upscale'
      ? T.plural(a.generations, 'upscale', 'upscales')
      : T.plural(a.generations, 'generation', 'generations');
    $('bal-buys').title = T.plural(a.images, 'image', 'images') + ' at this price';
    // What the account's plan does with this model: keeps it out of
    // reach, makes it free now, or leaves some credits unable to pay.
    let text = '';
    if (a.plan_required) {
      text = current && current.subscription
        ? q.model_name + ' is not in this account\u2019s plan.'
        : q.model_name + ' needs a subscription: this account\u2019s plan does not include it.';
    } else if (a.unlimited) {
      text = 'Free with your plan: ' + q.model_name + ' is unlimited now, so Create holds no credits.';
      createTotal.textContent = ' \u00b7 free with your plan';
      createTip.append(T.el('p', { class: 'tip-note' }, 'List price ' + T.credits(q.total_credits) + ' credits; free inside your plan\u2019s unlimited window.'));
      T.refreshTip(createTip);
    } else if (a.eligible_available_credits !== undefined && a.eligible_available_credits !== a.available_credits) {
      text = T.credits(a.eligible_available_credits) + ' of the ' + T.credits(a.available_credits) + ' credits can pay for ' + q.model_name + '.';
    }
    note.textContent = text;
    note.hidden = !text;
    $('bal-buys-line').hidden = a.plan_required || a.unlimited;
  }

  // Labels on the model list: what the account's plan does with each
  // model. Without an account only the tags' neutral badges ("Pro") show.
  let current = null; // the account in use, as the API last answered
  function labelModels(a) {
    current = a;
    const free = new Set();
    for (const w of (a && a.unlimited) || []) for (const m of w.models) free.add(m);
    for (const r of radios) {
      const box = document.getElementById('labels-' + r.value);
      if (!box) continue;
      box.querySelectorAll('[data-plan-label]').forEach((x) => x.remove());
      const denied = !!(a && a.plan) && split(r.dataset.denied).includes(a.plan);
      box.querySelectorAll('[data-tag]').forEach((x) => { x.hidden = denied; });
      if (denied) {
        box.append(T.el('span', { class: 'badge badge-warn', 'data-plan-label': 'denied' }, a.subscription ? 'not in your plan' : 'needs a subscription'));
      }
      if (free.has(r.value)) box.append(T.el('span', { class: 'badge badge-good', 'data-plan-label': 'unlimited' }, 'free with your plan'));
    }
  }

  async function requote() {
    const s = settings();
    const mine = ++seq;
    syncURL();
    if (s.error) {
      renderBreakdown(null, s.error);
      return;
    }
    const account = T.session.account();
    if (account && T.session.mayRead(account)) s.body.account = account;
    try {
      const q = await T.api('/v1/quotes', { method: 'POST', body: s.body });
      if (mine !== seq) return;
      renderBreakdown(q);
      renderInputSize(q);
      renderAfford(q);
    } catch (e) {
      if (mine !== seq) return;
      renderBreakdown(null, e.message);
      if (e.code === 'unknown_account' || e.code === 'invalid_account_id') T.setMessage(walletMsg, T.accountRefusal(e, account), 'bad');
    }
  }

  let timer = 0;
  function requoteSoon() {
    clearTimeout(timer);
    timer = setTimeout(requote, 200);
  }

  // The wallet: which account, its balance, and what it buys.
  async function loadWallet() {
    const who = T.session.who();
    const wallet = $('wallet');
    wallet.hidden = false;
    $('balance').hidden = true;
    $('bal-buys-line').hidden = true;
    $('bal-plan-note').hidden = true;
    $('bal-plan-line').hidden = true;
    labelModels(null);
    if (!who) {
      f.account.closest('.field').hidden = true;
      walletMsg.replaceChildren(T.el('a', { href: '/login?next=' + encodeURIComponent(location.pathname + location.search) }, 'Sign in'),
        ' to see a balance and create generations.');
      return;
    }
    const account = T.session.account();
    f.account.value = account;
    if (who.scope === 'account') {
      f.account.readOnly = true;
      $('account-use').hidden = true;
    }
    if (!account) {
      T.setMessage(walletMsg, 'Type an account id to see its balance and create on it.');
      return;
    }
    T.setMessage(walletMsg, '');
    try {
      const a = await T.checkAccount(account);
      $('balance').hidden = false;
      $('bal-available').textContent = T.credits(a.available_credits);
      $('bal-held').textContent = T.credits(a.held_credits);
      $('bal-plan').textContent = a.plan ? (plans[a.plan] || a.plan) : 'No plan';
      $('bal-plan-line').hidden = false;
      labelModels(a);
      walletMsg.replaceChildren(T.el('a', { href: T.accountHref(account) }, 'Open account ' + account));
    } catch (e) {
      T.setMessage(walletMsg, T.accountRefusal(e, account), 'bad');
    }
  }


  async function refresh() {
    await Promise.all([loadWallet(), requote()]);
  }

  // useAccount works on the typed account once the API has it; an id it
  // refuses is said, and the account in use stays as it was.
  async function useAccount() {
    const id = f.account.value.trim();
    if (id && T.session.who()) {
      try {
        await T.checkAccount(id);
      } catch (e) {
        $('balance').hidden = true;
        $('bal-buys-line').hidden = true;
        $('bal-plan-note').hidden = true;
        $('bal-plan-line').hidden = true;
        T.setMessage(walletMsg, T.accountRefusal(e, id), 'bad');
        return;
      }
    }
    T.session.setAccount(id);
    T.renderAuth();
    refresh();
  }

  // Generations made in this tab, newest first.
  function savedGens() {
    try { return JSON.parse(sessionStorage.getItem(GENS) || '[]'); } catch (_) { return []; }
  }
  function saveGen(id) {
    const ids = [id, ...savedGens().filter((x) => x !== id)].slice(0, 8);
    sessionStorage.setItem(GENS, JSON.stringify(ids));
  }

  const statusBadge = {
    held: ['held', 'badge-accent'], completed: ['delivered', 'badge-good'], failed: ['failed', 'badge-bad'], expired: ['expired', 'badge-warn'],
  };

  function renderGen(g) {
    const q = g.quote || {};
    const title = (q.model_name || g.model) + (g.kind === 'upscale' ? ' \u00b7 ' + q.scale + '\u00d7' : ' \u00b7 ' + T.plural(g.images, 'image', 'images'));
    const [label, cls] = statusBadge[g.status] || [g.status, ''];
    let meta;
    const lane = g.lane === 'relaxed' ? ', relaxed queue' : g.lane === 'fast' ? ', fast' : '';
    if (g.unlimited && g.status === 'held') meta = 'Free with your plan' + lane + ': nothing held';
    else if (g.unlimited && g.status === 'completed') meta = 'Free with your plan' + lane + ' (list price ' + T.credits(g.list_credits) + ' credits)';
    else if (g.status === 'held') meta = T.credits(g.hold_credits) + ' credits held';
    else if (g.status === 'completed') meta = 'Charged ' + T.credits(g.charged_credits) + ' of ' + T.credits(g.hold_credits) + ' held' + (g.images > 1 ? ' (' + g.images_delivered + ' of ' + g.images + ' delivered)' : '');
    else if (g.unlimited) meta = 'Nothing was held: free with your plan';
    else meta = 'Hold of ' + T.credits(g.hold_credits) + ' credits returned';
    const li = T.el('li', { class: 'gen', id: 'gen-' + g.id, 'data-status': g.status },
      T.el('div', { class: 'gen-head' }, T.el('span', { class: 'gen-title' }, title), T.el('span', { class: 'badge ' + cls }, label)),
      T.el('div', { class: 'gen-meta' }, meta, T.el('br'), T.el('code', null, g.id)));
    if (g.status === 'held' && T.session.mayWrite()) {
      const actions = T.el('div', { class: 'gen-actions' });
      let delivered = null;
      if (g.images > 1) {
        delivered = T.el('select', { 'aria-label': 'Images delivered' });
        for (let n = g.images; n >= 0; n--) delivered.append(T.el('option', { value: String(n) }, n + ' of ' + g.images));
        actions.append(delivered);
      }
      actions.append(
        T.el('button', { type: 'button', class: 'btn btn-good btn-sm', 'data-action': 'complete',
          onclick: () => finish(g, 'complete', { images_delivered: delivered ? Number(delivered.value) : g.images }) }, 'Mark delivered'),
        T.el('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'data-action': 'fail',
          onclick: () => finish(g, 'fail') }, 'Mark failed'));
      li.append(actions);
    }
    return li;
  }

  function showGen(g) {
    $('gens').hidden = false;
    const old = $('gen-' + g.id);
    const li = renderGen(g);
    if (old) old.replaceWith(li); else $('gen-list').prepend(li);
  }

  async function finish(g, action, body) {
    const li = $('gen-' + g.id);
    li.querySelectorAll('button, select').forEach((b) => { b.disabled = true; });
    try {
      const done = await T.api('/v1/generations/' + encodeURIComponent(g.id) + '/' + action, { method: 'POST', body: body, idempotent: true });
      showGen(done);
      T.setMessage(createMsg, action === 'complete'
        ? 'Charged ' + T.credits(done.charged_credits) + ' credits; the rest of the hold returned.'
        : 'Released the hold: ' + T.credits(done.hold_credits) + ' credits are available again.', 'good');
    } catch (e) {
      T.setMessage(createMsg, e.message, 'bad');
      try { showGen(await T.api('/v1/generations/' + encodeURIComponent(g.id))); } catch (_) { /* keep what is shown */ }
    }
    await refresh();
  }

  async function create() {
    T.setMessage(createMsg, '');
    const who = T.session.who();
    if (!who) {
      createMsg.replaceChildren(T.el('a', { href: '/login?next=' + encodeURIComponent(location.pathname + location.search) }, 'Sign in'),
        ' with an admin or service key to create.');
      return;
    }
    if (!T.session.mayWrite()) {
      T.setMessage(createMsg, 'This account key reads only. Creating needs an admin or service key.', 'bad');
      return;
    }
    const account = T.session.account();
    if (!account) {
      T.setMessage(createMsg, 'Choose the account to hold the credits on.', 'bad');
      f.account.focus();
      return;
    }
    const s = settings();
    if (s.error) {
      T.setMessage(createMsg, s.error, 'bad');
      return;
    }
    if (busy) return;
    busy = true;
    createBtn.setAttribute('aria-busy', 'true');
    try {
      s.body.account = account;
      const g = await T.api('/v1/generations', { method: 'POST', body: s.body, idempotent: true });
      saveGen(g.id);
      showGen(g);
      T.setMessage(createMsg, (g.unlimited ? 'Free with your plan: nothing held.' : 'Held ' + T.credits(g.hold_credits) + ' credits.') +
        ' Mark the generation delivered or failed below.', 'good');
    } catch (e) {
      const p = e.problem;
      if (e.code === 'insufficient_credits') {
        const eligible = p.eligible_available_credits;
        const usable = eligible !== undefined && eligible !== p.available_credits
          ? T.credits(eligible) + ' of the ' + T.credits(p.available_credits) + ' available can pay for this model, '
          : T.credits(p.available_credits) + ' available, ';
        T.setMessage(createMsg, 'Not enough credits: ' + usable + T.credits(p.required_credits) + ' needed.', 'bad');
      } else if (e.code === 'plan_required') {
        T.setMessage(createMsg, model().name + ' needs a subscription: this account\u2019s plan does not include it.', 'bad');
      } else if (e.code === 'daily_limit_reached' && p.resets_at) {
        T.setMessage(createMsg, 'Today\u2019s fast generations of ' + model().name + ' are used up: more from ' + T.time(p.resets_at) + '.', 'bad');
      } else {
        T.setMessage(createMsg, e.message, 'bad');
      }
    } finally {
      busy = false;
      createBtn.removeAttribute('aria-busy');
    }
    await refresh();
  }

  async function loadGens() {
    if (!T.session.who()) return;
    const account = T.session.account();
    for (const id of savedGens().reverse()) {
      try {
        const g = await T.api('/v1/generations/' + encodeURIComponent(id));
        if (g.account === account) showGen(g);
      } catch (_) { /* gone or not this key's: skip */ }
    }
  }

  // An account key may look but not create: say so on the button itself.
  function updateCreateState() {
    const who = T.session.who();
    createBtn.setAttribute('aria-disabled', who && who.scope === 'account' ? 'true' : 'false');
  }

  // Upscale input: the file's first 64 KiB go to the server, which reads the
  // size from the header; the preview is made here from the file itself.
  async function onFile() {
    const file = f.file.files && f.file.files[0];
    const thumb = $('input-thumb');
    if (thumb.src) URL.revokeObjectURL(thumb.src);
    if (!file) {
      fileHead = null;
      $('input-preview').hidden = true;
      $('size-fields').hidden = false;
      requote();
      return;
    }
    const bytes = new Uint8Array(await file.slice(0, 65536).arrayBuffer());
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    fileHead = btoa(bin);
    thumb.src = URL.createObjectURL(file);
    thumb.alt = file.name;
    $('input-size').textContent = '';
    $('input-preview').hidden = false;
    $('size-fields').hidden = true;
    requote();
  }

  radios.forEach((r) => r.addEventListener('change', () => { applyModel(); requote(); }));
  [f.ratio, f.res, f.images, f.enhancer, f.scale].forEach((x) => x.addEventListener('change', requote));
  [f.width, f.height].forEach((x) => x.addEventListener('input', requoteSoon));
  f.file.addEventListener('change', onFile);
  $('input-clear').addEventListener('click', () => { f.file.value = ''; onFile(); });
  $('account-use').addEventListener('click', useAccount);
  f.account.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); useAccount(); } });
  form.addEventListener('submit', (e) => { e.preventDefault(); requote(); });
  createBtn.addEventListener('click', create);

  updateCreateState();
  applyModel();
  refresh().then(loadGens);
})();
