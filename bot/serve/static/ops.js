/* The operator's webhooks page (register, remove, the deliveries) and audit page, through the
 * JSON API with the session's CSRF token in X-CSRF-Token, as ui.js does for the other pages.
 * Every text comes from the server (the page's JSON block #texts, in the page's language) and
 * goes in as textContent. */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var PAGE = document.body.getAttribute('data-page');
  var T = JSON.parse($('texts').textContent);
  var ACTIONS = T.labels.audit_actions, STATES = T.labels.delivery_states;

  function text(el, v) { (typeof el === 'string' ? $(el) : el).textContent = v == null ? '' : String(v); }
  function show(id, on) { $(id).hidden = !on; }
  function el(tag, content, cls) {
    var e = document.createElement(tag);
    if (content != null) e.textContent = content;
    if (cls) e.className = cls;
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (all, k) { return k in values ? values[k] : all; });
  }
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
  function call(method, path, body) {
    var headers = { 'X-CSRF-Token': CSRF };
    if (body) headers['Content-Type'] = 'application/json';
    return fetch(path, {
      method: method, headers: headers, cache: 'no-store', credentials: 'same-origin',
      body: body ? JSON.stringify(body) : undefined
    }).then(function (res) {
      if (res.status === 401) { location.href = '/login'; }
      return res.json().catch(function () { return {}; }).then(function (d) {
        return { status: res.status, ok: res.ok, data: d };
      });
    });
  }
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
  function rows(table, list, empty, make) {
    var body = $(table).tBodies[0];
    clear(body);
    show(empty, list.length === 0);
    list.forEach(function (item) { body.appendChild(make(item)); });
    labelCells($(table));
  }

  // -- webhooks -----------------------------------------------------------------------------
  function webhooks() {
    function hooks() {
      call('GET', '/api/webhooks').then(function (r) {
        rows('hooks', r.ok ? r.data : [], 'no-hooks', function (hook) {
          var tr = el('tr');
          tr.id = 'hook-' + hook.id;
          [hook.url, hook.events.join(', '), when(hook.created_at), hook.created_by].forEach(
            function (v) { tr.appendChild(el('td', v)); });
          var td = el('td', null, 'actions'), b = el('button', T.remove, 'small danger');
          b.type = 'button';
          b.setAttribute('aria-label', fill(T.remove_name, { url: hook.url }));
          b.addEventListener('click', function () {
            if (!window.confirm(fill(T.remove_ask, { url: hook.url }))) return;
            b.disabled = true;
            call('DELETE', '/api/webhooks/' + hook.id).then(load);
          });
          td.appendChild(b);
          tr.appendChild(td);
          return tr;
        });
      });
    }
    function deliveries() {
      call('GET', '/api/webhooks/deliveries').then(function (r) {
        rows('deliveries', r.ok ? r.data : [], 'no-deliveries', function (d) {
          var tr = el('tr');
          tr.className = 'delivery-' + d.state;
          var answer = d.last_error || (d.last_status ? 'HTTP ' + d.last_status : '');
          [d.event, when(d.created_at), d.url || T.removed, STATES[d.state] || d.state, d.attempts, answer,
            d.state === 'pending' ? when(d.next_at) : '', when(d.delivered_at)].forEach(
            function (v) { tr.appendChild(el('td', v)); });
          return tr;
        });
      });
    }
    function load() { hooks(); deliveries(); }
    $('new-hook').addEventListener('submit', function (ev) {
      ev.preventDefault();
      show('hook-error', false); show('made', false);
      var events = Array.prototype.filter.call(ev.target.elements.events, function (c) { return c.checked; })
        .map(function (c) { return c.value; });
      $('add-hook').disabled = true;
      call('POST', '/api/webhooks', { url: $('url').value.trim(), events: events }).then(function (r) {
        $('add-hook').disabled = false;
        if (!r.ok) { show('hook-error', true); text('hook-error', problem(r.data)); return; }
        $('url').value = '';
        $('made-secret').value = r.data.secret;
        show('made', true);
        $('made-secret').select();
        load();
      });
    });
    load();
    setInterval(deliveries, 5000);
  }

  // -- the audit log --------------------------------------------------------------------------
  function audit() {
    var oldest = null;
    function details(d) {
      return Object.keys(d || {}).filter(function (k) { return d[k] != null && d[k] !== ''; })
        .map(function (k) { return k + ': ' + d[k]; }).join(', ');
    }
    function more(first) {
      var path = '/api/audit?limit=200' + (oldest ? '&before=' + oldest : '');
      call('GET', path).then(function (r) {
        var list = r.ok ? r.data : [];
        var body = $('audit').tBodies[0];
        if (first) { clear(body); show('no-entries', list.length === 0); }
        list.forEach(function (e) {
          var tr = el('tr');
          [when(e.at), e.actor, ACTIONS[e.action] || e.what, e.target || ''].forEach(function (v) { tr.appendChild(el('td', v)); });
          tr.appendChild(el('td', details(e.detail), 'detail'));
          body.appendChild(tr);
          oldest = e.id;
        });
        labelCells($('audit'));
        show('older', list.length === 200);
      });
    }
    $('older').addEventListener('click', function () { more(false); });
    more(true);
  }

  if (PAGE === 'webhooks') webhooks();
  else if (PAGE === 'audit') audit();
})();
