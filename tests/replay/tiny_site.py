"""An independent tiny SMS page (no Vue, no Element), for the replay's own test: the same DOM
shape as the real block, its API on another origin, served from a folder by the standard library."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TINY_PAGE = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>tiny</title>
<style>.tab-card{padding:8px} .tips{border:1px solid #ccc}</style></head>
<body>
<div class="tit"><div><h5 class="Selection">短信核验</h5></div><div><h5>短信重发</h5></div></div>
<div class="cards">
  <div class="tab-card" style="display:block"><form class="el-form demo-ruleForm">
    <div class="el-form-item check"><div class="el-input"><input class="el-input__inner" placeholder="请输短信验证码"></div></div>
    <div class="el-form-item checkA"><div class="el-input"><input class="el-input__inner" placeholder="请输入手机号"></div></div>
    <div class="el-form-item checkB"><div class="el-input"><input class="el-input__inner" placeholder="请输入证件号码后6位" maxlength="6"></div></div>
    <button type="button" class="el-button el-button--success Submission"><span>提交</span></button>
  </form></div>
  <div class="tab-card" style="display:none"><form class="el-form demo-ruleForm">
    <div class="el-form-item checkA"><div class="el-input"><input class="el-input__inner" placeholder="请输入手机号码"></div></div>
    <div class="el-form-item checkB"><div class="el-input"><input class="el-input__inner" placeholder="请输入证件号码后6位" maxlength="6"></div></div>
    <button type="button" class="el-button el-button--success Submission"><span>提交</span></button>
  </form></div>
</div>
<div id="answer"></div>
<script>
var API = "__API__";
var TEXT = {"3": "您的短信核验已全部完成,该请求将提交管局审核。", "2": "您的短信核验失败,请输入正确的信息。"};
var token = null;
fetch(API + "/auth", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"},
  body: "authKey=0&timeStamp=0"}).then(function (r) { return r.json(); })
  .then(function (d) { token = d.params.bussiness; });
var tabs = document.querySelectorAll(".tit h5"), cards = document.querySelectorAll(".tab-card");
tabs.forEach(function (h, i) { h.onclick = function () {
  tabs.forEach(function (t, j) { t.className = i === j ? "Selection" : ""; });
  cards.forEach(function (c, j) { c.style.display = i === j ? "block" : "none"; });
}; });
document.querySelectorAll(".Submission").forEach(function (b, i) { b.onclick = function () {
  var v = Array.prototype.map.call(cards[i].querySelectorAll("input"), function (x) { return x.value; });
  var body = i === 0 ? {smsValidCode: v[0], mobileNum: v[1], certNum: v[2]} : {mobileNum: v[0], certNum: v[1]};
  var path = i === 0 ? "/smsValidate/validateByCondition" : "/smsValidate/resendSMSByCondition";
  fetch(API + path, {method: "POST", headers: {"Content-Type": "application/json", token: token},
    body: JSON.stringify(body)}).then(function (r) { return r.json(); }).then(function (d) {
      var s = String(d.params.validStatus);
      document.getElementById("answer").innerHTML = '<div class="tips"><i></i>尊敬的ICP用户：<span>' +
        (d.params.msg || TEXT[s]) + '</span><div class="close_icon"></div></div>';
    });
}; });
</script></body></html>
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """The folder over HTTP on 127.0.0.1 (any free port); yields its root URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
