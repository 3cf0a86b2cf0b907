"""What `rag index` says about files read again though they had not changed (indexer.reread)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from indexer.ingest import IngestReport
from indexer.parse.extension import file_extension
from indexer.parse.images import IMAGE_EXTENSIONS
from indexer.reread import CHUNKER_UPDATED, PARSER_UPDATED

# why each reason re-reads a file, said once in the summary
_WHY = {PARSER_UPDATED: "a newer parser for their format gives different text",
        CHUNKER_UPDATED: "a newer chunker cuts every format's text differently"}


def deferred_lines(report: IngestReport) -> list[str]:
    """One line per file that was asked to be read again but kept as indexed because OCR read some of it and
    cannot run now: what happened, why OCR cannot run and what to do (FileResult.reason)."""
    return [f"NOT RE-READ {r.source} ({r.deferred}): OCR read some of its pages and cannot run now, so it is kept as "
            f"indexed (reading it would lose that text). Why: {r.reason or 'OCR cannot run'}. The first `rag index` "
            "where OCR runs reads it (install Tesseract as the README says, then run the same command again)"
            for r in report.results if r.status == "unchanged" and r.deferred]


def reread_lines(kb: str, report: IngestReport) -> list[str]:
    """One line for the files re-read, by reason and why, and one for those a re-read waits for OCR to run again."""
    lines = []
    reread = [r for r in report.results if r.reread and r.status != "failed"]
    reasons = Counter(r.reread for r in reread)
    if reasons:
        each = ", ".join(f"{n} re-read: {reason}" for reason, n in sorted(reasons.items()))
        why = "".join(f"; {reason}: {_WHY[reason]}" for reason in sorted(reasons) if reason in _WHY)
        scans = sum(file_extension(Path(r.source)) in (".pdf", *IMAGE_EXTENSIONS) for r in reread)
        ocr = (f"; {scans} of them PDFs or images, whose scanned pages came from the KB's OCR cache where OCR had "
               "read them with today's settings, and were read by OCR again otherwise" if scans else "")
        lines.append(f"{kb}: {len(reread)} of the updated files had not changed ({each}{why}){ocr}; the text "
                     "that did not change was not embedded again")
    deferred = Counter(r.deferred for r in report.results if r.status == "unchanged" and r.deferred)
    if deferred:
        each = ", ".join(f"{n} {reason}" for reason, n in sorted(deferred.items()))
        lines.append(f"{kb}: {sum(deferred.values())} unchanged files ({each}) were not read again because OCR read "
                     "some of their text and cannot run now (reading them would lose it); install Tesseract and its "
                     "languages (or turn OCR back on) and run `rag index` again to read them")
    return lines
