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
  // Each cell of a drawn list names its column (data-label): a phone shows it as a card.
  function labelCells(table) {
    var heads = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) {
      return th.textContent.trim();
    });
    table.classList.add('cards');
    Array.prototype.forEach.call(table.tBodies[0].rows, function (tr) {
      Array.prototype.forEach.call(tr.cells, function (td, i) { td.setAttribute('data-label', heads[i] || ''); });
    });
  }
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
    var check = document.querySelector('#check .ck');  // the check's widget (check.js)

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
        var action = el('td'), what = el('span', label(ACTIONS, run.action));  // one cell item
        if (fromLink(run)) what.appendChild(el('span', T.customer_run, 'badge'));
        action.appendChild(what);
        tr.appendChild(action);
        tr.appendChild(el('td', run.person));
        tr.appendChild(el('td', stateOf(run), 'state state-' + run.state));
        tr.appendChild(el('td', run.state === 'done' ? '' : label(PHASES, run.phase)));
        tr.appendChild(el('td', run.outcome ? label(CATEGORIES, run.outcome.category) : ''));
        var td = el('td', null, 'open'), open = el('button', run.state === 'needs_person' ? T.pass_check : T.open, 'small');
        open.type = 'button';
        open.addEventListener('click', function () { select(id); });
        td.appendChild(open);
        tr.appendChild(td);
        body.appendChild(tr);
      });
      labelCells($('runs'));
    }

    // A run from a customer's link: at its check, the customer is there (the operator can
    // still pass it: "Pass the check" takes it over).
    function fromLink(run) { return /^link:/.test(run.created_by || ''); }
    function stateOf(run) {
      return run.state === 'needs_person' && fromLink(run) ? T.customer_at_check : label(STATES, run.state);
    }

    function select(id) {
      if (selected !== id) evidenceFor = null;
      selected = id;
      table();
      detail();
      $('run').scrollIntoView({ block: 'nearest' });
    }

    var evidenceFor = null;
    function detail() {
      var run = runs[selected];
      show('run', true);
      text('run-id', selected);
      if (!run) { text('run-state', label(STATES, 'queued')); check.setAttribute('data-check-url', ''); return; }
      text('run-person', run.person);
      text('run-action', label(ACTIONS, run.action));
      text('run-state', stateOf(run));
      text('run-phase', run.state === 'done' ? '' : '(' + label(PHASES, run.phase) + ')');
      var waiting = run.state === 'needs_person';
      show('check', waiting);
      show('check-you', !fromLink(run));
      show('check-customer', fromLink(run));
      // The widget draws and relays the check (the API's check routes) while the run waits.
      check.setAttribute('data-check-url', waiting ? '/api/runs/' + selected + '/check' : '');
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

    connect();
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
      labelCells($('ledger'));
    });
  }

  // -- the links ----------------------------------------------------------------------------
  // Each link's state (the API's status: waiting, in progress, verified, failed, used up,
  // expired, revoked, held) with its last outcome; Reset and Extend (for the time chosen beside
  // it) act at once, Revoke asks first in the row itself (no window.confirm: the question is
  // part of the page, read out by screen readers, and works the same under every browser's
  // settings).
  function links() {
    var LINK_STATUS = T.labels.link_status;
    function said(kind, message) {
      text('list-status', kind === 'ok' ? message : '');
      text('list-error', kind === 'ok' ? '' : message);
    }
    function act(link, what, body, done) {
      return call('POST', '/api/links/' + link.id + '/' + what, body).then(function (r) {
        if (!r.ok) { said('error', problem(r.data)); } else { said('ok', done(r.data)); }
        load();
      });
    }
    function button(label, cls, title, onClick) {
      var b = el('button', label, 'small ' + (cls || ''));
      b.type = 'button';
      if (title) b.title = title;
      b.addEventListener('click', function () { b.disabled = true; onClick(b); });
      return b;
    }
    function actions(link, td) {
      clear(td);
      var st = link.status, live = st !== 'revoked' && st !== 'expired';
      if (live && (st === 'held' || st === 'used_up' || st === 'failed') && link.attempts > 0) {
        td.appendChild(button(T.reset, 'secondary', T.reset_name, function () {
          act(link, 'reset', null, function () { return T.done_reset; });
        }));
      }
      if (live && st !== 'verified') {
        // How long from now: the operator's choice (24 hours unless changed), beside Extend.
        var span = el('span', null, 'extend'), pick = el('select', null, 'small');
        pick.setAttribute('aria-label', T.extend_for);
        T.extend_choices.forEach(function (choice) {
          var o = el('option', choice[1]);
          o.value = String(choice[0]);
          o.selected = choice[0] === 86400;
          pick.appendChild(o);
        });
        span.appendChild(button(T.extend, 'secondary', T.extend_name, function () {
          pick.disabled = true;
          act(link, 'extend', { expires_in_s: Number(pick.value) }, function (d) {
            return fill(T.done_extend, { when: when(d.expires_at) });
          });
        }));
        span.appendChild(pick);
        td.appendChild(span);
      }
      if (live) {
        td.appendChild(button(T.revoke, 'danger', null, function () { confirmRevoke(link, td); }));
      }
    }
    function confirmRevoke(link, td) {
      clear(td);
      var box = el('div', null, 'confirm');
      box.setAttribute('role', 'group');
      var ask = el('span', T.revoke_ask);
      ask.id = 'ask-' + link.id;
      box.setAttribute('aria-labelledby', ask.id);
      box.appendChild(ask);
      var yes = button(T.revoke_yes, 'danger', null, function () {
        act(link, 'revoke', null, function () { return T.done_revoke; });
      });
      var no = button(T.cancel, 'secondary', null, function () {
        actions(link, td);
        var again = td.querySelector('button.danger');  // back where the person was
        if (again) again.focus();
      });
      box.appendChild(yes); box.appendChild(no);
      td.appendChild(box);
      no.focus();  // the safe choice first: Enter on it changes nothing
    }
    function load() {
      return call('GET', '/api/links').then(function (r) {
        var rows = r.ok ? r.data : [];
        var body = $('links').tBodies[0];
        clear(body);
        show('empty', rows.length === 0);
        rows.forEach(function (link) {
          var tr = el('tr');
          tr.id = 'link-' + link.id;
          tr.appendChild(el('td', link.label, 'label'));
          tr.appendChild(el('td', link.person));
          var state = el('td', null, 'link-state link-' + link.status);
          state.appendChild(el('span', label(LINK_STATUS, link.status), 'status'));
          if (link.last_outcome) {
            state.appendChild(el('span', fill(T.last_outcome,
              { label: label(CATEGORIES, link.last_outcome) }), 'meta last'));
          }
          tr.appendChild(state);
          [link.tries_left, when(link.created_at), when(link.expires_at), link.created_by]
            .forEach(function (v) { tr.appendChild(el('td', v)); });
          var td = el('td', null, 'actions');
          actions(link, td);
          tr.appendChild(td);
          body.appendChild(tr);
        });
        labelCells($('links'));
      });
    }
    $('refresh').addEventListener('click', function () { said('ok', ''); load(); });
    $('new-link').addEventListener('submit', function (ev) {
      ev.preventDefault();
      show('link-error', false); show('made', false);
      var body = formValues(ev.target, ['mobile', 'id_last6', 'base_url', 'label']);
      body.expires_in_s = parseInt($('expires').value, 10);
      call('POST', '/api/links', body).then(function (r) {
        if (!r.ok) { show('link-error', true); text('link-error', problem(r.data)); return; }
        ['mobile', 'id_last6', 'label'].forEach(function (n) { ev.target.elements[n].value = ''; });
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
