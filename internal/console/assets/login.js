// Sign in: the key is checked with GET /v1/whoami and kept in this tab's
// sessionStorage with its scope, so that the console offers an account key
// its own account and no other.
'use strict';

(function () {
  const T = window.tally;
  const form = document.getElementById('login-form');
  if (!form) return;
  const input = document.getElementById('key');
  const msg = document.getElementById('login-msg');
  // Where to go after signing in: a path on this origin, parsed here again
  // whatever the page says (a tab or a dot segment can turn a path into
  // another host).
  const next = T.localPath(form.dataset.next || '/');
  const who = T.session.who();
  if (who) {
    const held = who.scope !== 'account' ? ({ admin: 'an admin', service: 'a service', support: 'a support' }[who.scope] || 'a ' + who.scope) + ' key'
      : who.member ? 'the key of member ' + who.member + ' of team ' + who.account : 'the account key of ' + who.account;
    T.setMessage(msg, 'Signed in with ' + held + '. Another key replaces it.');
  }
  input.focus();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    const button = document.getElementById('login-submit');
    button.disabled = true;
    T.setMessage(msg, 'Checking the key…');
    try {
      const me = await T.api('/v1/whoami', { key: key });
      T.session.signOut();
      T.session.signIn(key, me);
      let dest = next;
      if (me.scope === 'account' && /^\/accounts([/?#]|$)/.test(dest)) dest = T.accountHref(me.account);
      location.assign(dest);
    } catch (err) {
      T.setMessage(msg, err.status === 401 ? 'That key is not valid: check it and try again.' : err.message, 'bad');
      button.disabled = false;
      input.select();
    }
  });
})();
