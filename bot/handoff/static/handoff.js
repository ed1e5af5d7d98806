/* The hand-off page: shows the site's security check and sends the person's clicks and drags.
 * No framework, nothing from other origins. Every text from the server goes in as textContent.
 */
(function () {
  'use strict';

  var BASE = location.pathname.replace(/\/+$/, '');
  var STATE_MS = 1000;    // state (time left, instruction, outcome)
  var IMAGE_MS = 2000;    // the picture, at least this often
  var AFTER_MS = [120, 450, 1000];  // the picture again after an action: the box answers at once
  var CLICK_SLOP = 4;     // a press that moves less than this (px) is a click, not a drag
  var MAX_POINTS = 400;

  var $ = function (id) { return document.getElementById(id); };
  var shot = $('shot');
  var state = 'waiting';
  var over = false;
  var leftAt = null;      // [seconds left, performance.now() when read]
  var imageBusy = false, imageAgain = false, imageUrl = null;
  var imageTimer = null;

  function text(id, value) { $(id).textContent = value; }

  function refreshImage() {
    if (over || state !== 'waiting') return;
    if (imageBusy) { imageAgain = true; return; }
    imageBusy = true;
    fetch(BASE + '/image?t=' + Date.now(), { cache: 'no-store' }).then(function (res) {
      if (res.status === 404 || res.status === 410) { gone(); return null; }
      return res.ok ? res.blob() : null;
    }).then(function (blob) {
      if (!blob) return;
      var url = URL.createObjectURL(blob);
      shot.onload = function () { if (imageUrl && imageUrl !== url) URL.revokeObjectURL(imageUrl); imageUrl = url; };
      shot.src = url;
    }).catch(function () { /* the next refresh tries again */ }).then(function () {
      imageBusy = false;
      if (imageAgain) { imageAgain = false; refreshImage(); }
    });
  }

  function scheduleImages() {
    AFTER_MS.forEach(function (ms) { setTimeout(refreshImage, ms); });
    clearInterval(imageTimer);
    imageTimer = setInterval(refreshImage, IMAGE_MS);
  }

  function showInstruction(ins) {
    text('english', ins.text);  // in the page's language, with its punctuation
    var list = $('chars');
    while (list.firstChild) list.removeChild(list.firstChild);
    (ins.characters || []).forEach(function (ch) {
      var li = document.createElement('li');
      var span = document.createElement('span');
      span.className = 'char';
      span.lang = 'zh-CN';
      span.textContent = ch;
      li.appendChild(span);
      list.appendChild(li);
    });
    list.hidden = !(ins.characters && ins.characters.length);
    text('chinese', ins.chinese || '');
    $('notice').hidden = !ins.notice;
    text('notice', ins.notice || '');
  }

  // The service out of reach: say so, and show no check that nobody relays any more.
  function offline(on) {
    $('offline').hidden = !on;
    var shown = !on && state === 'waiting';
    $('stage').hidden = $('ask').hidden = $('help').hidden = !shown;
  }

  function showState(s) {
    state = s.state;
    offline(false);
    text('run', s.run);
    text('person', s.person);
    leftAt = [s.time_left, performance.now()];
    tick();
    if (s.instruction) showInstruction(s.instruction);
    $('passed').hidden = !s.passed;
    if (state === 'ended') {
      var ul = $('outcome');
      while (ul.firstChild) ul.removeChild(ul.firstChild);
      (s.outcome || []).forEach(function (line) {
        var li = document.createElement('li');
        li.textContent = line;
        ul.appendChild(li);
      });
      $('ended').hidden = false;
      $('passed').querySelector('p').hidden = true;
    }
    if (state !== 'waiting') {
      $('stage').hidden = $('ask').hidden = $('help').hidden = true;
      clearInterval(imageTimer);
    }
  }

  function refreshState() {
    if (over) return;
    fetch(BASE + '/state?lang=' + encodeURIComponent(document.documentElement.lang), { cache: 'no-store' }).then(function (res) {
      if (res.status === 404 || res.status === 410) { gone(); return null; }
      if (res.status >= 500) { offline(true); return null; }
      return res.ok ? res.json() : null;
    }).then(function (s) { if (s) showState(s); }).catch(function () { offline(true); });
  }

  function gone() {
    over = true;
    clearInterval(imageTimer);
    $('stage').hidden = true;
    $('gone').hidden = false;
  }

  function tick() {
    if (!leftAt) return;
    var left = Math.max(0, leftAt[0] - (performance.now() - leftAt[1]) / 1000);
    var m = Math.floor(left / 60), sec = Math.floor(left % 60);
    text('left', state === 'waiting' ? m + ':' + (sec < 10 ? '0' : '') + sec : '-');
  }

  // One action at a time, in the order the person made them: the site judges clicks in order.
  var queue = Promise.resolve();
  function post(path, body) {
    queue = queue.then(function () { return send(path, body); });
  }
  function send(path, body) {
    return fetch(BASE + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Accept-Language': document.documentElement.lang },
      body: JSON.stringify(body),
      cache: 'no-store'
    }).then(function (res) {
      if (res.status === 404 || res.status === 410) gone();
      return res.json().catch(function () { return {}; }).then(function (d) {
        if (!res.ok && d.error) { $('notice').hidden = false; text('notice', d.error); }
      });
    }).catch(function () { /* shown by the next state */ }).then(function () {
      scheduleImages();
      refreshState();
    });
  }

  // Picture pixels: the picture is shown at its natural size, so these are the box's CSS pixels.
  function at(ev) {
    var r = shot.getBoundingClientRect();
    var sx = shot.naturalWidth && r.width ? shot.naturalWidth / r.width : 1;
    var sy = shot.naturalHeight && r.height ? shot.naturalHeight / r.height : 1;
    return [Math.round((ev.clientX - r.left) * sx * 10) / 10, Math.round((ev.clientY - r.top) * sy * 10) / 10];
  }

  var press = null;
  shot.addEventListener('pointerdown', function (ev) {
    if (ev.button !== 0 || state !== 'waiting') return;
    ev.preventDefault();
    shot.setPointerCapture(ev.pointerId);
    press = { points: [at(ev)], moved: false };
  });
  shot.addEventListener('pointermove', function (ev) {
    if (!press) return;
    var p = at(ev), first = press.points[0], last = press.points[press.points.length - 1];
    if (Math.abs(p[0] - first[0]) > CLICK_SLOP || Math.abs(p[1] - first[1]) > CLICK_SLOP) press.moved = true;
    if (press.points.length < MAX_POINTS - 1 && (Math.abs(p[0] - last[0]) >= 2 || Math.abs(p[1] - last[1]) >= 2)) {
      press.points.push(p);
    }
  });
  function release(ev) {
    if (!press) return;
    var done = press;
    press = null;
    if (ev.type === 'pointercancel') return;
    var end = at(ev);
    if (!done.moved) {
      post('/click', { x: done.points[0][0], y: done.points[0][1] });
    } else {
      done.points.push(end);
      post('/drag', { points: done.points.slice(0, MAX_POINTS) });
    }
  }
  shot.addEventListener('pointerup', release);
  shot.addEventListener('pointercancel', release);
  shot.addEventListener('dragstart', function (ev) { ev.preventDefault(); });

  refreshState();
  refreshImage();
  imageTimer = setInterval(refreshImage, IMAGE_MS);
  setInterval(refreshState, STATE_MS);
  setInterval(tick, 250);
})();
