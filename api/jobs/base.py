"""The job queue protocol: how an accepted upload job reaches a worker."""
from __future__ import annotations

from typing import Protocol


class JobQueue(Protocol):
    name: str

    def submit(self, job_id: str, kb: str) -> None:
        """Hand a job (already written to the state database) to the workers."""
        ...

    def start(self) -> None:
        """Start consuming in this process (an API process with indexing on, or `rag worker`)."""
        ...

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the file in progress; unfinished jobs stay for the next worker."""
        ...

    def alive(self) -> bool:
        """Consuming: a worker runs in this process (readiness); False when this process only submits."""
        ...

    def current(self) -> str | None:
        """The job being worked on here, if any."""
        ...
