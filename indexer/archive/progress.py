"""How far an import is: a terminal's progress bar (`rag kb import`) and, for a caller that shows it
elsewhere (the HTTP import's job, api.jobs.importing), a callback given (stage, done, total) as it moves."""
from __future__ import annotations

from collections.abc import Callable

from tqdm import tqdm

# (stage, done, total): "checking" counts the archive's bytes read, "importing" its chunks written
OnProgress = Callable[[str, int, int], None]


class Meter:
    def __init__(self, stage: str, total: int, unit: str, show: bool, report: OnProgress | None = None):
        self.stage, self.total, self.report, self.done = stage, total, report, 0
        self.bar = tqdm(total=total, desc=stage + (" archive" if stage == "checking" else ""), unit=unit,
                        unit_scale=unit == "B", disable=not show)
        self._tell()

    def update(self, n: int) -> None:
        self.done += n
        self.bar.update(n)
        self._tell()

    def close(self) -> None:
        self.bar.close()

    def _tell(self) -> None:
        if self.report is not None:
            self.report(self.stage, self.done, self.total)
