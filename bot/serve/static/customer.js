/* The customer's page: the SMS form, then the security check, then the outcome.
 * Every text comes from the server (the page's JSON block #texts, and the state, both in the
 * page's language) and goes in as textContent; nothing from other origins. */
(function () {
  'use strict';
  var BASE = location.pathname.replace(/\/+$/, '');
  var $ = function (id) { return document.getElementById(id); };
  var T = JSON.parse($('texts').textContent);
  var LANG = '?lang=' + encodeURIComponent(document.documentElement.lang);
  var shot = $('shot');
  var showing = null, busy = false, pressed = null;

  function show(id, on) { $(id).hidden = !on; }
  function text(id, v) { $(id).textContent = v || ''; }

  function post(path, body) {
    return fetch(BASE + path, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'Accept-Language': document.documentElement.lang },
      body: JSON.stringify(body), cache: 'no-store'
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (d) { d.status = res.status; return d; });
    });
  }

  function picture() {
    if (busy || showing !== 'check') return;
    busy = true;
    fetch(BASE + '/image' + LANG + '&t=' + Date.now(), { cache: 'no-store' }).then(function (r) {
      return r.ok ? r.blob() : null;
    }).then(function (b) {
      if (b) { var old = shot.src; shot.src = URL.createObjectURL(b); if (old) URL.revokeObjectURL(old); }
    }).catch(function () {}).then(function () { busy = false; });
  }

  function clock(seconds) {
    var m = Math.floor(seconds / 60), sec = Math.floor(seconds % 60);
    return m + ':' + (sec < 10 ? '0' : '') + sec;
  }

  function render(s) {
    show('offline', false);
    text('person', s.person);
    var state = s.state;
    var form = state === 'form' || state === 'retry';
    show('form', form && s.attempts_left > 0);
    show('used', form && s.attempts_left <= 0);
    show('tries', state !== 'done' && s.attempts_left > 0);
    text('tries', T.tries_left.replace('{n}', s.attempts_left));
    show('wait', state === 'queued' || state === 'running' || (state === 'needs_person' && !s.check));
    show('check', state === 'needs_person' && !!s.check);
    show('done', !!s.outcome);
    if (s.outcome) {
      text('label', s.outcome.label);
      text('message', s.outcome.message);
      text('next', s.outcome.next_step);
      show('next-line', !(form && s.attempts_left <= 0));  // used up: the link's own words say what to do
      show('said', !!s.outcome.banner_zh);
      text('banner', s.outcome.banner_zh);
    }
    if (s.check) {
      text('english', s.check.text);
      text('left', T.time_left.replace('{time}', clock(s.check.time_left)));
      var list = $('chars');
      while (list.firstChild) list.removeChild(list.firstChild);
      (s.check.characters || []).forEach(function (c) {
        var li = document.createElement('li'); li.textContent = c; li.lang = 'zh-CN'; list.appendChild(li);
      });
      text('chinese', s.check.chinese);
      show('notice', !!s.check.notice); text('notice', s.check.notice);
    }
    var was = showing;
    showing = state === 'needs_person' ? 'check' : state;
    if (showing === 'check' && was !== 'check') picture();
  }

  // The service out of reach: say so, and show no check that nobody relays any more.
  function offline() {
    show('offline', true); show('check', false); show('wait', false);
    showing = null;
  }

  function refresh() {
    fetch(BASE + '/state' + LANG, { cache: 'no-store' }).then(function (r) {
      if (r.status === 404 || r.status === 410) { location.reload(); return null; }
      if (r.status >= 500) { offline(); return null; }
      return r.ok ? r.json() : null;
    }).then(function (s) { if (s) render(s); }).catch(offline);
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
      refresh();
    }).catch(function () { $('verify').disabled = false; offline(); });
  });

  function at(ev) {
    var r = shot.getBoundingClientRect();
    var sx = shot.naturalWidth && r.width ? shot.naturalWidth / r.width : 1;
    var sy = shot.naturalHeight && r.height ? shot.naturalHeight / r.height : 1;
    return [Math.round((ev.clientX - r.left) * sx * 10) / 10, Math.round((ev.clientY - r.top) * sy * 10) / 10];
  }
  var queue = Promise.resolve();
  function act(path, body) {
    queue = queue.then(function () { return post(path, body); }).then(function () {
      [150, 500, 1000].forEach(function (ms) { setTimeout(picture, ms); });
      refresh();
    });
  }
  shot.addEventListener('pointerdown', function (ev) {
    if (ev.button !== 0) return;
    ev.preventDefault(); shot.setPointerCapture(ev.pointerId);
    pressed = { points: [at(ev)], moved: false };
  });
  shot.addEventListener('pointermove', function (ev) {
    if (!pressed) return;
    var p = at(ev), f = pressed.points[0];
    if (Math.abs(p[0] - f[0]) > 4 || Math.abs(p[1] - f[1]) > 4) pressed.moved = true;
    if (pressed.points.length < 390) pressed.points.push(p);
  });
  shot.addEventListener('pointerup', function (ev) {
    if (!pressed) return;
    var done = pressed; pressed = null;
    if (!done.moved) act('/click', { x: done.points[0][0], y: done.points[0][1] });
    else { done.points.push(at(ev)); act('/drag', { points: done.points }); }
  });
  shot.addEventListener('dragstart', function (ev) { ev.preventDefault(); });

  refresh();
  setInterval(refresh, 1000);
  setInterval(picture, 2000);
})();
