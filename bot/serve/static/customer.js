/* The customer's page: the SMS form, then the security check, then the outcome.
 * Every text comes from the server (the page's JSON block #texts, and the state, both in the
 * page's language) and goes in as textContent; nothing from other origins. The check itself is
 * the widget's (check.js), started here when the run waits for the customer. */
(function () {
  'use strict';
  var BASE = location.pathname.replace(/\/+$/, '');
  var $ = function (id) { return document.getElementById(id); };
  var T = JSON.parse($('texts').textContent);
  var LANG = document.documentElement.lang;
  var check = document.querySelector('#check .ck');  // the check's widget (check.js)

  function show(id, on) { $(id).hidden = !on; }
  function text(id, v) { $(id).textContent = v || ''; }

  function post(path, body) {
    return fetch(BASE + path, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'Accept-Language': LANG },
      body: JSON.stringify(body), cache: 'no-store'
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (d) { d.status = res.status; return d; });
    });
  }

  function render(s) {
    show('offline', false);
    text('person', s.person);
    var state = s.state;
    var form = state === 'form' || state === 'retry';
    show('form', form && s.attempts_left > 0);
    show('used', form && s.attempts_left <= 0);
    show('tries', state !== 'done' && state !== 'contact' && s.attempts_left > 0);
    text('tries', T.tries_left.replace('{n}', s.attempts_left));
    show('wait', state === 'queued' || state === 'running' || (state === 'needs_person' && !s.check));
    show('check', state === 'needs_person' && !!s.check);
    show('done', !!s.outcome);
    show('contact', state === 'contact');
    text('contact-text', s.contact);
    if (s.outcome) {
      text('label', s.outcome.label);
      text('message', s.outcome.message);
      text('next', s.outcome.next_step);
      show('next-line', !(form && s.attempts_left <= 0));  // used up: the link's own words say what to do
      show('said', !!s.outcome.banner_zh);
      text('banner', s.outcome.banner_zh);
    }
    // The widget draws and relays the check while the run waits for the customer.
    check.setAttribute('data-check-url', state === 'needs_person' ? BASE + '/check' : '');
  }

  // The service out of reach: say so, and show no check that nobody relays any more.
  function offline() {
    show('offline', true); show('check', false); show('wait', false);
    check.setAttribute('data-check-url', '');
  }

  // While the customer waits for the check, each answer is held by the server until the state
  // changes (?wait=: it answers the moment the check opens) and the next is asked at once,
  // one request at a time; every second otherwise.
  var waiting = false, seen = '', busy = false, again = false, timer = null;
  function refresh() {
    clearTimeout(timer);
    if (busy) { again = true; return; }
    busy = true;
    var began = Date.now(), failed = false;
    var hold = waiting && seen ? '&wait=' + encodeURIComponent(seen) : '';
    fetch(BASE + '/state?lang=' + encodeURIComponent(LANG) + hold, { cache: 'no-store' }).then(function (r) {
      if (r.status === 404 || r.status === 410) { location.reload(); return null; }
      if (r.status >= 500) { failed = true; offline(); return null; }
      return r.ok ? r.json() : null;
    }).then(function (s) {
      if (!s) return;
      render(s);
      waiting = s.state === 'queued' || s.state === 'running' || (s.state === 'needs_person' && !s.check);
      seen = s.state;
    }).catch(function () { failed = true; offline(); }).then(function () {
      busy = false;
      if (again) { again = false; refresh(); return; }
      // (at most ten a second even if answers come back at once)
      timer = setTimeout(refresh, waiting && !failed ? Math.max(0, 100 - (Date.now() - began)) : 1000);
    });
  }

  $('form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    show('error', false);
    $('verify').disabled = true;
    post('/verify', { sms: $('sms').value }).then(function (d) {
      $('verify').disabled = false;
      if (d.status >= 400) { show('error', true); text('error', d.error || T.went_wrong); return; }
      $('sms').value = '';
      show('form', false); show('wait', true);
      waiting = true; seen = 'queued';  // held at once: the answer comes when the check opens
      refresh();
    }).catch(function () { $('verify').disabled = false; offline(); });
  });

  refresh();
})();
