"""Tesseract, the OCR engine, run as a bounded subprocess on one image at a time (offline: its language data
comes from Debian packages, tesseract-ocr-eng, -chi-sim, -chi-tra, under /usr/share/tesseract-ocr/5/tessdata).

    unavailable_reason(options) -> str | None     # why OCR cannot run here (off, not installed, a language missing)
    recognize(image, options, name, page, dpi) -> str   # tesseract's TSV (words with layout and confidence)

Bounds per run: wall time (ocr_page_timeout_s: killed at the deadline), CPU time and address space (ulimit -t
and -v of the tesseract process itself, so one that outlives a killed parser still stops by itself). One
OpenMP thread (OMP_THREAD_LIMIT=1): on 2 cores with files parsed two at a time, tesseract's threads only
competed (a sparse A4 page: 1.9 s with its threads, 0.6 s with one). Every failure is a ParseError naming the
file, the page and the setting to change.
"""
from __future__ import annotations

import functools
import io
import math
import os
import re
import shutil
import signal
import subprocess
from typing import TYPE_CHECKING

from indexer.parse.errors import ParseError
from indexer.parse.ocr_options import LANGUAGE_PACKAGES, TESSERACT_PACKAGE, OcrOptions

if TYPE_CHECKING:
    from PIL.Image import Image

# raise when what OCR reads from a page changes (tesseract's settings, deskew, lighting, orientation, line
# order): the PDFs and images OCR read text from are read again by the next `rag index` (indexer.parse.versions)
# 2: one column of lines (--psm 4; 3 again for a page where 4 leaves a line out) kept "一、" at line starts
# 3: headings (indexer.parse.ocr_headings): a scan's chunks get section titles; the OCR cache keeps line boxes
# 4: a large line left out as garbage is read again alone, languages reversed (indexer.parse.ocr_titles)
# 5: a body-size line left out for low confidence that looks like text is read again alone (indexer.parse.ocr_reread)
OCR_VERSION = 5
_INSTALL = (f"install Tesseract (`make setup`, or apt-get install {TESSERACT_PACKAGE} tesseract-ocr-eng "
            "tesseract-ocr-chi-sim tesseract-ocr-chi-tra)")
# ulimit in KB and CPU seconds, then tesseract itself (exec: same process, so the timeout kills it)
_LIMITED = 'ulimit -v "$1" && ulimit -t "$2" && shift 2 && exec "$@"'


def program() -> str | None:
    return shutil.which("tesseract")


