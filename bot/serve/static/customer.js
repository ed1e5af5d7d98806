/* The customer's page: the SMS form, then the security check, then the outcome.
 * Every text from the server goes in as textContent; nothing from other origins. */
(function () {
  'use strict';
  var BASE = location.pathname.replace(/\/+$/, '');
  var $ = function (id) { return document.getElementById(id); };
  var check = document.querySelector('#check .ck');  // the check's widget (check.js)

  function show(id, on) { $(id).hidden = !on; }
  function text(id, v) { $(id).textContent = v || ''; }

  function post(path, body) {
    return fetch(BASE + path, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body), cache: 'no-store'
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (d) { d.status = res.status; return d; });
    });
  }

  function render(s) {
    text('person', s.person);
    var state = s.state;
    var form = state === 'form' || state === 'retry';
    show('form', form && s.attempts_left > 0);
    show('wait', state === 'queued' || state === 'running');
    show('check', state === 'needs_person' && !!s.check);
    show('done', !!s.outcome);
    show('contact', state === 'contact');
    text('contact-text', s.contact);
    if (s.outcome) {
      text('message', s.outcome.message);
      text('next', s.outcome.next_step);
      text('banner', s.outcome.banner_zh || '-');
    }
    // The widget draws and relays the check while the run waits for the customer.
    check.setAttribute('data-check-url', state === 'needs_person' ? BASE + '/check' : '');
  }

  function refresh() {
    fetch(BASE + '/state', { cache: 'no-store' }).then(function (r) {
      if (r.status === 404 || r.status === 410) { location.reload(); return null; }
      return r.ok ? r.json() : null;
    }).then(function (s) { if (s) render(s); }).catch(function () {});
  }

  $('form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    show('error', false);
    $('verify').disabled = true;
    post('/verify', { sms: $('sms').value }).then(function (d) {
      $('verify').disabled = false;
      if (d.status >= 400) { show('error', true); text('error', d.error || 'Something went wrong.'); return; }
      $('sms').value = '';
      show('form', false); show('wait', true);
      refresh();
    });
  });

  refresh();
  setInterval(refresh, 1000);
})();
