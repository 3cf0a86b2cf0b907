"""A TCP relay between a test's client and a real server (PostgreSQL), to make that server far, away or silent
without touching it: 127.0.0.1:`port` passes each connection on to `target` (a port)."""
from __future__ import annotations

import socket
import threading
import time


class Relay:
    """127.0.0.1:port -> `target`, each packet held `delay_s` before it is passed on (a database on another host);
    while not `up`, each connection closed at once (the database away); `target` None: each connection held open and
    never answered (a host that swallows packets). `connections`: how many reached the relay; `answers`: how many
    times the server's side sent something back (each round trip is one at least)."""

    def __init__(self, target: int | None, delay_s: float = 0.0) -> None:
        self.target, self.delay_s, self.up, self.connections, self.answers = target, delay_s, True, 0, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, url: str, port: int) -> str:
        """Connection string `url` of the server at `port`, through the relay instead."""
        return url.replace(f":{port}/", f":{self.port}/")

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.target is None:
                self.held.append(client)
                continue
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(("127.0.0.1", self.target))
            for a, b, answering in ((client, server, False), (server, client, True)):
                threading.Thread(target=self._pipe, args=(a, b, answering), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, answering: bool) -> None:
        try:
            while data := src.recv(65536):
                if answering:
                    self.answers += 1
                if self.delay_s:
                    time.sleep(self.delay_s)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.listener.close()
        for s in self.held:
            s.close()
