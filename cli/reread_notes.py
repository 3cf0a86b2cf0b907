"""What `rag index` says about files read again though they had not changed (indexer.reread)."""
from __future__ import annotations

from collections import Counter

from indexer.ingest import IngestReport


def reread_lines(kb: str, report: IngestReport) -> list[str]:
    """One line for the files re-read, by reason, and one for the unchanged files recorded before parser
    versions were (left as they are: re-reading every document of every KB on upgrade is not done unasked)."""
    lines = []
    reasons = Counter(r.reread for r in report.results if r.reread and r.status != "failed")
    if reasons:
        each = ", ".join(f"{n} re-read: {reason}" for reason, n in sorted(reasons.items()))
        lines.append(f"{kb}: {sum(reasons.values())} of the updated files had not changed ({each}); the text "
                     "that did not change was not embedded again")
    unstamped = sum(r.unstamped for r in report.results if r.status == "unchanged")
    if unstamped:
        lines.append(f"{kb}: {unstamped} of the unchanged files were indexed before parser versions were recorded "
                     "and were left as they are; `rag index --reparse` (the same paths, or none for the whole KB) "
                     "reads them again with this version's parsers and OCR, embedding only the text that changed")
    return lines
