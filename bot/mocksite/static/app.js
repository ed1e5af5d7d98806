/* The mock MIIT SMS-verification page (see ../shared/domain.md for what it must reproduce).
 *
 * Vue 2 + Element UI, hash routing, API on another origin. The server injects window.__MOCK__.
 * Nothing here may add hooks the real page lacks (ids, names, labels or data-* on the inputs).
 */
(function () {
  'use strict';

  var MOCK = window.__MOCK__ || {};
  var API = MOCK.apiBase || '/icpproject_query/api';
  var TEST_MODE = !!(MOCK.testMode && MOCK.controlBase);

  // The site's own copy of the banner texts, mixed ASCII/full-width commas exactly as on the real page.
  var STATUS_TEXT = {
    '3': '您的短信核验已全部完成,该请求将提交管局审核。',
    '31': '您的短信核验完成,请等待其他核验人进行短信核验。',
    '20': '您的短信核验已完成，无需重复提交。',
    '2': '您的短信核验失败,请输入正确的信息。',
    '4': '该条验证库里找不到记录或已完成验证。',
    '21': '您的短信核验失败,请联系接入商查询核验结果。',
    '0': '您的短信核验失败,请您重新验证。',
    '100': '您暂无待短信核验的备案申请，无需重发短信。',
    '101': '您的短信验证码已重发成功，请查看手机并尽快完成短信核验。',
    '102': '重发次数已到上限，若不能及时完成短信核验，您的备案申请将会被退回。'
  };
  var NETWORK_ERROR = '网络异常，请稍后再试';
  var CLICK_GUARD_MS = 3000;
  var POLL_MS = 200;
  var PASSED_MS = 400;  // how long the box shows 验证成功 before it closes and the page sends

  var CLASSES = {
    tit: 'tit', selection: 'Selection', tabCard: 'tab-card', submit: 'Submission', tips: 'tips'
  };
  var RENAMED = {
    tit: 'tab-title', selection: 'active', tabCard: 'tab-pane-card', submit: 'submit-btn', tips: 'result-tips'
  };
  var PLACEHOLDERS = {
    code: '请输短信验证码', mobile: '请输入手机号', cert: '请输入证件号码后6位',
    resendMobile: '请输入手机号码', resendCert: '请输入证件号码后6位'
  };
  function variant(name) {
    var v = { cls: CLASSES, tabs: ['短信核验', '短信重发'], submit: '提交', ph: PLACEHOLDERS };
    if (name === 'placeholder-fixed') {
      v.ph = Object.assign({}, PLACEHOLDERS, { code: '请输入短信验证码' });
    } else if (name === 'renamed-classes') {
      v.cls = RENAMED;
    } else if (name === 'el-tabs') {
      // A redesign: the tab strip is Element's el-tabs, the cards its panes, classes renamed.
      v.cls = Object.assign({}, RENAMED, { tabCard: 'el-tab-pane' });
      v.elTabs = true;
    } else if (name === 'hostile') {
      v.cls = RENAMED;
      v.tabs = ['短信验证', '重新发送'];
      v.submit = '确定';
      v.ph = { code: 'SMS code', mobile: 'Mobile', cert: 'ID last 6', resendMobile: 'Mobile', resendCert: 'ID last 6' };
    }
    return v;
  }

  // The real site sends md5(secret + timeStamp); any 32-hex digest will do for the mock.
  function digest32(text) {
    var out = '';
    for (var seed = 0; seed < 4; seed++) {
      var h = (0x811c9dc5 ^ (seed * 0x9e3779b9)) >>> 0;
      for (var i = 0; i < text.length; i++) {
        h ^= text.charCodeAt(i);
        h = Math.imul(h, 0x01000193) >>> 0;
      }
      out += ('00000000' + h.toString(16)).slice(-8);
    }
    return out;
  }

  function randomId() {
    var s = '';
    for (var i = 0; i < 32; i++) s += Math.floor(Math.random() * 16).toString(16);
    return s.slice(0, 8) + '-' + s.slice(8, 12) + '-' + s.slice(12, 16) + '-' + s.slice(16, 20) + '-' + s.slice(20);
  }

  // Failures the page reports: HTTP 401 (to the login route) and everything else (network toast).
  function HttpError(kind) { this.kind = kind; }

  function postJson(path, body, headers) {
    var h = Object.assign({ 'Content-Type': 'application/json' }, headers || {});
    return request(path, { method: 'POST', headers: h, body: JSON.stringify(body) });
  }

  function request(path, init) {
    return fetch(API + path, init).then(function (res) {
      if (res.status === 401) throw new HttpError('unauthorized');
      if (!res.ok) throw new HttpError('network');
      return res.json().catch(function () { throw new HttpError('network'); });
    }, function () { throw new HttpError('network'); });
  }

  // An empty route: the home page (by a redirect) or, with emptyRoute 'landing', a page without
  // the SMS block, as after the front door's challenge has dropped the '#/...' route.
  var LANDING = MOCK.emptyRoute === 'landing';

  function routeOf(hash) {
    if (LANDING && (hash === '' || hash === '#' || hash === '#/')) return 'landing';
    if (hash === '#/login') return 'login';
    if (hash === '#/Integrated/index') return 'index';
    if (hash === '#/Integrated/ComplaintA') return 'complaint';
    return null;
  }

  function mobileValidator(rule, value, callback) {
    if (!/^\d+$/.test(value)) callback(new Error('手机号为数字值'));
    else if (!/^1[3-9][0-9]\d{8}$/.test(value)) callback(new Error('请输入正确的手机号'));
    else callback();
  }
  var MOBILE_RULES = [
    { required: true, message: '手机号不能为空', trigger: 'blur' },
    { validator: mobileValidator, trigger: 'blur' }
  ];
  var CERT_RULES = [{ required: true, message: '证件号不能为空', trigger: 'blur' }];

  function emptyCheck() {
    return { open: false, tab: 0, body: null, uuid: null, words: [], width: 500, height: 190,
      points: [], marks: [], sent: 0, failed: false, passed: false, ready: false, busy: false,
      fired: false, early: false, form: MOCK.captchaForm || 'click', y: 0, pieceSize: 44, slide: 0 };
  }

  new Vue({
    el: '#app',
    template: '#app-tpl',
    data: function () {
      return {
        route: routeOf(location.hash) || 'index',
        v: variant(MOCK.variant || 'default'),
        tab: 0,
        verifyForm: { smsValidCode: '', mobileNum: '', certNum: '' },
        resendForm: { mobileNum: '', certNum: '' },
        verifyRules: {
          smsValidCode: [{ required: true, message: '短信验证码不能为空', trigger: 'blur' }],
          mobileNum: MOBILE_RULES,
          certNum: CERT_RULES
        },
        resendRules: { mobileNum: MOBILE_RULES, certNum: CERT_RULES },
        banner: { show: false, ok: false, text: '' },
        check: emptyCheck(),
        token: null,
        query: '',
        login: { user: '', pass: '' },
        notices: [
          { t: '关于进一步落实网站备案信息真实性核验工作的通知', d: '2024-03-18' },
          { t: '短信核验常见问题解答', d: '2024-01-09' },
          { t: '关于开展互联网信息服务备案短信核验工作的公告', d: '2023-11-27' },
          { t: '关于App备案相关工作的通知', d: '2023-08-04' },
          { t: '备案信息变更及注销办理说明', d: '2023-05-22' }
        ]
      };
    },
    computed: {
      cls: function () { return this.v.cls; }
    },
    created: function () {
      // Non-reactive bookkeeping.
      this._guard = [false, false];
      this._authPromise = null;
      this._checkGen = 0;
      this._pollTimer = null;
      this._polling = false;
      this._earlyShown = false;
      this._earlyPass = null;
      var self = this;
      if (!routeOf(location.hash)) location.replace('#/Integrated/index');
      window.addEventListener('hashchange', function () {
        var r = routeOf(location.hash);
        if (r) { self.route = r; self.openEarlyCheck(); }
        else location.replace('#/Integrated/index');
      });
      this.ensureToken();
    },
    mounted: function () {
      this.openEarlyCheck();
    },
    methods: {
      ensureToken: function () {
        var self = this;
        if (this.token) return Promise.resolve();
        if (!this._authPromise) {
          var ts = String(Date.now());
          var form = 'authKey=' + digest32('testtest' + ts) + '&timeStamp=' + ts;
          this._authPromise = request('/auth', {
            method: 'POST',
            headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=UTF-8' },
            body: form
          }).then(function (data) {
            if (data && Number(data.code) === 200 && data.params) self.token = data.params.bussiness || null;
          }, function (err) {
            // 401 sends the browser to the login route, whichever call got it; other failures
            // leave no token and the next call shows the error.
            if (err instanceof HttpError && err.kind === 'unauthorized') self.failed(err);
          }).then(function () {
            self._authPromise = null;
          });
        }
        return this._authPromise;
      },
      authHeaders: function () {
        return this.token ? { token: this.token } : {};
      },
      failed: function (err) {
        if (err instanceof HttpError && err.kind === 'unauthorized') {
          this.closeCheck();
          location.hash = '#/login';
          return;
        }
        if (!(err instanceof HttpError)) console.error(err);
        this.$message.error(NETWORK_ERROR);
      },

      switchTab: function (i) {
        if (this.tab === i) return;
        this.tab = i;
        this.$refs.verifyForm.resetFields();
        this.$refs.resendForm.resetFields();
        this.banner.show = false;
      },

      submit: function (tab) {
        // The real button ignores clicks for 3 s after one click, without looking disabled.
        if (this._guard[tab]) return;
        var guard = this._guard;
        guard[tab] = true;
        setTimeout(function () { guard[tab] = false; }, CLICK_GUARD_MS);

        var self = this;
        var form = tab === 0 ? this.$refs.verifyForm : this.$refs.resendForm;
        form.validate(function (valid) {
          if (!valid) return;
          var body = tab === 0
            ? { smsValidCode: self.verifyForm.smsValidCode, mobileNum: self.verifyForm.mobileNum, certNum: self.verifyForm.certNum }
            : { mobileNum: self.resendForm.mobileNum, certNum: self.resendForm.certNum };
          self.banner.show = false;
          var early = self._earlyPass;
          self._earlyPass = null;
          if (MOCK.captcha && early) self.send(tab, body, early);
          else if (MOCK.captcha) self.openCheck(tab, body);
          else self.send(tab, body, null);
        });
      },

      send: function (tab, body, pass) {
        var self = this;
        var path = tab === 0 ? '/smsValidate/validateByCondition' : '/smsValidate/resendSMSByCondition';
        return this.ensureToken().then(function () {
          var headers = self.authHeaders();
          if (pass) { headers.uuid = pass.uuid; headers.sign = pass.sign; }
          return postJson(path, body, headers);
        }).then(function (data) {
          if (Number(data.code) !== 200) {
            self.$message.error(data.msg);
            return;
          }
          var params = data.params || {};
          var text = STATUS_TEXT[String(params.validStatus)] || STATUS_TEXT['0'];
          self.banner.ok = !!params.validFlag;
          self.banner.text = text;
          self.banner.show = true;
        }).catch(function (err) { self.failed(err); });
      },

      // ---- security check: click the words in order, or drag the slider piece into its gap ----
      // With captchaFirst the check opens over the form on load; its pass serves the next 提交.
      openEarlyCheck: function () {
        if (!MOCK.captcha || !MOCK.captchaFirst || this._earlyShown) return;
        if (this.route !== 'index' && this.route !== 'complaint') return;
        this._earlyShown = true;
        this.openCheck(null, null);
        this.check.early = true;
      },
      openCheck: function (tab, body) {
        var c = emptyCheck();
        c.open = true;
        c.tab = tab;
        c.body = body;
        this.check = c;
        this.loadChallenge();
        this.startPoll();
      },
      closeCheck: function () {
        this._checkGen++;
        this.stopPoll();
        this.check.open = false;
      },
      cancelCheck: function () {
        this.closeCheck();
      },
      loadChallenge: function () {
        var self = this;
        var gen = ++this._checkGen;
        var c = this.check;
        c.uuid = null;
        c.ready = false;
        c.passed = false;
        c.points = [];
        c.marks = [];
        c.sent = 0;
        c.slide = 0;
        c.busy = false;
        c.fired = false;
        var slider = c.form === 'slider';
        var path = slider ? '/image/getCheckImage' : '/image/getCheckImagePoint';
        return this.ensureToken().then(function () {
          return postJson(path, { clientUid: (slider ? 'slider-' : 'point-') + randomId() }, self.authHeaders());
        }).then(function (data) {
          if (gen !== self._checkGen) return;
          if (Number(data.code) !== 200 || !data.params) {
            self.closeCheck();
            self.$message.error(data.msg || NETWORK_ERROR);
            return;
          }
          var p = data.params;
          c.uuid = p.uuid;
          c.words = p.words || [];
          c.width = p.width || 500;
          c.height = p.height || 190;
          c.y = p.yHeight || 0;
          c.pieceSize = p.pieceSize || 44;
          return self.paint(gen, p.bigImage, slider ? p.smallImage : null);
        }).catch(function (err) {
          if (gen !== self._checkGen) return;
          self.closeCheck();
          self.failed(err);
        });
      },
      // The picture (and the slider's piece) go on canvases; the check takes input once shown.
      paint: function (gen, big, piece) {
        var self = this;
        var c = this.check;
        var sources = piece ? [big, piece] : [big];
        return Promise.all(sources.map(function (src) {
          return new Promise(function (resolve, reject) {
            var im = new Image();
            im.onload = function () { resolve(im); };
            im.onerror = function () { reject(new HttpError('network')); };
            im.src = src;
          });
        })).then(function (images) {
          if (gen !== self._checkGen) return;
          return self.$nextTick().then(function () {
            if (gen !== self._checkGen) return;
            var canvas = self.$refs.spCanvas;
            var ctx = canvas.getContext('2d');
            ctx.clearRect(0, 0, canvas.width, canvas.height);
            ctx.drawImage(images[0], 0, 0, c.width, c.height);
            if (images[1] && self.$refs.spPiece) {
              var pctx = self.$refs.spPiece.getContext('2d');
              pctx.clearRect(0, 0, c.pieceSize, c.pieceSize);
              pctx.drawImage(images[1], 0, 0, c.pieceSize, c.pieceSize);
            }
            c.ready = true;
          });
        });
      },
      // Each click is answered at once: the clicks so far go to the site, which says "go on",
      // "wrong" (a new picture follows) or passes the check.
      pictureClick: function (ev) {
        var c = this.check;
        if (c.form === 'slider' || !c.ready || c.passed || c.points.length >= c.words.length) return;
        var rect = ev.currentTarget.getBoundingClientRect();
        var left = ev.clientX - rect.left;
        var top = ev.clientY - rect.top;
        c.failed = false;
        c.marks.push({ left: left, top: top });
        c.points.push({
          x: Math.round(left * c.width / rect.width),
          y: Math.round(top * c.height / rect.height)
        });
        this.sendClicks();
      },
      sendClicks: function () {
        var c = this.check;
        if (c.busy || c.passed || c.sent >= c.points.length) return;
        c.sent = c.points.length;
        this.verifyCheck(c.points.slice());
      },
      slideStart: function (ev) {
        var self = this;
        var c = this.check;
        if (!c.ready || c.busy || c.passed || ev.button !== 0) return;
        ev.preventDefault();
        var startX = ev.clientX;
        var max = c.width - c.pieceSize;
        c.failed = false;
        function move(e) { c.slide = Math.max(0, Math.min(max, e.clientX - startX)); }
        function up(e) {
          document.removeEventListener('mousemove', move);
          document.removeEventListener('mouseup', up);
          move(e);
          self.verifyCheck(Math.round(c.slide));
        }
        document.addEventListener('mousemove', move);
        document.addEventListener('mouseup', up);
      },
      verifyCheck: function (value) {
        var self = this;
        var c = this.check;
        var gen = this._checkGen;
        c.busy = true;
        postJson('/image/checkImage', { key: c.uuid, value: value }, this.authHeaders())
          .then(function (data) {
            if (gen !== self._checkGen) return;
            var ok = Number(data.code) === 200 && data.success && data.params;
            if (ok && data.params.sign) {
              self.passed(gen, { uuid: c.uuid, sign: data.params.sign });
            } else if (ok && c.form !== 'slider') {
              c.busy = false;  // right so far
              self.sendClicks();
            } else {
              c.failed = true;
              self.loadChallenge();
            }
          })
          .catch(function (err) {
            if (gen !== self._checkGen) return;
            self.closeCheck();
            self.failed(err);
          });
      },
      // 验证成功 for a moment; then the box closes, and only then does the page send.
      passed: function (gen, pass) {
        var self = this;
        var c = this.check;
        c.passed = true;
        setTimeout(function () {
          if (gen !== self._checkGen) return;  // closed meanwhile: nothing is sent
          self.closeCheck();
          if (c.early) self._earlyPass = pass;
          else self.send(c.tab, c.body, pass);
        }, PASSED_MS);
      },

      // ---- test mode only: the test harness "solves" the check like a person would ----
      startPoll: function () {
        if (!TEST_MODE) return;
        this.stopPoll();
        var self = this;
        this._pollTimer = setInterval(function () { self.pollPending(); }, POLL_MS);
      },
      stopPoll: function () {
        if (this._pollTimer) clearInterval(this._pollTimer);
        this._pollTimer = null;
      },
      pollPending: function () {
        var self = this;
        var c = this.check;
        if (this._polling || !c.open || !c.ready || c.busy || c.passed || c.fired) return;
        this._polling = true;
        fetch(MOCK.controlBase + '/captcha/pending/' + encodeURIComponent(c.uuid || '')).then(function (res) {
          return res.ok ? res.json() : null;
        }).then(function (d) {
          if (!d || !d.pass || !d.points || self.check !== c || !c.open || c.fired) return;
          if (d.uuid && d.uuid !== c.uuid) return;  // the harness is about another challenge
          c.fired = true;
          self.$nextTick(function () {
            if (c.form === 'slider') self.dragTo(d.points[0].x);
            else self.clickPoints(d.points);
          });
        }).catch(function () { /* harness not ready: try again on the next tick */ }).then(function () {
          self._polling = false;
        });
      },
      dragTo: function (x) {
        var handle = this.$el.querySelector('#slidingPictures .sp-handle');
        if (!handle) return;
        var rect = handle.getBoundingClientRect();
        var from = { x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 };
        function fire(target, type, dx) {
          target.dispatchEvent(new MouseEvent(type, {
            bubbles: true, cancelable: true, view: window, button: 0,
            clientX: from.x + dx, clientY: from.y
          }));
        }
        fire(handle, 'mousedown', 0);
        fire(document, 'mousemove', x / 2);
        fire(document, 'mousemove', x);
        fire(document, 'mouseup', x);
      },
      clickPoints: function (points) {
        var img = this.$refs.spCanvas;
        if (!img) return;
        var c = this.check;
        points.forEach(function (p) {
          var rect = img.getBoundingClientRect();
          img.dispatchEvent(new MouseEvent('click', {
            bubbles: true, cancelable: true, view: window,
            clientX: rect.left + p.x * rect.width / c.width,
            clientY: rect.top + p.y * rect.height / c.height
          }));
        });
      },

      queryClick: function () {
        this.$message.warning('请输入查询条件');
      },
      loginClick: function () {
        this.$message.error('用户名或密码错误');
      }
    }
  });
})();
