"""A real PostgreSQL server (the Debian package) for tests: its own data folder, a free loopback
port, started with pg_ctl and removed at the end. As root, initdb and the server run as the
`postgres` user (PostgreSQL refuses to run as root).

    with PostgresServer() as pg:
        url = pg.url          # postgresql://rag:rag@127.0.0.1:PORT/rag
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="rag-pg-"))
        self.data = self.folder / "data"
        self.root = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql://rag:rag@127.0.0.1:{self.port}/rag"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = (["runuser", "-u", "postgres", "--"] if self.root else []) + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> "PostgresServer":
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL is not installed: run `make test` (it installs it) or apt-get install postgresql")
        if self.root:
            shutil.chown(self.folder, "postgres", "postgres")
        if not self.data.exists():
            pwfile = self.folder / "pw"
            pwfile.write_text("rag\n")
            if self.root:
                shutil.chown(pwfile, "postgres", "postgres")
            self._run(initdb, "-D", str(self.data), "-U", "rag", "--pwfile", str(pwfile), "-A", "scram-sha-256",
                      "--no-sync", "-E", "UTF8", "--locale", "C")
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.folder / "pg.log"), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        self._createdb()
        return self

    def _createdb(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(f"postgresql://rag:rag@127.0.0.1:{self.port}/postgres", autocommit=True) as c:
                    if not c.execute("SELECT 1 FROM pg_database WHERE datname = 'rag'").fetchone():
                        c.execute("CREATE DATABASE rag")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def kill(self) -> None:
        """kill -9 of the postmaster (crash)."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text().split()[0]), 9)

    def stop(self) -> None:
        pg_ctl = pg_bin("pg_ctl")
        if pg_ctl and (self.data / "postmaster.pid").exists():
            self._run(pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
