// Accounts: find accounts by the start of their id (GET /v1/accounts,
// admin and support keys), a page at a time, and open one by its id. An
// account key goes straight to its own account.
'use strict';

(function () {
  const T = window.tally;
  const $ = (id) => document.getElementById(id);
  const who = T.session.who();
  const PAGE = 50;

  function signInLink(text) {
    return T.el('a', { href: '/login?next=' + encodeURIComponent(location.pathname + location.search) }, text || 'Sign in');
  }

  const chooser = $('account-form');
  if (!chooser) return;
  if (who && who.scope === 'account') {
    location.replace(T.accountHref(who.account));
    return;
  }

  // Open an account: the id is asked of the API first, so one it refuses is
  // said here, not turned into an address that leads elsewhere.
  const msg = $('account-msg');
  const input = $('account-id');
  const given = input.value; // ?id=…, an id no page address can carry
  if (!who) msg.replaceChildren(signInLink(), ' with an API key to read accounts.');
  if (!given) input.value = T.session.account();
  const open = async (id) => {
    if (!who) {
      location.assign(T.accountHref(id));
      return;
    }
    T.setMessage(msg, '');
    try {
      await T.checkAccount(id);
    } catch (e) {
      T.setMessage(msg, T.accountRefusal(e, id), 'bad');
      input.focus();
      return;
    }
    T.session.setAccount(id);
    location.assign(T.accountHref(id));
  };
  chooser.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = input.value.trim();
    if (id) open(id);
  });
  if (given && who) open(given);

  // Find accounts. The list asks the API a page at a time; Load more
  // follows its next_cursor, and a new search starts again.
  const search = $('search-form');
  const smsg = $('search-msg');
  const table = $('account-list');
  const more = $('search-more');
  const count = $('search-count');
  const prefixInput = $('search-prefix');
  const plans = T.names('plan-names');
  if (!T.session.maySupport()) {
    // Only admin and support keys may list accounts.
    search.hidden = true;
    table.hidden = true;
    if (!who) smsg.replaceChildren(signInLink(), ' with an admin or support key to find accounts.');
    else T.setMessage(smsg, 'Finding accounts needs an admin or support key; this one can open an account by its id.');
    return;
  }

  let prefix = prefixInput.value;
  let cursor = '';
  let shown = 0;
  let asking = null; // the search being answered; a newer one aborts it

  function row(a) {
    return T.el('tr', { 'data-account': a.id },
      T.el('th', { scope: 'row', 'data-label': 'Account' }, T.el('a', { href: T.accountHref(a.id) }, T.el('code', null, a.id))),
      T.el('td', { 'data-label': 'Kind' }, a.kind === 'team' ? 'Team' : 'User'),
      T.el('td', { 'data-label': 'Plan' }, a.plan ? plans[a.plan] || a.plan : T.el('span', { class: 'muted' }, 'none')),
      T.el('td', { class: 'num', 'data-label': 'Available' }, T.credits(a.available_credits)),
      T.el('td', { class: 'num', 'data-label': 'Held' }, T.credits(a.held_credits)));
  }

  async function load(fresh) {
    if (asking) asking.abort();
    const ctl = new AbortController();
    asking = ctl;
    if (fresh) {
      cursor = '';
      shown = 0;
    }
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (prefix) q.set('prefix', prefix);
    if (cursor) q.set('cursor', cursor);
    more.disabled = true;
    let page;
    try {
      page = await T.api('/v1/accounts?' + q.toString(), { signal: ctl.signal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      T.setMessage(smsg, e.message, 'bad');
      more.disabled = false;
      return;
    } finally {
      if (asking === ctl) asking = null;
    }
    const list = page.accounts || [];
    const body = table.tBodies[0];
    if (fresh) body.replaceChildren();
    body.append(...list.map(row));
    shown += list.length;
    cursor = page.next_cursor || '';
    table.hidden = shown === 0;
    more.hidden = !cursor;
    more.disabled = false;
    const what = prefix ? ' whose id starts with \u201c' + prefix + '\u201d' : '';
    if (!shown) T.setMessage(smsg, 'No account' + what + '.');
    else T.setMessage(smsg, '');
    count.textContent = shown ? T.plural(shown, 'account', 'accounts') + what + (cursor ? ' so far' : '') : '';
  }

  search.addEventListener('submit', (e) => {
    e.preventDefault();
    prefix = prefixInput.value;
    const q = new URLSearchParams();
    if (prefix) q.set('prefix', prefix);
    const qs = q.toString();
    history.replaceState(null, '', '/accounts' + (qs ? '?' + qs : ''));
    load(true);
  });
  more.addEventListener('click', () => { if (cursor) load(false); });
  load(true);
})();
