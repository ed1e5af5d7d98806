"""A fleet, with real parts: a throw-away PostgreSQL, ``icpbot serve`` processes that share it
(each with its own state folder and its own ``--out``, as on separate machines), and Debian's
nginx in front of them with round-robin, each started by the test on 127.0.0.1 and free ports.

nginx sends each request to the next process in turn, whatever connection it came on: about
every other request reaches a process that does not hold the run it is about.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from bot.safety.ledger import LEDGER_URL_ENV
from tests.safety.pgserver import PgServer, skip_reason
from tests.serve.conftest import TOKEN, Serve, start_serve

SECRET = "fleet-secret-" + "s" * 40
_databases = itertools.count(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_nginx() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK)
                                     else None)  # fmt: skip


_CONF = """worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream icpbot {{
{servers}
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 16m;
        location / {{
            proxy_pass http://icpbot;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_read_timeout 1h;
            proxy_next_upstream error timeout;
        }}
    }}
}}
"""


@dataclass
class Nginx:
    """nginx on ``url``, round-robin over ``upstreams`` (host:port)."""

    url: str
    proc: subprocess.Popen[bytes]
    folder: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        return (self.folder / "error.log").read_text(errors="replace")


def start_nginx(port: int, upstreams: list[str]) -> Nginx:
    binary = find_nginx()
    if binary is None:
        raise RuntimeError("nginx not found; run scripts/setup.sh as root (apt-get install nginx)")
    folder = Path(tempfile.mkdtemp(prefix="icpbot-nginx-"))
    folder.chmod(0o755)
    servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=2s;" for u in upstreams)
    conf = folder / "nginx.conf"
    conf.write_text(_CONF.format(dir=folder, servers=servers, port=port), encoding="utf-8")
    proc = subprocess.Popen(
        [binary, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("nginx did not start: " + (folder / "error.log").read_text())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return Nginx(f"http://127.0.0.1:{port}/", proc, folder)
        except OSError:
            time.sleep(0.05)  # waiting for nginx to listen, not for a page
    proc.kill()
    raise RuntimeError(f"nginx did not listen on 127.0.0.1:{port}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    reason = skip_reason()
    if reason is not None:
        pytest.skip(reason)
    server = PgServer()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Fleet:
    """A team's service: one PostgreSQL database, serve processes, nginx in front."""

    tmp: Path
    database_url: str
    nginx_port: int
    processes: dict[str, Serve] = field(default_factory=dict)
    nginx: Nginx | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}/"

    def api(self) -> httpx.Client:
        """An API client with the token, through nginx."""
        made = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {TOKEN}"},
                            timeout=30)  # fmt: skip
        self.clients.append(made)
        return made

    def start(self, name: str, port: int = 0) -> Serve:
        """Process ``name``: its own state folder and ``--out``, the fleet's database and
        secret, links made on nginx's address."""
        env = {LEDGER_URL_ENV: self.database_url, "ICPBOT_SERVE_SECRET": SECRET}
        started = start_serve(self.tmp / name, "--port", str(port), "--public-url", self.url,
                              env=env)  # fmt: skip
        self.processes[name] = started
        return started

    def front(self, ports: list[int]) -> Nginx:
        """nginx on :attr:`url`, round-robin over the processes' ``ports``."""
        self.nginx = start_nginx(self.nginx_port, [f"127.0.0.1:{p}" for p in ports])
        return self.nginx

    def owner_url(self, run_id: str) -> str | None:
        """The internal address of the process that owns run ``run_id`` now."""
        with psycopg.connect(self.database_url) as db:
            row = db.execute(
                "SELECT p.internal_url FROM serve_runs r JOIN serve_processes p"
                " ON p.owner = r.owner WHERE r.id = %s",
                (run_id,),
            ).fetchone()
        return None if row is None else str(row[0])

    def sent_attempts(self) -> int:
        """The ledger's attempts marked as having reached the site."""
        with psycopg.connect(self.database_url) as db:
            row = db.execute("SELECT COUNT(*) FROM attempts WHERE sent = 1").fetchone()
        return int(row[0]) if row else 0


@pytest.fixture
def fleet(pg_server: PgServer, tmp_path: Path) -> Iterator[Fleet]:
    if find_nginx() is None:
        pytest.fail("nginx not found; run scripts/setup.sh as root (apt-get install nginx)")
    database = f"fleet{next(_databases)}_{os.getpid()}"
    with psycopg.connect(pg_server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    made = Fleet(tmp_path, pg_server.url(database), free_port())
    try:
        yield made
    finally:
        for client in made.clients:
            client.close()
        if made.nginx is not None:
            made.nginx.stop()
        for started in made.processes.values():
            started.stop()
