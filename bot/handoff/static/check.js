/* The security check's widget: the same on every page that shows a check (the hand-off page, the
 * customer's page, the dashboard). It draws the site's picture scaled to fit the screen, maps
 * taps, clicks and drags back to the site's pixels with one function (toSite), relays them in
 * the order they were made, and shows the instruction, notices, numbered marks and the time left.
 *
 * Any element with a non-empty data-check-url is driven: set the attribute (a door's prefix:
 * GET state and image, POST click and drag) to start, empty it to stop. No framework, nothing
 * from other origins; every text from the server goes in as textContent, and the widget's own
 * texts come from its page (the .ck-texts data block), never from this file.
 */
(function () {
  'use strict';

  var STATE_MS = 1000;             // the state: instruction, time left, outcome
  var IMAGE_MS = 2000;             // the picture, at least this often
  var AFTER_MS = [120, 450, 1000]; // the picture again after an action: the box answers at once
  var FIRST_AGAIN_MS = 500;        // the first picture may be the one taken as the check appeared
  var SLOP_PX = 8;                 // a press that moves less than this (CSS px) is a tap
  var ZOOM_SCALE = 1.8;            // zoomed in, a pixel of the site's box is this many CSS px...
  var ZOOM_MIN = 1.5, ZOOM_MAX = 4;  // ...magnifying the picture by at least / at most this
  var ZOOM_IDLE_MS = 10000;        // a zoom nobody touches goes back
  var STRIP = 64;                  // the slider's preview: a strip this wide (site px) follows the drag
  var OFFLINE_AFTER = 3;           // state requests failed in a row before "cannot be reached"

  // -- the one mapping ---------------------------------------------------------------------------
  // From a point on the screen to the site's box, in its CSS pixels (the picture's own pixels):
  // the picture as drawn, scaled to the screen and zoomed or not (getBoundingClientRect includes
  // the zoom's transform), back to its natural size. Every click and every point of a drag goes
  // through here; marks and the zoom go the other way in CSS percentages of the same picture.
  function toSite(img, clientX, clientY) {
    var r = img.getBoundingClientRect();
    var x = (clientX - r.left) * img.naturalWidth / r.width;
    var y = (clientY - r.top) * img.naturalHeight / r.height;
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  }

  // A drag's path, the person's own: a point each time the pointer has moved by a site pixel or
  // more. At most `max` points: when the path is full, every second point after the first is
  // dropped (the path keeps its whole extent at half the detail); the release point is always last.
  function addPoint(path, p, max, last) {
    var prev = path[path.length - 1];
    if (!last && Math.abs(p[0] - prev[0]) < 1 && Math.abs(p[1] - prev[1]) < 1) return;
    if (path.length >= max) {
      var kept = [];
      for (var i = 0; i < path.length; i += 2) kept.push(path[i]);
      path.length = 0;
      Array.prototype.push.apply(path, kept);
    }
    path.push(p);
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : null;
  }
  // The page's language: the state's texts and the refusals come in it (?lang=, Accept-Language).
  var LANG = document.documentElement.lang || 'en';
  function headersFor(json) {
    var h = { 'Accept-Language': LANG }, token = csrfToken();
    if (token) h['X-CSRF-Token'] = token;
    if (json) h['Content-Type'] = 'application/json';
    return h;
  }
  // The server's refusal, as its one error body says it ({"detail": text or [{msg}]}).
  function problem(d) {
    var detail = d && d.detail;
    if (Array.isArray(detail)) return detail.map(function (p) { return p.msg; }).join('; ');
    return detail ? String(detail) : null;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function Check(root) {
    var self = this;
    this.root = root;
    this.el = function (cls) { return root.querySelector('.' + cls); };
    var block = this.el('ck-texts');
    this.texts = block ? JSON.parse(block.textContent) : {};
    this.max = parseInt(root.getAttribute('data-check-max-points'), 10) || 400;
    this.show = (root.getAttribute('data-check-show') || '').split(' ');
    this.img = this.el('ck-shot');
    this.pic = this.el('ck-pic');
    this.stage = this.el('ck-stage');
    this.url = null;
    this.coarse = window.matchMedia ? window.matchMedia('(pointer: coarse)').matches : false;
    this.img.addEventListener('load', function () { self.loaded(); });
    this.stage.addEventListener('pointerdown', function (ev) { self.down(ev); });
    this.stage.addEventListener('pointermove', function (ev) { self.move(ev); });
    this.stage.addEventListener('pointerup', function (ev) { self.up(ev); });
    this.stage.addEventListener('pointercancel', function (ev) { self.cancel(ev); });
    this.stage.addEventListener('lostpointercapture', function (ev) { self.cancel(ev); });
    this.stage.addEventListener('contextmenu', function (ev) { ev.preventDefault(); });
    this.img.addEventListener('dragstart', function (ev) { ev.preventDefault(); });
    this.el('ck-zoomout').addEventListener('click', function () { self.zoomOut(); });
    var width = window.innerWidth;  // a turned phone: the zoom no longer fits
    window.addEventListener('resize', function () {
      if (window.innerWidth !== width) { width = window.innerWidth; self.zoomOut(); }
    });
  }

  Check.prototype.start = function (url) {
    var self = this;
    this.stop();
    this.url = url;
    this.state = null;      // the check's state as last read (waiting, passed, ended)
    this.form = 'unknown';  // click, slider, unknown
    this.asked = null;      // the site's words, to notice a new challenge
    this.notice = null;     // the site's last verdict
    this.error = null;      // the last action's refusal
    this.leftAt = null;     // [seconds left, performance.now() when read]
    this.failures = 0;
    this.pending = 0;       // actions sent and not yet answered
    this.scrolled = false;
    this.imageBusy = this.imageAgain = false;
    this.press = null;
    this.queue = Promise.resolve();
    clear(this.el('ck-marks'));
    this.el('ck-gone').hidden = this.el('ck-offline').hidden = true;
    this.el('ck-passed').hidden = this.el('ck-ended').hidden = true;
    this.el('ck-live').hidden = false;
    this.timers = [
      setInterval(function () { self.refreshState(); }, STATE_MS),
      setInterval(function () { self.refreshImage(); }, IMAGE_MS),
      setInterval(function () { self.tick(); }, 250),
      // (its box may still have been loading its picture then): again soon, not in 2 s
      setTimeout(function () { self.refreshImage(); }, FIRST_AGAIN_MS)
    ];
    // Both at once: the picture is what the person waits for, the state comes beside it.
    this.refreshState();
    this.refreshImage();
  };

  Check.prototype.stop = function () {
    (this.timers || []).forEach(clearInterval);
    this.timers = [];
    this.url = null;
    this.press = null;
    this.zoomOut();
  };

  Check.prototype.waiting = function () { return !!this.url && this.state === 'waiting'; };

  // -- what the server says ------------------------------------------------------------------------
  Check.prototype.refreshState = function () {
    var self = this, url = this.url;
    if (!url) return;
    var unreachable = function () {
      if (url === self.url && ++self.failures >= OFFLINE_AFTER) self.offline(true);
      return null;
    };
    fetch(url + '/state?lang=' + encodeURIComponent(LANG), { cache: 'no-store', credentials: 'same-origin', headers: headersFor(false) })
      .then(function (res) {
        if (url !== self.url) return null;
        if (res.status >= 500) return unreachable();  // a proxy in front of a service that is down
        self.failures = 0;
        self.offline(false);
        if (res.status === 404 || res.status === 410) { self.gone(); return null; }
        return res.ok ? res.json() : null;  // 409: no check now (the page around says why)
      }, unreachable)
      .then(function (s) { if (s && url === self.url) self.render(s); })
      .catch(function () { /* the next state */ });
  };

  Check.prototype.render = function (s) {
    var ins = s.instruction || {};
    this.state = s.state;
    this.el('ck-meta').hidden = this.show.indexOf('meta') < 0;
    this.el('ck-run-part').hidden = !s.run;
    this.el('ck-run').textContent = s.run || '';
    this.el('ck-person').textContent = s.person || '';
    this.leftAt = [s.time_left, performance.now()];
    this.tick();
    if (ins.chinese !== this.asked || (ins.notice && ins.notice !== this.notice)) {
      clear(this.el('ck-marks'));  // a new challenge, or a verdict: the marks were for the old one
    }
    this.asked = ins.chinese;
    this.notice = ins.notice || null;
    this.form = ins.form || 'unknown';
    this.root.setAttribute('data-check-form', this.form);
    this.el('ck-ask').textContent = ins.text || '';  // in the page's language, with its punctuation
    var list = this.el('ck-chars');
    clear(list);
    (ins.characters || []).forEach(function (ch) {
      var li = document.createElement('li'), span = document.createElement('span');
      span.className = 'ck-char';
      span.lang = 'zh-CN';
      span.textContent = ch;
      li.appendChild(span);
      list.appendChild(li);
    });
    list.hidden = !(ins.characters && ins.characters.length);
    this.el('ck-chinese').textContent = ins.chinese || '';
    this.el('ck-passed').hidden = !s.passed;
    var ended = s.state === 'ended';
    this.el('ck-passed-text').hidden = ended;
    if (ended && this.show.indexOf('outcome') >= 0) {
      var ul = this.el('ck-outcome');
      clear(ul);
      (s.outcome || []).forEach(function (line) {
        var li = document.createElement('li');
        li.textContent = line;
        ul.appendChild(li);
      });
      this.el('ck-ended').hidden = false;
    }
    if (s.state !== 'waiting') {
      this.el('ck-live').hidden = true;
      this.zoomOut();
      clear(this.el('ck-marks'));
    }
    this.showNotice();
    this.root.dispatchEvent(new CustomEvent('check:state', { detail: s }));
  };

  // One reserved line under the picture: the site's verdict or a refusal; else (or while
  // zoomed in, when the next tap is what matters) a hint of what to do.
  Check.prototype.showNotice = function () {
    var t = this.texts, notice = this.error || this.notice, hint = '';
    if (this.waiting()) {
      if (this.pending) hint = t.hint_sending;
      else if (this.zoom) hint = t.hint_zoomed;
      else if (this.form === 'slider') hint = t.hint_slider;
      else if (this.form === 'click') hint = this.coarse ? t.hint_touch : t.hint_mouse;
    }
    var shown = (this.zoom || this.pending || !notice) ? hint : notice;
    var el = this.el('ck-notice');
    el.textContent = shown || '';
    el.classList.toggle('ck-hint', shown !== notice);
    this.el('ck-zoomout').hidden = !this.zoom;
  };

  Check.prototype.tick = function () {
    if (!this.leftAt) return;
    var left = Math.max(0, this.leftAt[0] - (performance.now() - this.leftAt[1]) / 1000);
    var m = Math.floor(left / 60), s = Math.floor(left % 60);
    this.el('ck-left').textContent = this.state === 'waiting' ? m + ':' + (s < 10 ? '0' : '') + s : '-';
    if (this.zoom && performance.now() - this.zoom.at > ZOOM_IDLE_MS && !this.press) this.zoomOut();
  };

  Check.prototype.gone = function () {
    this.stop();
    this.el('ck-live').hidden = true;
    this.el('ck-gone').hidden = false;
  };

  // The service does not answer: the picture is not shown as if someone relayed it.
  Check.prototype.offline = function (on) {
    this.el('ck-offline').hidden = !on;
    if (on) this.el('ck-live').hidden = true;
    else if (this.state === 'waiting' || this.state === null) this.el('ck-live').hidden = false;
  };

  Check.prototype.refreshImage = function () {
    var self = this, url = this.url;
    if (!url || (this.state !== null && this.state !== 'waiting')) return;
    if (this.imageBusy) { this.imageAgain = true; return; }
    this.imageBusy = true;
    fetch(url + '/image?t=' + Date.now(), { cache: 'no-store', credentials: 'same-origin', headers: headersFor(false) })
      .then(function (res) {
        if (url !== self.url) return null;
        if (res.status === 404 || res.status === 410) { self.gone(); return null; }
        return res.ok ? res.blob() : null;
      })
      .then(function (blob) {
        if (!blob || url !== self.url) return;
        self.img.src = URL.createObjectURL(blob);
      })
      .catch(function () { /* the next refresh tries again */ })
      .then(function () {
        self.imageBusy = false;
        if (self.imageAgain) { self.imageAgain = false; self.refreshImage(); }
      });
  };

  Check.prototype.loaded = function () {
    if (this.shown && this.shown !== this.img.src) URL.revokeObjectURL(this.shown);
    this.shown = this.img.src;
    // Scaled to fit the page's width, never above its natural size (the stage has a 1 px border).
    this.stage.style.maxWidth = (this.img.naturalWidth + 2) + 'px';
    this.pic.style.aspectRatio = this.img.naturalWidth + ' / ' + this.img.naturalHeight;
    if (!this.scrolled) {
      this.scrolled = true;
      var r = this.stage.getBoundingClientRect();
      if (r.top < 0 || r.bottom > window.innerHeight) {
        this.root.scrollIntoView({ block: 'start' });
      }
    }
  };

  // -- what the person does ------------------------------------------------------------------------
  Check.prototype.down = function (ev) {
    if (!this.waiting() || !this.img.naturalWidth || this.press) return;
    if ((ev.pointerType === 'mouse' && ev.button !== 0) || ev.target === this.el('ck-zoomout')) return;
    ev.preventDefault();
    this.stage.setPointerCapture(ev.pointerId);
    this.press = {
      id: ev.pointerId, touch: ev.pointerType !== 'mouse', x: ev.clientX, y: ev.clientY,
      lastX: ev.clientX, lastY: ev.clientY, moved: false,
      path: [toSite(this.img, ev.clientX, ev.clientY)]
    };
    if (this.zoom) this.zoom.at = performance.now();
  };

  Check.prototype.move = function (ev) {
    var p = this.press, self = this;
    if (!p || ev.pointerId !== p.id) return;
    if (!p.moved && Math.abs(ev.clientX - p.x) + Math.abs(ev.clientY - p.y) >= SLOP_PX) p.moved = true;
    if (this.zoom) {
      this.pan(ev.clientX - p.lastX, ev.clientY - p.lastY);  // looking around the zoomed picture
    } else if (p.moved && !(p.touch && this.form === 'click')) {
      var events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [];
      (events.length ? events : [ev]).forEach(function (e) {
        addPoint(p.path, toSite(self.img, e.clientX, e.clientY), self.max, false);
      });
      this.preview(p, ev);
    }
    p.lastX = ev.clientX;
    p.lastY = ev.clientY;
  };

  Check.prototype.up = function (ev) {
    var p = this.press;
    if (!p || ev.pointerId !== p.id) return;
    this.press = null;
    this.el('ck-ghost').hidden = true;
    if (!p.moved) {
      // A finger on the click form: the first tap zooms in where it landed, the second is the click.
      if (p.touch && this.form === 'click' && !this.zoom) { this.zoomIn(p.x, p.y); return; }
      var at = toSite(this.img, p.x, p.y);
      this.zoomOut();
      this.mark(at);
      this.send('click', { x: at[0], y: at[1] });
      return;
    }
    if (this.zoom || (p.touch && this.form === 'click')) return;  // a look around, not an answer
    addPoint(p.path, toSite(this.img, ev.clientX, ev.clientY), this.max, true);
    this.send('drag', { points: p.path });
  };

  // The browser took the gesture (a scroll, a system gesture): nothing is sent.
  Check.prototype.cancel = function (ev) {
    if (!this.press || ev.pointerId !== this.press.id) return;
    this.press = null;
    this.el('ck-ghost').hidden = true;
  };

  Check.prototype.mark = function (at) {
    var marks = this.el('ck-marks'), span = document.createElement('span');
    span.className = 'ck-mark';
    span.textContent = String(marks.childElementCount + 1);
    span.style.left = (at[0] / this.img.naturalWidth * 100) + '%';
    span.style.top = (at[1] / this.img.naturalHeight * 100) + '%';
    marks.appendChild(span);
  };

  // While a slider is dragged: a strip of the picture around where the drag began follows the
  // finger, so the person sees where the piece will land before letting go.
  Check.prototype.preview = function (p, ev) {
    if (this.form === 'click') return;
    var ghost = this.el('ck-ghost'), w = this.pic.offsetWidth, s = w / this.img.naturalWidth;
    var x0 = p.path[0][0] - STRIP / 2, dx = toSite(this.img, ev.clientX, p.y)[0] - p.path[0][0];
    ghost.style.width = (STRIP * s) + 'px';
    ghost.style.left = ((x0 + dx) * s) + 'px';
    ghost.style.backgroundImage = 'url("' + this.img.src + '")';
    ghost.style.backgroundSize = w + 'px ' + this.pic.offsetHeight + 'px';
    ghost.style.backgroundPosition = (-x0 * s) + 'px 0';
    ghost.hidden = false;
  };

  Check.prototype.zoomIn = function (clientX, clientY) {
    var r = this.pic.getBoundingClientRect();
    var z = Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, ZOOM_SCALE * this.img.naturalWidth / r.width));
    var px = clientX - r.left, py = clientY - r.top;
    // The tapped point stays under the finger, the picture around it grows.
    this.zoom = { z: z, tx: px * (1 - z), ty: py * (1 - z), at: performance.now() };
    this.pan(0, 0);
    this.root.classList.add('ck-zoomed');
    this.showNotice();
  };

  Check.prototype.pan = function (dx, dy) {
    var z = this.zoom, w = this.pic.offsetWidth, h = this.pic.offsetHeight;
    z.tx = Math.min(0, Math.max(w * (1 - z.z), z.tx + dx));
    z.ty = Math.min(0, Math.max(h * (1 - z.z), z.ty + dy));
    this.pic.style.transform = 'translate(' + z.tx + 'px, ' + z.ty + 'px) scale(' + z.z + ')';
  };

  Check.prototype.zoomOut = function () {
    if (!this.zoom) return;
    this.zoom = null;
    this.pic.style.transform = '';
    this.root.classList.remove('ck-zoomed');
    this.showNotice();
  };

  // One action at a time, in the order made: the site judges clicks in order.
  Check.prototype.send = function (what, body) {
    var self = this, url = this.url;
    this.pending++;
    this.showNotice();
    this.queue = this.queue.then(function () {
      return fetch(url + '/' + what, {
        method: 'POST', headers: headersFor(true), body: JSON.stringify(body),
        cache: 'no-store', credentials: 'same-origin'
      }).then(function (res) {
        if (res.status === 404 || res.status === 410) self.gone();
        return res.json().catch(function () { return {}; }).then(function (d) {
          self.error = res.ok ? null : (problem(d) || self.texts.error);
        });
      }, function () {
        self.error = self.texts.error;
      });
    }).then(function () {
      if (url !== self.url) return;
      self.pending--;
      self.showNotice();
      AFTER_MS.forEach(function (ms) { setTimeout(function () { self.refreshImage(); }, ms); });
      setTimeout(function () { self.refreshState(); }, AFTER_MS[0]);
    });
  };

  // -- every element with data-check-url ---------------------------------------------------------
  function sync(root) {
    if (!root.__check) root.__check = new Check(root);
    var url = (root.getAttribute('data-check-url') || '').replace(/\/+$/, '');
    if (!url) root.__check.stop();
    else if (url !== root.__check.url) root.__check.start(url);
  }
  Array.prototype.forEach.call(document.querySelectorAll('[data-check-url]'), sync);
  new MutationObserver(function (changes) {
    changes.forEach(function (change) { sync(change.target); });
  }).observe(document.body, { attributes: true, subtree: true, attributeFilter: ['data-check-url'] });
})();