@functools.lru_cache(maxsize=4)
def installed_languages(tesseract: str) -> frozenset[str]:
    try:
        out = subprocess.run([tesseract, "--list-langs"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(line.strip() for line in out.splitlines()[1:] if line.strip())


@functools.lru_cache(maxsize=4)
def identity(tesseract: str) -> str:
    """What, besides its settings and the image, decides what this Tesseract reads: its version (with its
    libraries'), its language-data folder and each language file's size and time. '' when it does not answer
    (indexer.parse.ocr_cache then keeps nothing)."""
    said = []
    for asked in ("--version", "--list-langs"):
        try:
            done = subprocess.run([tesseract, asked], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return ""
        if done.returncode != 0:
            return ""
        said.append(done.stdout + done.stderr)
    folder = re.search(r'"([^"]+)"', said[1])  # List of available languages in "/usr/share/tesseract-ocr/5/tessdata/"
    if folder and os.path.isdir(folder.group(1)):
        for name in sorted(os.listdir(folder.group(1))):
            if name.endswith(".traineddata"):
                info = os.stat(os.path.join(folder.group(1), name))
                said.append(f"{name} {info.st_size} {info.st_mtime_ns}")
    return "\n".join(said)


def unavailable_reason(options: OcrOptions) -> str | None:
    """None when OCR can run with `options`; else why not and what to do (a sentence without the file name)."""
    if options.enabled is False:
        return ("OCR is switched off (ocr = false / RAG_OCR=0): switch it on (tesseract-ocr is needed), or run "
                "the file through OCR (e.g. ocrmypdf or your scanner's searchable-PDF option) and upload the result")
    tesseract = program()
    if tesseract is None:
        return (f"OCR needs Tesseract, which is not installed on this server: {_INSTALL}, then index it again; "
                "or run the file through OCR (e.g. ocrmypdf) and upload the result")
    wanted = [lang for lang in options.languages.split("+") if lang]
    missing = [lang for lang in wanted if lang not in installed_languages(tesseract)]
    if missing or not wanted:
        packages = " ".join(LANGUAGE_PACKAGES.get(lang, f"tesseract-ocr-{lang.replace('_', '-')}") for lang in missing)
        have = ", ".join(sorted(installed_languages(tesseract))) or "none"
        return (f"the OCR languages {options.languages!r} (ocr_languages / RAG_OCR_LANGUAGES) are not all installed "
                f"(installed: {have}): install {packages or 'a language package'} or choose installed ones")
    return None


def recognize(image: "Image", options: OcrOptions, name: str, page: int | None, dpi: int | None = None) -> str:
    """Tesseract's TSV for `image` (grayscale). Raises ParseError when the run fails or goes past its bounds."""
    done = run(image, options, name, page, ["-l", options.languages, "--psm", str(options.psm),
                                            *(["--dpi", str(dpi)] if dpi else []), "tsv"])
    if done.returncode != 0:
        where = f" page {page}" if page is not None else " the image"
        raise ParseError(f"{name}: OCR of{where} failed ({_failure(done, options)}). "
                         "The scan may be damaged or too large; scan it again at 300 DPI, or ask an administrator "
                         "to raise the limit.")
    return done.stdout.decode("utf-8", "replace")


def run(image: "Image", options: OcrOptions, name: str, page: int | None,
        arguments: list[str]) -> subprocess.CompletedProcess:
    """tesseract stdin stdout ARGUMENTS on `image`, within the bounds; raises ParseError past the time limit."""
    tesseract = program()
    if tesseract is None:  # checked before, but a server can lose a package between files
        raise ParseError(f"{name} needs OCR, but Tesseract is not installed: {_INSTALL}, then index it again.")
    data = io.BytesIO()
    image.convert("L").save(data, "PPM")  # uncompressed (PGM): nothing to encode or decode
    where = f" page {page}" if page is not None else ""
    memory_kb, cpu = _within_hard_limits(options.memory_mb * 1024, max(1, math.ceil(options.page_timeout_s)))
    command = ["sh", "-c", _LIMITED, "sh", str(memory_kb), str(cpu), tesseract, "stdin", "stdout", *arguments]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        done = subprocess.run(command, input=data.getvalue(), capture_output=True, timeout=options.page_timeout_s,
                              env=env)
    except subprocess.TimeoutExpired:
        raise ParseError(f"{name}: OCR of{where or ' the image'} took more than {options.page_timeout_s:g} s and was "
                         "stopped (ocr_page_timeout_s / RAG_OCR_PAGE_TIMEOUT_S). The scan may be huge or damaged; "
                         "scan it again at 300 DPI, or ask an administrator to raise the limit.") from None
    except OSError as exc:
        raise ParseError(f"{name}: Tesseract could not be started ({exc}); check the server's {TESSERACT_PACKAGE} "
                         "installation.") from None
    return done


def _within_hard_limits(memory_kb: int, cpu_s: int) -> tuple[int, int]:
    """The limits for tesseract, no higher than this process's own hard limits (the parser sandbox sets them):
    ulimit cannot raise a hard limit, and its failure would stop every run (ocr_memory_mb = 4096 in a sandbox
    of 1024 MB failed each page with 'ulimit: error setting limit')."""
    import resource

    def cap(which: int, value: int, unit: int) -> int:
        hard = resource.getrlimit(which)[1]
        return value if hard == resource.RLIM_INFINITY else max(1, min(value, hard // unit))

    return cap(resource.RLIMIT_AS, memory_kb, 1024), cap(resource.RLIMIT_CPU, cpu_s, 1)


def _failure(done: subprocess.CompletedProcess, options: OcrOptions) -> str:
    said = done.stderr.decode("utf-8", "replace").strip().splitlines()
    last = f": {said[-1][:200]}" if said else ""
    code = done.returncode
    if code in (-signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGXCPU, 128 + signal.SIGKILL):
        return f"Tesseract used more than {options.page_timeout_s:g} s of CPU time (ocr_page_timeout_s)"
    if code in (-signal.SIGABRT, -signal.SIGSEGV, 128 + signal.SIGABRT, 128 + signal.SIGSEGV) or "alloc" in last:
        return (f"Tesseract stopped, most likely past its {options.memory_mb} MB of memory (ocr_memory_mb / "
                f"RAG_OCR_MEMORY_MB){last}")
    return f"Tesseract exit status {code}{last}"
