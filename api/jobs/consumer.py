"""The consuming side both job queues share: one daemon thread running the queue's loop, stopped on
request, reported to readiness."""
from __future__ import annotations

import threading


class ConsumerThread:
    """Mixin: subclasses set `consume` and implement `_loop()`, which returns once `_stop` is set."""

    consume: bool
    thread_name = "rag-index-worker"

    def _init_consumer(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._current: str | None = None

    def start(self) -> None:
        if not self.consume:
            return
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def _wake_up(self) -> None:
        """Interrupt the loop's wait (a queue with a wake-up event overrides this)."""

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the file in progress (up to `timeout`); unfinished jobs stay for the next worker."""
        self._stop.set()
        self._wake_up()
        if self._thread:
            self._thread.join(timeout)

    def alive(self) -> bool:
        """This process's worker thread is running (False where it only submits: `--indexing off`)."""
        return self.consume and self._thread is not None and self._thread.is_alive()

    def current(self) -> str | None:
        return self._current

    def _loop(self) -> None:
        raise NotImplementedError
