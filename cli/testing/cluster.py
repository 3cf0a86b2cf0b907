"""A whole cluster on loopback, from the Debian and PyPI packages only: PostgreSQL, Redis, a Milvus
Lite server, API replicas started with `--indexing off`, `rag worker` processes and haproxy in
front. Nothing is shared on disk: every replica and worker has its own RAG_HOME.

    with LocalCluster(tmp_path, replicas=2, workers=2) as c:
        httpx.get(c.url + "/readyz")           # through the balancer
        c.replicas[0].url                      # one replica directly
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from cli.testing import ADMIN, Server, free_port
from cli.testing.postgres_server import PostgresServer
from cli.testing.redis_server import RedisServer

HAPROXY_CFG = """
global
    maxconn 512
defaults
    mode http
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout http-request 10s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 502 503
    option http-buffer-request
frontend api
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /healthz
    default-server inter 300ms fall 2 rise 2
{servers}
"""


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


class Milvus:
    def __init__(self, folder: Path, port: int | None = None):
        self.folder, self.port = folder, port or free_port()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Milvus":
        exe = Path(sys.executable).with_name("milvus-lite")
        log = open(self.folder.parent / f"milvus-{self.port}.log", "ab")
        self.proc = subprocess.Popen([str(exe), "server", "--data-dir", str(self.folder), "--host", "127.0.0.1",
                                      "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT)
        wait_port(self.port)
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


class Worker:
    def __init__(self, home: Path, env: dict[str, str]):
        self.home, self.env = home, env
        self.log = home.parent / f"worker-{home.name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Worker":
        self.home.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, "-m", "cli", "worker", "--log-text"],
                                     env={**self.env, "RAG_HOME": str(self.home)},
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


class LocalCluster:
    def __init__(self, root: Path, replicas: int = 2, workers: int = 2, **env: str):
        self.root = root
        self.n_replicas, self.n_workers = replicas, workers
        self.extra = {k: str(v) for k, v in env.items()}
        self.pg = PostgresServer()
        self.redis = RedisServer(root / "redis")
        self.milvus = Milvus(root / "milvus")
        self.replicas: list[Server] = []
        self.workers: list[Worker] = []
        self.port = free_port()
        self.haproxy: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "RAG_DATABASE_URL": self.pg.url, "RAG_REDIS_URL": self.redis.url,
                "RAG_STORE_URI": self.milvus.uri, "RAG_ADMIN_KEY": ADMIN, "RAG_EMBED_MODEL": "minilm",
                "RAG_ANSWER_MODE": "extract", "RAG_JOB_CLAIM_IDLE_S": "5", "RAG_JOB_HEARTBEAT_S": "1",
                "RAG_MAX_FILES": "60", "RAG_RATE_LIMIT": "0", "RAG_KB_RATE_LIMIT": "0",
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **self.extra}

    def start(self) -> "LocalCluster":
        self.pg.start()
        self.redis.start()
        self.milvus.start()
        env = {k: v for k, v in self.env.items() if k.startswith(("RAG_", "HF_", "TRANSFORMERS_"))}
        for i in range(self.n_replicas):
            self.replicas.append(Server(self.root / f"api{i}", RAG_INDEXING="false", **env).start())
        for i in range(self.n_workers):
            self.workers.append(Worker(self.root / f"worker{i}", self.env).start())
        self._balancer()
        return self

    def _balancer(self) -> None:
        exe = shutil.which("haproxy")
        if exe is None:
            raise RuntimeError("haproxy is not installed (apt-get install haproxy)")
        servers = "\n".join(f"    server r{i} 127.0.0.1:{s.port} check" for i, s in enumerate(self.replicas))
        cfg = self.root / "haproxy.cfg"
        cfg.write_text(HAPROXY_CFG.format(port=self.port, servers=servers))
        self.haproxy = subprocess.Popen([exe, "-db", "-f", str(cfg)], stdout=open(self.root / "haproxy.log", "ab"),
                                        stderr=subprocess.STDOUT)
        wait_port(self.port)
        deadline = time.monotonic() + 30
        while httpx.get(self.url + "/healthz", timeout=2).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError("haproxy does not reach the replicas")
            time.sleep(0.2)

    def client(self, key: str | None = ADMIN, base: str | None = None, **kw) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=base or self.url, headers=headers, timeout=kw.pop("timeout", 120), **kw)

    def stop(self) -> None:
        if self.haproxy and self.haproxy.poll() is None:
            self.haproxy.kill()
            self.haproxy.wait()
        for w in self.workers:
            w.stop()
        for s in self.replicas:
            s.stop()
        self.milvus.kill()
        self.redis.stop()
        self.pg.stop()

    def __enter__(self) -> "LocalCluster":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
        shutil.rmtree(self.pg.folder, ignore_errors=True)
