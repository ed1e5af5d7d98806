/* The operator's pages: the dashboard (queue runs, live runs over Server-Sent Events, the
 * security check passed inline, outcomes and evidence), the ledger, the links.
 * Everything goes through the JSON API with the session's CSRF token in X-CSRF-Token.
 * Every text from the server goes in as textContent; nothing from other origins. */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var PAGE = document.body.getAttribute('data-page');

  var STATES = {
    queued: ['queued', '排队中'], running: ['running', '运行中'],
    needs_person: ['waits for you: security check', '等待安全校验'], done: ['done', '完成']
  };
  var CATEGORIES = {
    success: ['success', '成功'], wrong_info: ['wrong information', '信息有误'],
    no_record: ['no such filing', '无备案记录'], failed: ['failed', '失败'],
    invalid_input: ['invalid input', '输入无效'], captcha_required: ['security check not passed', '未通过安全校验'],
    site_error: ['site error', '网站错误'], unknown: ['unknown: check the status', '结果未知'],
    refused: ['refused by icpbot', '已拒绝'], selector_error: ['the page changed', '页面已变化'],
    stopped: ['stopped', '已停止']
  };
  var ACTIONS = { verify: 'verify 短信核验', resend: 'resend 重发短信' };

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
  function both(pair) { return pair ? pair[0] + ' · ' + pair[1] : ''; }

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
    return detail ? String(detail) : 'Something went wrong.';
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
        text('batch-done', 'Queued ' + r.data.runs.length + ' runs (batch ' + r.data.id + ').');
        $('people').value = '';
      });
    });

    // Live: every run once, then each run as it changes.
    function connect() {
      var source = new EventSource('/events');
      source.addEventListener('open', function () { text('live', '(live)'); });
      source.addEventListener('error', function () { text('live', '(reconnecting…)'); });
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
        tr.appendChild(el('td', ACTIONS[run.action] || run.action));
        tr.appendChild(el('td', run.person));
        tr.appendChild(el('td', both(STATES[run.state]), 'state state-' + run.state));
        tr.appendChild(el('td', run.state === 'done' ? '' : run.phase));
        tr.appendChild(el('td', run.outcome ? both(CATEGORIES[run.outcome.category]) || run.outcome.category : ''));
        var td = el('td'), open = el('button', run.state === 'needs_person' ? 'Pass the check' : 'Open', 'small');
        open.type = 'button';
        open.addEventListener('click', function () { select(id); });
        td.appendChild(open);
        tr.appendChild(td);
        body.appendChild(tr);
      });
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
      if (!run) { text('run-state', 'queued'); check.setAttribute('data-check-url', ''); return; }
      text('run-person', run.person);
      text('run-action', ACTIONS[run.action] || run.action);
      text('run-state', both(STATES[run.state]));
      text('run-phase', run.state === 'done' ? '' : '(' + run.phase + ')');
      var waiting = run.state === 'needs_person';
      show('check', waiting);
      // The widget draws and relays the check (the API's check routes) while the run waits.
      check.setAttribute('data-check-url', waiting ? '/api/runs/' + selected + '/check' : '');
      var o = run.outcome;
      show('outcome', !!o);
      if (o) {
        var cat = CATEGORIES[o.category] || [o.category, ''];
        text('category', cat[0]); text('category-zh', cat[1]);
        $('outcome').className = 'outcome-' + o.category;
        text('message', o.message);
        text('next', o.next_step);
        text('banner', o.banner_zh || '-');
        text('submitted', o.submitted);
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
          if (/\.png$/.test(name)) li.appendChild(el('span', ' (screenshot)', 'meta'));
          if (name === 'report.html') li.appendChild(el('span', ' (the report)', 'meta'));
          list.appendChild(li);
        });
        if (!files.length) list.appendChild(el('li', 'No files for this run.', 'meta'));
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
        [row.id, ACTIONS[row.action] || row.action, row.person, iso(row.started_at), iso(row.finished_at),
          row.outcome ? both(CATEGORIES[row.outcome]) || row.outcome : '', row.site_status == null ? '' : row.site_status,
          row.sent ? 'yes' : 'no'].forEach(function (v) { tr.appendChild(el('td', v)); });
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
          var state = link.revoked ? 'revoked 已撤销' : link.expired ? 'expired 已过期' :
            link.state === 'done' ? 'done 已完成' :
            link.state === 'held' ? 'held: may have reached the site; check with the customer, then reset 待确认' :
            'active 有效';
          [link.person, when(link.created_at), when(link.expires_at), state,
            link.attempts, link.created_by].forEach(function (v) { tr.appendChild(el('td', v)); });
          var td = el('td');
          if (!link.revoked && !link.expired && link.state === 'held') {
            var reset = el('button', 'Reset', 'small');
            reset.type = 'button';
            reset.addEventListener('click', function () {
              reset.disabled = true;
              call('POST', '/api/links/' + link.id + '/reset').then(load);
            });
            td.appendChild(reset);
          }
          if (!link.revoked && !link.expired) {
            var b = el('button', 'Revoke', 'small danger');
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
