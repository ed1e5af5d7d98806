/* The operator's pages: the dashboard (queue runs, live runs over Server-Sent Events, the
 * security check passed inline, outcomes and evidence), the ledger, the links.
 * Everything goes through the JSON API with the session's CSRF token in X-CSRF-Token.
 * Every text comes from the server (the page's JSON block #texts, in the page's language; the
 * labels from Python) and goes in as textContent; nothing from other origins. */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var PAGE = document.body.getAttribute('data-page');
  var T = JSON.parse($('texts').textContent);
  var STATES = T.labels.states, CATEGORIES = T.labels.categories, ACTIONS = T.labels.actions;
  var PHASES = T.labels.phases, SUBMITTED = T.labels.submitted;

  function text(el, v) { (typeof el === 'string' ? $(el) : el).textContent = v == null ? '' : String(v); }
  function show(id, on) { $(id).hidden = !on; }
  function el(tag, content, cls) {
    var e = document.createElement(tag);
    if (content != null) e.textContent = content;
    if (cls) e.className = cls;
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function when(ts) {
    if (!ts) return '';
    var d = new Date(ts * 1000), p = function (n) { return (n < 10 ? '0' : '') + n; };
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' +
      p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }
  // An ISO time (the ledger's) as the other times: local, to the second.
  function iso(text) { var t = Date.parse(text || ''); return isNaN(t) ? (text || '') : when(t / 1000); }
  function label(table, key) { return key == null ? '' : (table[key] || String(key)); }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, k) { return k in values ? values[k] : all; });
  }

  function call(method, path, body, isForm) {
    var headers = { 'X-CSRF-Token': CSRF };
    if (body && !isForm) headers['Content-Type'] = 'application/json';
    return fetch(path, {
      method: method, headers: headers, cache: 'no-store', credentials: 'same-origin',
      body: body ? (isForm ? body : JSON.stringify(body)) : undefined
    }).then(function (res) {
      if (res.status === 401) { location.href = '/login'; }
      return res.json().catch(function () { return {}; }).then(function (d) {
        return { status: res.status, ok: res.ok, data: d };
      });
    });
  }
  // A refusal, naming the field (the API never echoes a value).
  function problem(d) {
    var detail = d && d.detail;
    if (Array.isArray(detail)) {
      return detail.map(function (p) {
        var field = (p.loc || []).slice(1).join('.');
        return (field ? field + ': ' : '') + p.msg;
      }).join('; ');
    }
    return detail ? String(detail) : T.went_wrong;
  }
  function formValues(form, names) {
    var out = {};
    names.forEach(function (n) {
      var v = form.elements[n].value.trim();
      if (v) out[n] = v;
    });
    return out;
  }

  // -- the dashboard ------------------------------------------------------------------------
  function dashboard() {
    var runs = {}, order = [], selected = null;
    var shot = $('shot');

    function syncCodeField() {
      var verify = $('action').value === 'verify';
      $('code').disabled = !verify;
      $('code').required = verify;
    }
    $('action').addEventListener('change', syncCodeField);
    syncCodeField();

    $('queue').addEventListener('submit', function (ev) {
      ev.preventDefault();
      show('queue-error', false);
      var body = formValues(ev.target, ['action', 'mobile', 'id_last6', 'code', 'base_url']);
      if (body.action !== 'verify') delete body.code;
      $('queue-run').disabled = true;
      call('POST', '/api/runs', body).then(function (r) {
        $('queue-run').disabled = false;
        if (!r.ok) { show('queue-error', true); text('queue-error', problem(r.data)); return; }
        ['mobile', 'id_last6', 'code'].forEach(function (n) { ev.target.elements[n].value = ''; });
        select(r.data.id);
      });
    });

    $('batch').addEventListener('submit', function (ev) {
      ev.preventDefault();
      show('batch-error', false); show('batch-done', false);
      var data = new FormData();
      var file = $('people').files[0];
      if (!file) return;
      data.append('people', file);
      data.append('action', $('batch-action').value);
      if ($('batch-base_url').value.trim()) data.append('base_url', $('batch-base_url').value.trim());
      $('upload').disabled = true;
      call('POST', '/api/batches', data, true).then(function (r) {
        $('upload').disabled = false;
        if (!r.ok) { show('batch-error', true); text('batch-error', problem(r.data)); return; }
        show('batch-done', true);
        text('batch-done', fill(T.batch_queued, { n: r.data.runs.length, id: r.data.id }));
        $('people').value = '';
      });
    });

    // Live: every run once, then each run as it changes.
    function connect() {
      var source = new EventSource('/events');
      source.addEventListener('open', function () { text('live', T.live); });
      source.addEventListener('error', function () { text('live', T.reconnecting); });
      source.addEventListener('runs', function (ev) {
        JSON.parse(ev.data).forEach(function (run) {
          if (!runs[run.id]) order.unshift(run.id);
          runs[run.id] = run;
        });
        table();
        if (selected) detail();
      });
    }

    function table() {
      var body = $('runs').tBodies[0];
      clear(body);
      show('no-runs', order.length === 0);
      order.forEach(function (id) {
        var run = runs[id];
        var tr = el('tr');
        tr.id = 'run-' + id;
        if (id === selected) tr.className = 'selected';
        tr.appendChild(el('td', when(run.created_at)));
        tr.appendChild(el('td', label(ACTIONS, run.action)));
        tr.appendChild(el('td', run.person));
        tr.appendChild(el('td', label(STATES, run.state), 'state state-' + run.state));
        tr.appendChild(el('td', run.state === 'done' ? '' : label(PHASES, run.phase)));
        tr.appendChild(el('td', run.outcome ? label(CATEGORIES, run.outcome.category) : ''));
        var td = el('td'), open = el('button', run.state === 'needs_person' ? T.pass_check : T.open, 'small');
        open.type = 'button';
        open.addEventListener('click', function () { select(id); });
        td.appendChild(open);
        tr.appendChild(td);
        body.appendChild(tr);
      });
    }

    function select(id) {
      if (selected !== id) { evidenceFor = null; checkFor = null; }
      selected = id;
      table();
      detail();
      $('run').scrollIntoView({ block: 'nearest' });
    }

    var evidenceFor = null, checkFor = null;
    function detail() {
      var run = runs[selected];
      show('run', true);
      text('run-id', selected);
      if (!run) { text('run-state', label(STATES, 'queued')); return; }
      text('run-person', run.person);
      text('run-action', label(ACTIONS, run.action));
      text('run-state', label(STATES, run.state));
      text('run-phase', run.state === 'done' ? '' : '(' + label(PHASES, run.phase) + ')');
      var waiting = run.state === 'needs_person';
      show('check', waiting);
      if (waiting && checkFor !== selected) { checkFor = selected; refreshCheck(); refreshImage(); }
      if (!waiting) checkFor = null;
      var o = run.outcome;
      show('outcome', !!o);
      if (o) {
        text('category', label(CATEGORIES, o.category));
        $('outcome').className = 'outcome-' + o.category;
        text('message', o.message);
        text('next', o.next_step);
        text('banner', o.banner_zh || '-');
        text('submitted', label(SUBMITTED, o.submitted));
        text('site-status', o.site_status == null ? '-' : o.site_status);
        if (evidenceFor !== selected) { evidenceFor = selected; evidence(selected); }
      }
    }

    function evidence(id) {
      var list = $('evidence');
      clear(list);
      var base = '/api/runs/' + id + '/evidence/';
      call('GET', base).then(function (r) {
        var files = r.ok && Array.isArray(r.data) ? r.data : [];
        if (files.indexOf('report.html') < 0 && files.indexOf('result.json') >= 0) files.push('report.html');
        files.forEach(function (name) {
          var li = el('li'), a = el('a', name);
          a.href = base + encodeURIComponent(name);
          a.target = '_blank'; a.rel = 'noopener';
          li.appendChild(a);
          if (/\.png$/.test(name)) li.appendChild(el('span', ' ' + T.screenshot, 'meta'));
          if (name === 'report.html') li.appendChild(el('span', ' ' + T.report, 'meta'));
          list.appendChild(li);
        });
        if (!files.length) list.appendChild(el('li', T.no_files, 'meta'));
      });
    }

    // -- the security check, inline: picture pixel = CSS pixel of the site's box ----------------
    var imageBusy = false, imageAgain = false, imageUrl = null, leftAt = null;
    function waitingId() { var r = runs[selected]; return r && r.state === 'needs_person' ? selected : null; }
    function refreshImage() {
      var id = waitingId();
      if (!id) return;
      if (imageBusy) { imageAgain = true; return; }
      imageBusy = true;
      fetch('/api/runs/' + id + '/check.png?t=' + Date.now(), { cache: 'no-store', credentials: 'same-origin' })
        .then(function (res) { return res.ok ? res.blob() : null; })
        .then(function (blob) {
          if (!blob) return;
          var url = URL.createObjectURL(blob);
          shot.onload = function () { if (imageUrl && imageUrl !== url) URL.revokeObjectURL(imageUrl); imageUrl = url; };
          shot.src = url;
        }).catch(function () {}).then(function () {
          imageBusy = false;
          if (imageAgain) { imageAgain = false; refreshImage(); }
        });
    }
    function refreshCheck() {
      var id = waitingId();
      if (!id) return;
      call('GET', '/api/runs/' + id + '/check?lang=' + encodeURIComponent(document.documentElement.lang)).then(function (r) {
        if (!r.ok || id !== waitingId()) return;
        var ins = r.data;
        text('english', ins.text);  // in the page's language, with its punctuation
        var list = $('chars');
        clear(list);
        (ins.characters || []).forEach(function (c) { var li = el('li', c); li.lang = 'zh-CN'; list.appendChild(li); });
        list.hidden = !(ins.characters && ins.characters.length);
        text('chinese', ins.chinese);
        show('notice', !!ins.notice); text('notice', ins.notice);
        leftAt = [ins.time_left, performance.now()];
        tick();
      });
    }
    function tick() {
      if (!leftAt) return;
      var left = Math.max(0, leftAt[0] - (performance.now() - leftAt[1]) / 1000);
      var m = Math.floor(left / 60), s = Math.floor(left % 60);
      text('left', m + ':' + (s < 10 ? '0' : '') + s);
    }
    function at(ev) {
      var r = shot.getBoundingClientRect();
      var sx = shot.naturalWidth && r.width ? shot.naturalWidth / r.width : 1;
      var sy = shot.naturalHeight && r.height ? shot.naturalHeight / r.height : 1;
      return [Math.round((ev.clientX - r.left) * sx * 10) / 10, Math.round((ev.clientY - r.top) * sy * 10) / 10];
    }
    // One action at a time, in the order made: the site judges clicks in order.
    var queue = Promise.resolve();
    function act(path, body) {
      var id = waitingId();
      if (!id) return;
      queue = queue.then(function () {
        return call('POST', '/api/runs/' + id + '/check/' + path, body);
      }).then(function (r) {
        if (!r.ok && r.status !== 409) { show('notice', true); text('notice', problem(r.data)); }
      }).catch(function () {}).then(function () {
        [120, 450, 1000].forEach(function (ms) { setTimeout(refreshImage, ms); });
        setTimeout(refreshCheck, 300);
      });
    }
    var press = null;
    shot.addEventListener('pointerdown', function (ev) {
      if (ev.button !== 0 || !waitingId()) return;
      ev.preventDefault();
      shot.setPointerCapture(ev.pointerId);
      press = { from: at(ev), moved: false };
    });
    shot.addEventListener('pointermove', function (ev) {
      if (!press) return;
      var p = at(ev);
      if (Math.abs(p[0] - press.from[0]) > 4 || Math.abs(p[1] - press.from[1]) > 4) press.moved = true;
    });
    function release(ev) {
      if (!press) return;
      var done = press;
      press = null;
      if (ev.type === 'pointercancel') return;
      if (!done.moved) act('click', { x: done.from[0], y: done.from[1] });
      else act('drag', { from: done.from, to: at(ev) });
    }
    shot.addEventListener('pointerup', release);
    shot.addEventListener('pointercancel', release);
    shot.addEventListener('dragstart', function (ev) { ev.preventDefault(); });

    connect();
    setInterval(refreshImage, 2000);
    setInterval(refreshCheck, 1000);
    setInterval(tick, 250);
  }

  // -- the ledger ---------------------------------------------------------------------------
  function ledger() {
    call('GET', '/api/ledger').then(function (r) {
      var rows = r.ok ? r.data : [];
      var body = $('ledger').tBodies[0];
      show('empty', rows.length === 0);
      rows.forEach(function (row) {
        var tr = el('tr');
        [row.id, label(ACTIONS, row.action), row.person, iso(row.started_at), iso(row.finished_at),
          row.outcome ? label(CATEGORIES, row.outcome) : '', row.site_status == null ? '' : row.site_status,
          row.sent ? T.yes : T.no].forEach(function (v) { tr.appendChild(el('td', v)); });
        body.appendChild(tr);
      });
    });
  }

  // -- the links ----------------------------------------------------------------------------
  function links() {
    function load() {
      call('GET', '/api/links').then(function (r) {
        var rows = r.ok ? r.data : [];
        var body = $('links').tBodies[0];
        clear(body);
        show('empty', rows.length === 0);
        rows.forEach(function (link) {
          var tr = el('tr');
          tr.id = 'link-' + link.id;
          var state = T.link_states[link.revoked ? 'revoked' : link.expired ? 'expired' : 'active'];
          [link.person, when(link.created_at), when(link.expires_at), state,
            link.attempts, link.created_by].forEach(function (v) { tr.appendChild(el('td', v)); });
          var td = el('td');
          if (!link.revoked && !link.expired) {
            var b = el('button', T.revoke, 'small danger');
            b.type = 'button';
            b.addEventListener('click', function () {
              b.disabled = true;
              call('POST', '/api/links/' + link.id + '/revoke').then(load);
            });
            td.appendChild(b);
          }
          tr.appendChild(td);
          body.appendChild(tr);
        });
      });
    }
    $('new-link').addEventListener('submit', function (ev) {
      ev.preventDefault();
      show('link-error', false); show('made', false);
      var body = formValues(ev.target, ['mobile', 'id_last6', 'base_url']);
      body.expires_in_s = parseInt($('expires').value, 10);
      call('POST', '/api/links', body).then(function (r) {
        if (!r.ok) { show('link-error', true); text('link-error', problem(r.data)); return; }
        ev.target.elements.mobile.value = ''; ev.target.elements.id_last6.value = '';
        $('made-url').value = r.data.url;
        show('made', true);
        $('made-url').select();
        load();
      });
    });
    load();
  }

  if (PAGE === 'dashboard') dashboard();
  else if (PAGE === 'ledger') ledger();
  else if (PAGE === 'links') links();
})();
