"""uvicorn's HTTP/1.1 protocol with a bound on the time a request's line and headers may take:
a client that sends its headers a byte at a time (slowloris) is disconnected after
`header_timeout_s` instead of holding a connection for ever. Bodies are bounded by the routes
(api/upload.py: idle and total time)."""
from __future__ import annotations

from uvicorn.protocols.http.h11_impl import H11Protocol


def with_header_timeout(header_timeout_s: float) -> type[H11Protocol]:
    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer = None

        def _waiting_for_headers(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm(self) -> None:
            if self._header_timer is None and self._waiting_for_headers():
                self._header_timer = self.loop.call_later(header_timeout_s, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if (self._waiting_for_headers() and not self.transport.is_closing()
                    and self.transport.get_protocol() is self):
                self.logger.info("closing a connection whose request headers took over %.0f s", header_timeout_s)
                self.transport.close()

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            self._arm()
            super().data_received(data)
            if not self._waiting_for_headers():
                self._disarm()

        def handle_websocket_upgrade(self, event) -> None:
            self._disarm()  # the connection is a WebSocket's from here on
            super().handle_websocket_upgrade(event)

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol
