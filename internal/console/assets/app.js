// tally console: what every page shares. The session (the API key, kept in
// sessionStorage and sent only as a Bearer header), the API client, number and
// time formatting, the header's sign-in state, and tooltips.
//
// No price is computed here or in any page script: totals come from
// POST /v1/quotes, balances from the ledger. The scripts only display numbers.
'use strict';

(function () {
  document.documentElement.classList.add('js');

  const KEY = 'tally.key';
  const WHO = 'tally.who';
  const ACCOUNT = 'tally.account';
  const store = window.sessionStorage;

  const session = {
    key() { return store.getItem(KEY) || ''; },
    who() {
      try { return JSON.parse(store.getItem(WHO) || 'null'); } catch (_) { return null; }
    },
    signIn(key, who) {
      store.setItem(KEY, key);
      store.setItem(WHO, JSON.stringify(who));
      if (who.scope === 'account') store.setItem(ACCOUNT, who.account);
    },
    signOut() { store.clear(); },
    // account is the account the console works on: an account key's own,
    // or the one an admin or service key last chose.
    account() {
      const who = session.who();
      if (who && who.scope === 'account') return who.account;
      return store.getItem(ACCOUNT) || '';
    },
    setAccount(id) {
      const who = session.who();
      if (who && who.scope === 'account') return; // pinned to its own
      if (id) store.setItem(ACCOUNT, id); else store.removeItem(ACCOUNT);
    },
    // mayRead says whether the signed-in key may read the account: an
    // account key reads its own only, and the console never asks for more.
    mayRead(id) {
      const who = session.who();
      if (!who) return false;
      return who.scope !== 'account' || who.account === id;
    },
    mayWrite() {
      const who = session.who();
      return !!who && (who.scope === 'admin' || who.scope === 'service');
    },
    // maySupport says whether the key may use the support desk: find
    // accounts, read their audit log and reports, and grant, take back,
    // void, refund and release (admin and support keys).
    maySupport() {
      const who = session.who();
      return !!who && (who.scope === 'admin' || who.scope === 'support');
    },
  };

  // ApiError is a refused request: its status and RFC 9457 problem.
  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || ('HTTP ' + status));
      this.status = status;
      this.problem = problem || {};
      this.code = this.problem.code || '';
    }
  }

  // uuid returns a random UUID for Idempotency-Key. crypto.randomUUID needs a
  // secure context; getRandomValues does not, so the console also works on
  // plain HTTP from another host.
  function uuid() {
    if (window.crypto.randomUUID && window.isSecureContext) return window.crypto.randomUUID();
    const b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  // api calls the JSON API. opts: method, body (JSON), key (instead of the
  // session's), idempotent (adds a new Idempotency-Key), idempotencyKey
  // (sends this one: a retry of the same request), csv (answers the
  // Response, for text/csv), signal (an AbortSignal: an aborted request
  // throws the fetch's AbortError, not an ApiError).
  async function api(path, opts) {
    opts = opts || {};
    const headers = { Accept: opts.csv ? 'text/csv' : 'application/json' };
    const key = opts.key !== undefined ? opts.key : session.key();
    if (key) headers.Authorization = 'Bearer ' + key;
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
    else if (opts.idempotent) headers['Idempotency-Key'] = uuid();
    let r;
    try {
      r = await fetch(path, {
        method: opts.method || 'GET',
        headers: headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        cache: 'no-store',
        credentials: 'omit',
        signal: opts.signal,
      });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError(0, { detail: 'The server cannot be reached. Check the connection and try again.' });
    }
    if (!r.ok) {
      let problem = null;
      try { problem = await r.json(); } catch (_) { /* not JSON */ }
      if (r.status === 401 && opts.key === undefined && key) {
        // The key was revoked or expired: sign out rather than retry forever.
        session.signOut();
        renderAuth();
      }
      throw new ApiError(r.status, problem);
    }
    if (opts.csv) return r;
    return r.json();
  }

  // localPath is where the console may go for a return address taken from
  // a URL (/login?next=…): the path, query and fragment of a URL on this
  // origin, or / for anything else. The URL parser decides, as the browser
  // will when it navigates: it drops tabs and newlines, reads \ as /, and
  // resolves dot segments, so /\t/host and /.//host are //host, another
  // origin once given to location. A path that still starts with //, or
  // whose decoded form has a backslash or a control character, goes to /.
  function localPath(next) {
    let u;
    try { u = new URL(String(next), location.origin); } catch (_) { return '/'; }
    if (u.origin !== location.origin) return '/';
    let decoded;
    try { decoded = decodeURIComponent(u.pathname); } catch (_) { return '/'; }
    for (const p of [u.pathname, decoded]) {
      if (!p.startsWith('/') || p.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(p)) return '/';
    }
    return u.pathname + u.search + u.hash;
  }

  // A URL path cannot carry the account ids . and ..: browsers read them,
  // even percent-encoded, as "this folder" and "the parent", so
  // /accounts/.. is /. The console never puts them in a path.
  const pathless = (id) => id === '.' || id === '..';

  // accountHref is the console page of an account; an id a path cannot
  // carry leads to the account form, which says what the API makes of it.
  function accountHref(id) {
    return pathless(id) ? '/accounts?id=' + encodeURIComponent(id) : '/accounts/' + encodeURIComponent(id);
  }

  // checkAccount asks the API for an account before the console goes to
  // it: it answers the account, or throws the API's refusal (an id the API
  // does not take, an account it does not know or this key may not read).
  // An id a path cannot carry is asked in a quote's body instead, where
  // nothing rewrites it.
  async function checkAccount(id) {
    if (!pathless(id)) return api('/v1/accounts/' + encodeURIComponent(id));
    const list = await api('/v1/models');
    await api('/v1/quotes', { method: 'POST', body: { model: list.models[0].id, account: id } });
    // The API knows the account, but no address of this console reaches it.
    throw new ApiError(0, { detail: 'The account \u201c' + id + '\u201d cannot be opened here: a web address cannot carry that id.' });
  }

  // accountRefusal is what the console says when the API refuses an
  // account id: an unknown account in its own words, anything else (an id
  // the API does not take) in the API's.
  function accountRefusal(e, id) {
    return e.code === 'unknown_account' ? 'There is no account \u201c' + id + '\u201d.' : e.message;
  }

  const numberFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 3 });
  // credits formats an amount the API returned; it does no arithmetic.
  function credits(n) {
    if (n === null || n === undefined || n === '') return '–';
    return numberFormat.format(n);
  }
  function plural(n, one, many) { return numberFormat.format(n) + ' ' + (n === 1 ? one : many); }

  // Money the console works out itself (what is left to refund, a sum of
  // a chart's bar) is counted in integer thousandths of a credit, read from
  // the amount's decimal text: never added or compared in floating point.
  // The API's amounts have at most three decimals, and JavaScript's
  // shortest form of such a number is its decimal text ("73.5"). Integers
  // are exact up to 2^53 thousandths, far beyond any amount tally takes.
  //
  // milli reads an amount (the API's number, or text) as thousandths; NaN
  // when it is not one.
  function milli(v) {
    if (v === null || v === undefined) return NaN;
    const m = /^(-)?(\d+)(?:\.(\d{1,3}))?$/.exec(String(v).trim());
    if (!m) return NaN;
    const n = Number(m[2]) * 1000 + Number((m[3] || '').padEnd(3, '0'));
    return m[1] ? -n : n;
  }
  // decimal is thousandths as the API's decimal text: 73500 is "73.5".
  function decimal(m) {
    const a = Math.abs(m);
    const frac = a % 1000;
    let s = String((a - frac) / 1000);
    if (frac) s += '.' + String(frac).padStart(3, '0').replace(/0+$/, '');
    return (m < 0 ? '-' : '') + s;
  }
  // creditsOf formats thousandths as the page shows amounts ("1,000.5"):
  // the formatter is given the decimal text, which it reads exactly.
  function creditsOf(m) { return numberFormat.format(decimal(m)); }
  // parseAmount reads an amount typed by a person ("10", "73.5", "0.25")
  // as thousandths: NaN for anything else (a sign, an exponent, more than
  // three decimals, a thousands separator).
  function parseAmount(text) {
    const m = /^(\d*)(?:\.(\d{0,3}))?$/.exec(String(text).trim());
    if (!m || (m[1] === '' && !m[2])) return NaN;
    return Number(m[1] || '0') * 1000 + Number((m[2] || '').padEnd(3, '0'));
  }
  // amountJSON is thousandths for a request body: the decimal itself as a
  // JSON number (JSON.rawJSON), or where a browser lacks it the number
  // whose shortest form is that decimal, which JSON.stringify writes back.
  function amountJSON(m) {
    return typeof JSON.rawJSON === 'function' ? JSON.rawJSON(decimal(m)) : Number(decimal(m));
  }

  const timeFormat = new Intl.DateTimeFormat('en-GB', {
    year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', timeZoneName: 'short',
  });
  function time(s) {
    if (!s) return '';
    const d = new Date(s);
    return isNaN(d) ? s : timeFormat.format(d);
  }

  // zoneFormat formats a time on the calendar of an IANA time zone (an
  // account's or a subscription's days); an unknown zone falls back to UTC.
  function zoneFormat(s, tz, opts) {
    if (!s) return '';
    const d = new Date(s);
    if (isNaN(d)) return s;
    try {
      return new Intl.DateTimeFormat('en-US', Object.assign({ timeZone: tz || 'UTC' }, opts)).format(d);
    } catch (_) {
      return new Intl.DateTimeFormat('en-US', Object.assign({ timeZone: 'UTC' }, opts)).format(d);
    }
  }
  // date is a day in a time zone: "Jan 31, 2027"; day is its day of month.
  function date(s, tz) { return zoneFormat(s, tz, { year: 'numeric', month: 'short', day: 'numeric' }); }
  function day(s, tz) { return Number(zoneFormat(s, tz, { day: 'numeric' })); }
  // ordinal is 1st, 2nd, 3rd, 4th, 11th, 21st, 31st.
  function ordinal(n) {
    const t = n % 100;
    if (t >= 11 && t <= 13) return n + 'th';
    return n + ({ 1: 'st', 2: 'nd', 3: 'rd' }[n % 10] || 'th');
  }

  // names reads a datalist the page carries (id → name).
  function names(id) {
    const out = {};
    document.querySelectorAll('#' + id + ' option').forEach((o) => { out[o.value] = o.textContent; });
    return out;
  }
  // list joins words as a sentence does: "A", "A and B", "A, B and C".
  function list(words, conj) {
    if (words.length < 2) return words.join('');
    return words.slice(0, -1).join(', ') + ' ' + conj + ' ' + words[words.length - 1];
  }
  // appliesTo says which models a grant may pay for, in the words of the
  // Pricing page: "not for Pro models", "only for Nano Banana 2"; '' for
  // every model. modelName and tagName name an id and a tag.
  function appliesTo(e, modelName, tagName) {
    if (!e) return '';
    const tag = (t) => tagName(t) || (t.charAt(0).toUpperCase() + t.slice(1) + ' models');
    const only = (e.models || []).map(modelName).concat((e.tags || []).map(tag));
    const not = (e.exclude_models || []).map(modelName).concat((e.exclude_tags || []).map(tag));
    const parts = [];
    if (only.length) parts.push('only for ' + list(only, 'and'));
    if (not.length) parts.push('not for ' + list(not, 'or'));
    return parts.join(', ');
  }

  // el builds an element: el('td', {class: 'num'}, 'text', child…). Text is
  // always set as text, never parsed as HTML.
  function el(tag, attrs) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        const v = attrs[k];
        if (v === false || v === null || v === undefined) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? '' : v);
      }
    }
    for (let i = 2; i < arguments.length; i++) {
      const c = arguments[i];
      if (c === null || c === undefined || c === false || c === '') continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  function setMessage(node, text, kind) {
    if (!node) return;
    node.textContent = text || '';
    node.classList.toggle('msg-bad', kind === 'bad');
    node.classList.toggle('msg-good', kind === 'good');
  }

  // svg builds an SVG element: svg('rect', {x: 1}, child…); text children
  // are set as text.
  const SVG = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVG, tag);
    for (const k of Object.keys(attrs || {})) e.setAttribute(k, attrs[k]);
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // niceMax rounds the tallest bar up to an axis top whose quarters are
  // round numbers (240 for 223: ticks at 60, 120, 180, 240). It places
  // bars on a chart; no amount is computed from it.
  function niceMax(v) {
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 1.2, 1.6, 2, 2.4, 3, 4, 5, 6, 8, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  // The colours of the grant sources, the same on every chart.
  const sourceColors = {
    free: '#5fd08f', subscription: '#8b7bff', topup: '#4fc3f7', promo: '#f3c15a',
    rollover: '#80cbc4', refund: '#ce93d8', adjustment: '#ffab91', overdraft: '#ff8a8a',
  };

  // download saves a Blob as a file through a temporary link.
  function download(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  const scopeNames = { admin: 'Admin', service: 'Service', support: 'Support' };

  // The header: who is signed in, and where Account leads.
  function renderAuth() {
    const box = document.getElementById('auth');
    if (!box) return;
    const who = session.who();
    box.replaceChildren();
    const nav = document.getElementById('nav-account');
    const account = session.account();
    if (nav) nav.setAttribute('href', account ? accountHref(account) : '/accounts');
    const reports = document.getElementById('nav-reports');
    if (reports && !reports.hasAttribute('aria-current')) reports.hidden = !session.maySupport();
    if (!who) {
      const next = location.pathname === '/login' ? '/' : location.pathname + location.search;
      box.append(el('a', { class: 'btn btn-ghost btn-sm', href: '/login?next=' + encodeURIComponent(next), id: 'signin' }, 'Sign in'));
      return;
    }
    let label;
    if (who.scope === 'account' && who.member) label = el('span', { class: 'who', id: 'who' }, 'Member key · ', el('b', null, who.member), ' of ', el('b', null, who.account));
    else if (who.scope === 'account') label = el('span', { class: 'who', id: 'who' }, 'Account key · ', el('b', null, who.account));
    else label = el('span', { class: 'who', id: 'who' }, el('b', null, scopeNames[who.scope] || who.scope), ' key');
    box.append(label, el('button', {
      type: 'button', class: 'btn btn-ghost btn-sm', id: 'signout',
      onclick: () => { session.signOut(); location.assign('/'); },
    }, 'Sign out'));
  }

  // Tooltips: every control with aria-describedby naming a role=tooltip
  // element opens it on hover (of its .tipwrap) and on focus, and closes it
  // on Escape, when the pointer leaves its control (unless the control has
  // the focus), and on scroll. The tooltip is placed within the viewport
  // and takes no pointer events (console.css): it often lies over the next
  // card, which must get the pointer and the click.
  const openTips = new Set();
  function place(tip, anchor) {
    const r = anchor.getBoundingClientRect();
    const gap = 8;
    const vw = document.documentElement.clientWidth;
    const vh = window.innerHeight;
    tip.style.left = '0px';
    tip.style.top = '0px';
    const w = tip.offsetWidth;
    const h = tip.offsetHeight;
    const left = Math.max(gap, Math.min(r.left, vw - w - gap));
    const preferUp = tip.classList.contains('tip-up');
    const below = r.bottom + 6;
    const above = r.top - 6 - h;
    let top = preferUp ? above : below;
    if (preferUp && above < gap && below + h <= vh) top = below;
    if (!preferUp && below + h > vh - gap && above >= gap) top = above;
    tip.style.left = left + 'px';
    tip.style.top = Math.max(gap, top) + 'px';
  }
  function show(tip, anchor) {
    clearTimeout(tip._hide);
    for (const t of openTips) if (t !== tip) hide(t);
    tip.setAttribute('data-open', '');
    openTips.add(tip);
    place(tip, anchor);
  }
  function hide(tip) {
    clearTimeout(tip._hide);
    tip.removeAttribute('data-open');
    openTips.delete(tip);
  }
  function setupTip(anchor) {
    if (anchor._tip) return;
    const ids = (anchor.getAttribute('aria-describedby') || '').split(/\s+/);
    const tip = ids.map((id) => document.getElementById(id)).find((t) => t && t.getAttribute('role') === 'tooltip');
    if (!tip) return;
    anchor._tip = tip;
    const host = anchor.closest('.tipwrap') || anchor;
    const box = host.querySelector('label') || anchor;
    let hovered = false;
    host.addEventListener('mouseenter', () => { hovered = true; show(tip, box); });
    host.addEventListener('mouseleave', () => {
      hovered = false;
      if (document.activeElement === anchor) return;
      tip._hide = setTimeout(() => hide(tip), 120);
    });
    anchor.addEventListener('focus', () => show(tip, box));
    anchor.addEventListener('blur', () => { if (!hovered) hide(tip); });
  }
  function setupTips(root) {
    (root || document).querySelectorAll('[aria-describedby]').forEach(setupTip);
  }
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') for (const t of Array.from(openTips)) hide(t);
  });
  window.addEventListener('scroll', () => { for (const t of Array.from(openTips)) hide(t); }, { passive: true });
  window.addEventListener('resize', () => { for (const t of Array.from(openTips)) hide(t); });

  // refresh re-places a tooltip whose content changed while open.
  function refreshTip(tip) {
    if (!tip.hasAttribute('data-open')) return;
    const anchor = document.querySelector('[aria-describedby~="' + tip.id + '"]');
    if (anchor) place(tip, (anchor.closest('.tipwrap') || anchor).querySelector('label') || anchor);
  }

  window.tally = {
    session, api, ApiError, uuid, localPath, accountHref, checkAccount, accountRefusal, credits, plural, time, date, day, ordinal, zoneFormat,
    milli, decimal, creditsOf, parseAmount, amountJSON,
    names, list, appliesTo, el, svg, niceMax, sourceColors, setMessage, download, renderAuth, setupTips, refreshTip,
  };

  renderAuth();
  setupTips();
})();
