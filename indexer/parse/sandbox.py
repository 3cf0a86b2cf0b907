"""Parse one untrusted file in a separate process with memory, CPU-time and wall-time limits.

    parse_isolated(path, max_bytes=None, limits=None, sandbox=None) -> list[Element]

Same contract as indexer.parse.dispatch.parse_file (ParseError with a user-facing reason),
but a file that needs too much memory or time fails alone, with a reason naming the limit
("needed more than 1024 MB of memory to parse", "took more than 120 s to parse"); the
calling process (the HTTP service, the CLI) and the other files are unaffected.

How: a *zygote* worker process (`python -P -c ...`, started once per process and kept) imports
the parsers and warms them up on tiny built-in documents (~2-3 s, once; Ingestor starts it in
the background). For each file it forks a child, which sets its own limits and parses the file;
the zygote relays the result and enforces the wall time, killing the child when it runs over.
Every file starts from the same clean state: nothing one file does to the parser's memory
survives into the next, and the zygote itself never reads untrusted input. The next child is
forked while the current one parses. Measured on data/sample (21 files, 2 busy cores): ~11 ms
more per file for csv/pdf, 20-38 ms for the unstructured formats (copy-on-write faults, caches
that start empty in every child), ~25 ms on average, on parses of 1-90 ms.

Limits, per file (SandboxLimits, from IndexerSettings.parse_*):
* memory: RLIMIT_AS of the child = its size at fork + memory_mb (the warm parsers already
  map ~450 MB; the limit is on what parsing this file adds). Allocation beyond it raises
  MemoryError, reported as the memory limit (also when a parser wrapped it in another error);
  a C library that aborts instead is reported as a crash.
* CPU time: RLIMIT_CPU (SIGXCPU, then SIGKILL two seconds later).
* wall time: the zygote kills the child after timeout_s; the calling process gives the
  zygote a further grace period and kills it too if it does not answer.
* output: the child's result may be at most max_output_mb (checked by child, zygote, caller).

The result travels as JSON (never pickle: a child compromised by a hostile file must not be
able to run code in the caller) and is validated into Elements by the caller.

Workers form a small pool: a caller takes an idle zygote or starts one, and returns it after
the file; a zygote that died is replaced. Needs fork and POSIX rlimits (Linux: also prctl and
/proc); where there is no fork, files are parsed in-process with a warning.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, get_args

from indexer.parse import progress
from indexer.parse.errors import ParseError
from indexer.parse.limits import MB, ParseLimits
from indexer.parse.minimal_pdf import assemble
from indexer.types import Element, ElementKind

log = logging.getLogger(__name__)

__all__ = ["SandboxLimits", "parse_isolated", "prestart", "shutdown"]


@dataclass(frozen=True)
class SandboxLimits:
    memory_mb: float = 1024
    cpu_s: int = 120
    timeout_s: float = 120
    max_output_mb: float = 32


_START_TIMEOUT_S = 180.0  # importing and warming the parsers (~2 s; slow disks, busy hosts)
_GRACE_S = 15.0  # on top of timeout_s, for the zygote to kill, reap and answer
_MAX_IDLE = 4  # zygotes kept between files (more run only while callers parse concurrently)
_EXIT_MEMORY = 86  # child: MemoryError
_EXIT_OUTPUT = 87  # child: result over max_output_mb
_EXIT_BUG = 88  # child: anything else unexpected
_KINDS = frozenset(get_args(ElementKind))
AVAILABLE = hasattr(os, "fork") and sys.platform != "win32"  # fork, POSIX rlimits


# ---------------------------------------------------------------- caller side

def parse_isolated(path: str | Path, max_bytes: int | None = None, limits: ParseLimits | None = None,
                   sandbox: SandboxLimits | None = None, on_progress: progress.Callback | None = None) -> list[Element]:
    """Parse `path` in a sandboxed child process. Raises ParseError (also when a limit is hit).
    on_progress(done, total): what the parser reports (indexer.parse.progress: OCR's pages), about once a second."""
    path = Path(path)
    if not AVAILABLE:
        with progress.watching(on_progress):
            return _parse_in_process(path, max_bytes, limits)
    sandbox = sandbox or SandboxLimits()
    request = {"path": os.path.abspath(path), "max_bytes": max_bytes,
               "limits": (limits or ParseLimits()).to_dict(), "sandbox": asdict(sandbox)}
    try:
        worker = _pool.acquire()
    except OSError as exc:  # cannot start a process (limits on processes or memory)
        raise _reason(path, {"status": "start", "detail": f"{type(exc).__name__}: {exc}"}, sandbox) from None
    try:
        with _ProgressFile(on_progress) as watch:
            request["progress"] = watch.path
            status, payload = worker.run(request, sandbox, watch.check)
    except _WorkerFailed as exc:
        worker.close(kill=True)
        raise _reason(path, {"status": exc.status, "detail": str(exc)}, sandbox) from None
    except BaseException:
        worker.close(kill=True)
        raise
    _pool.release(worker)
    if status["status"] != "ok":
        raise _reason(path, status, sandbox)
    return _decode(path, payload)


def _parse_in_process(path: Path, max_bytes: int | None, limits: ParseLimits | None) -> list[Element]:
    from indexer.parse.dispatch import parse_file

    log.warning("no process sandbox on this platform: %s is parsed in-process, without memory and "
                "time limits", path.name)
    return parse_file(path, max_bytes, limits)


def prestart(workers: int = 1) -> None:
    """Start up to `workers` zygotes now, in the background, so the first parses need not wait for
    their warm-up (~2-3 s): call it before loading the embedding model, and the two overlap."""
    if AVAILABLE:
        _pool.prestart(workers)


def shutdown() -> None:
    """Stop the idle zygotes (they also exit by themselves when this process ends)."""
    _pool.shutdown()


class _ProgressFile:
    """A file the child writes its progress to ("done total", rewritten in place) and the caller reads while it
    waits for the result; nothing when nobody watches."""

    def __init__(self, callback: progress.Callback | None) -> None:
        self.callback, self.path, self.seen = callback, None, b""
        if callback is not None:
            fd, self.path = tempfile.mkstemp(prefix="rag-progress-")
            os.close(fd)

    def __enter__(self) -> "_ProgressFile":
        return self

    def __exit__(self, *_: object) -> None:
        if self.path is not None:
            self.check()
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def check(self) -> None:
        if self.path is None or self.callback is None:
            return
        try:
            with open(self.path, "rb") as f:
                data = f.read(64)
            done, total = (int(n) for n in data.split()[:2])
        except (OSError, ValueError):
            return
        if data != self.seen:
            self.seen = data
            try:
                self.callback(done, total)
            except Exception:  # noqa: BLE001 - progress is a courtesy (indexer.parse.progress.report)
                log.debug("a progress callback failed", exc_info=True)


def _write_progress(path: str) -> progress.Callback:
    fd = os.open(path, os.O_WRONLY)
    return lambda done, total: os.pwrite(fd, f"{done} {total}".ljust(40).encode(), 0) and None


class _WorkerFailed(Exception):
    def __init__(self, status: str, detail: str):
        super().__init__(detail)
        self.status = status


class _Worker:
    """The calling side of one zygote process."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        # Parsing needs no thread pools; a single-threaded zygote is safe to fork.
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
        root = str(Path(__file__).resolve().parents[2])  # the folder holding the indexer package
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-P", "-c", "import sys; from indexer.parse.sandbox import _serve; "
                                       "_serve(int(sys.argv[1]))", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                env=env, start_new_session=True)  # Ctrl-C in a terminal goes to the caller only
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.ready = False

    def run(self, request: dict[str, Any], sandbox: SandboxLimits,
            watch: Callable[[], None] | None = None) -> tuple[dict[str, Any], bytes]:
        if not self.ready:
            try:
                self._receive(_START_TIMEOUT_S, "starting")
            except _WorkerFailed as exc:
                raise _WorkerFailed("start", str(exc)) from None
            self.ready = True
        try:
            self.conn.send_bytes(json.dumps(request).encode())
        except OSError as exc:
            raise _WorkerFailed("crash", f"the parser process is gone ({exc})") from None
        status = json.loads(self._receive(sandbox.timeout_s + _GRACE_S, "parsing", watch=watch))
        payload = b""
        if status.get("status") == "ok":
            payload = self._receive(_GRACE_S, "reading the result", int(sandbox.max_output_mb * MB) + 1024)
        return status, payload

    def _receive(self, timeout: float, doing: str, max_bytes: int = 1 * MB,
                 watch: Callable[[], None] | None = None) -> bytes:
        deadline = time.monotonic() + timeout
        try:
            while not self.conn.poll(max(0.0, min(deadline - time.monotonic(), 1.0 if watch else timeout))):
                if time.monotonic() >= deadline:
                    raise _WorkerFailed("timeout", f"the parser process did not answer while {doing}")
                if watch is not None:
                    watch()
            return self.conn.recv_bytes(max_bytes)
        except (EOFError, OSError) as exc:
            code = self.proc.poll()
            raise _WorkerFailed("crash", f"the parser process failed while {doing} "
                                         f"({exc or type(exc).__name__}; exit status {code})") from None

    def close(self, kill: bool = False) -> None:
        self.conn.close()  # the zygote exits when it reads EOF
        if kill:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the zygote and a child it may be running
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _Pool:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.idle: list[_Worker] = []

    def acquire(self) -> _Worker:
        with self.lock:
            while self.idle:
                worker = self.idle.pop()
                if worker.proc.poll() is None:
                    return worker
                worker.close()
        return _Worker()

    def release(self, worker: _Worker) -> None:
        with self.lock:
            if worker.proc.poll() is None and len(self.idle) < _MAX_IDLE:
                self.idle.append(worker)
                return
        worker.close()

    def prestart(self, workers: int = 1) -> None:
        with self.lock:
            self.idle = [w for w in self.idle if w.proc.poll() is None]
            while len(self.idle) < min(workers, _MAX_IDLE):
                self.idle.append(_Worker())

    def shutdown(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for worker in idle:
            worker.close()


_pool = _Pool()
atexit.register(shutdown)


def _reason(path: Path, status: dict[str, Any], sandbox: SandboxLimits) -> ParseError:
    name, kind = path.name, status.get("status")
    advice = ("It may be malformed or built to exhaust the server; if it is a genuine document, "
              "split it into smaller files or ask an administrator to raise the limit.")
    if kind == "memory":
        return ParseError(f"{name} needed more than {sandbox.memory_mb:g} MB of memory to parse and was "
                          f"stopped (parse_memory_mb / RAG_PARSE_MEMORY_MB). {advice}")
    if kind == "cpu":
        return ParseError(f"{name} needed more than {sandbox.cpu_s} s of CPU time to parse and was stopped "
                          f"(parse_cpu_s / RAG_PARSE_CPU_S). {advice}")
    if kind == "timeout":
        return ParseError(f"{name} took more than {sandbox.timeout_s:g} s to parse and was stopped "
                          f"(parse_timeout_s / RAG_PARSE_TIMEOUT_S). {advice}")
    if kind == "output":
        return ParseError(f"{name} produced more than {sandbox.max_output_mb:g} MB of parsed text and was "
                          f"stopped (parse_max_output_mb / RAG_PARSE_MAX_OUTPUT_MB). {advice}")
    detail = status.get("detail") or "unknown failure"
    if kind == "start":
        return ParseError(f"{name} was not parsed: the sandboxed parser process could not start ({detail}). "
                          "This is a problem of the server, not of the file: see its log, or set "
                          "parse_isolation = false (RAG_PARSE_ISOLATION=0) to parse in-process.")
    return ParseError(f"{name} crashed the parser ({detail}). The file may be damaged or malformed; "
                      "try saving it again, or convert it to PDF.")


def _decode(path: Path, payload: bytes) -> list[Element]:
    """The child's JSON -> Elements, trusting nothing about its shape."""
    try:
        data = json.loads(payload.decode("utf-8", "surrogatepass"))
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            raise ParseError(data["error"])
        elements = []
        for text, kind, section, page, ocr in data["elements"]:
            if not (isinstance(text, str) and kind in _KINDS and isinstance(section, str)
                    and (page is None or (isinstance(page, int) and not isinstance(page, bool)))
                    and isinstance(ocr, bool)):
                raise ValueError("bad element")
            elements.append(Element(text, kind, section, page, ocr))
        return elements
    except ParseError:
        raise
    except Exception as exc:
        raise _reason(path, {"status": "crash", "detail": f"unreadable result: {type(exc).__name__}"},
                      SandboxLimits()) from None


# ---------------------------------------------------------------- zygote side

def _serve(fd: int) -> None:
    """The zygote's main loop: one request at a time, each parsed in a forked child."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(fd)
    from indexer.parse.library_logs import quiet_libraries

    quiet_libraries(python_warnings=True)  # nothing a library says reaches the terminal of the caller
    _hide_torch()
    _warm_up()
    import ctypes  # noqa: F401  (used by every child: import once, here)
    import gc
    import resource  # noqa: F401
    gc.collect()
    gc.freeze()  # children's garbage collector leaves the warm objects (and their pages) alone
    zygote = _Zygote(conn)
    zygote.fork_spare()
    try:
        conn.send_bytes(b'{"ready": true}')
    except OSError:  # the caller finished (nothing to parse) or died while this zygote warmed up
        zygote.close()
        return
    while True:
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):
            zygote.close()
            return  # the caller is gone
        try:
            status, payload = zygote.handle(request)
        except Exception as exc:  # fork failed (no memory, process limit), a bad request, ...
            status, payload = {"status": "crash", "detail": f"sandbox: {type(exc).__name__}: {exc}"}, b""
        try:
            conn.send_bytes(json.dumps(status).encode())
            if status["status"] == "ok":
                conn.send_bytes(payload)
        except OSError:  # the caller is gone (it timed out on this file, or exited)
            zygote.close()
            return
        try:
            zygote.after()
        except Exception:
            log.exception("sandbox: could not prepare the next child")


class _Zygote:
    """Forks the child for the next file ahead of time (a *spare*, waiting for its request): while
    one child parses, the next is forked, so neither the fork (~8 ms for a warm process) nor the
    child's exit (~5 ms, collected later) delays a parse."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.spare: tuple[int, int, int] | None = None  # pid, request pipe (write), result pipe (read)
        self.unreaped: list[int] = []  # children that sent their result and are exiting

    def fork_spare(self, foreign: tuple[int, ...] = ()) -> None:
        """Fork the next child; `foreign`: descriptors of the running child's pipes, closed in it."""
        request_r, request_w = os.pipe()
        result_r, result_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            try:
                for fd in (request_w, result_r, *foreign):
                    os.close(fd)
                self.conn.close()
                _die_with_parent()
                with os.fdopen(request_r, "rb") as pipe:
                    request = pipe.read()
                if not request:  # the zygote is shutting down
                    os._exit(0)
                _child(result_w, json.loads(request))
            finally:
                os._exit(_EXIT_BUG)
        os.close(request_r)
        os.close(result_w)
        self.spare = (pid, request_w, result_r)

    def handle(self, request: bytes) -> tuple[dict[str, Any], bytes]:
        sandbox = SandboxLimits(**json.loads(request)["sandbox"])
        max_output = int(sandbox.max_output_mb * MB)
        if self.spare is None:
            self.fork_spare()
        assert self.spare is not None
        (pid, request_w, result_r), self.spare = self.spare, None
        start = time.monotonic()
        deadline = start + sandbox.timeout_s
        with os.fdopen(request_w, "wb") as pipe:
            pipe.write(request)
        try:
            self.fork_spare(foreign=(result_r,))  # while the child parses
        except OSError:
            log.warning("sandbox: could not fork ahead", exc_info=True)  # after() tries again
        with os.fdopen(result_r, "rb", buffering=0) as pipe:
            killed, payload = _read_result(pipe, deadline, max_output)
        if killed:
            os.kill(pid, signal.SIGKILL)
        elif payload is not None:  # complete: the child is exiting; reap it after answering
            self.unreaped.append(pid)
            return {"status": "ok", "elapsed": round(time.monotonic() - start, 3)}, payload
        wait_status, usage = _reap(pid, deadline)
        cpu = usage.ru_utime + usage.ru_stime if usage else 0.0
        status: dict[str, Any] = {"elapsed": round(time.monotonic() - start, 3), "cpu": round(cpu, 3)}
        if killed or wait_status is None:
            status["status"] = killed or "timeout"
        elif os.WIFSIGNALED(wait_status):
            sig = os.WTERMSIG(wait_status)
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= sandbox.cpu_s - 0.5):
                status["status"] = "cpu"
            else:
                status.update(status="crash", detail=f"killed by {signal.Signals(sig).name}")
        else:
            code = os.WEXITSTATUS(wait_status)
            status["status"] = {_EXIT_MEMORY: "memory", _EXIT_OUTPUT: "output"}.get(code, "crash")
            if status["status"] == "crash":
                status["detail"] = f"exit status {code} without a result"
        return status, b""

    def after(self) -> None:
        """Between requests: fork the next child first, then collect the children that have exited
        (tearing down a child's address space takes a few ms: nobody waits for it)."""
        if self.spare is None:
            self.fork_spare()
        self.unreaped = [pid for pid in self.unreaped if not os.waitpid(pid, os.WNOHANG)[0]]
        while len(self.unreaped) > 8:  # one that will not go away: wait for it (kill it at 10 s)
            _reap(self.unreaped.pop(0), time.monotonic() + 10)

    def close(self) -> None:
        for pid in self.unreaped:
            _reap(pid, time.monotonic() + 5)
        if self.spare is not None:
            pid, request_w, result_r = self.spare
            os.close(request_w)  # an empty request: the spare exits
            os.close(result_r)
            _reap(pid, time.monotonic() + 5)


def _read_result(pipe: Any, deadline: float, max_output: int) -> tuple[str, bytes | None]:
    """Read the child's 8-byte length and its result: ("", bytes) when complete, ("", None) when
    the child ended without one, ("timeout" | "output", None) when it must be killed."""
    data = bytearray()
    expected: int | None = None
    while expected is None or len(data) < expected + 8:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout", None
        if not select.select([pipe], [], [], remaining)[0]:
            continue
        chunk = pipe.read(1 << 20)
        if not chunk:
            return "", None
        data += chunk
        if expected is None and len(data) >= 8:
            expected = int.from_bytes(data[:8], "big")
            if expected > max_output:
                return "output", None
    return "", bytes(data[8:])


def _reap(pid: int, deadline: float) -> tuple[int | None, Any]:
    """wait4 the child: (wait status, rusage); status None if it had to be killed at the deadline."""
    while True:
        done, wait_status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return wait_status, usage
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return None, os.wait4(pid, 0)[2]
        time.sleep(0.001)


def _child(result_w: int, request: dict[str, Any]) -> None:
    """In the forked child: limit ourselves, parse, write the length-prefixed JSON result, exit."""
    import resource

    sandbox = SandboxLimits(**request["sandbox"])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _lower(resource.RLIMIT_CPU, sandbox.cpu_s, sandbox.cpu_s + 2)
    address_space = _vm_size() + int(sandbox.memory_mb * MB)
    _lower(resource.RLIMIT_AS, address_space, address_space)
    from indexer.parse.dispatch import parse_file

    try:
        watcher = _write_progress(request["progress"]) if request.get("progress") else None
        with progress.watching(watcher):
            elements = parse_file(Path(request["path"]), request["max_bytes"],
                                  ParseLimits.from_dict(request["limits"]))
        result: dict[str, Any] = {"elements": [[e.text, e.kind, e.section, e.page, e.ocr] for e in elements]}
    except BaseException as exc:  # noqa: BLE001 - everything is reported, nothing escapes
        if _caused_by_memory(exc):
            os._exit(_EXIT_MEMORY)
        if not isinstance(exc, ParseError):
            os._exit(_EXIT_BUG)
        result = {"error": str(exc)}
    try:
        data = json.dumps(result, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except MemoryError:
        os._exit(_EXIT_MEMORY)
    del result
    if len(data) > sandbox.max_output_mb * MB:
        os._exit(_EXIT_OUTPUT)
    _write_all(result_w, len(data).to_bytes(8, "big"))
    _write_all(result_w, data)
    os._exit(0)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _caused_by_memory(exc: BaseException | None) -> bool:
    """MemoryError, or an error raised while handling one (parsers wrap what they catch)."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, MemoryError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _lower(which: int, soft: int, hard: int) -> None:
    import resource

    _, current_hard = resource.getrlimit(which)
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(which, (soft, hard))


def _vm_size() -> int:
    """This process's address space size in bytes (Linux /proc; elsewhere a rough stand-in)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: the child dies with the zygote (which is single-threaded)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _hide_torch() -> None:
    """The zygote never needs torch, which spaCy's thinc imports when it can: hiding it halves
    the warm-up (~2 s instead of ~3 s) and the zygote's memory (~250 MB instead of ~430 MB).
    Parsing results are the same (thinc runs the tagger on numpy either way)."""
    import importlib.abc

    if "torch" in sys.modules:
        return

    class _NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
            if name == "torch" or name.startswith("torch."):
                raise ModuleNotFoundError(f"No module named {name!r} (not needed for parsing)")
            return None

    sys.meta_path.insert(0, _NoTorch())


def _warm_up() -> None:
    """Import the parsers and run each once on a tiny document, so lazy initialisation (~0.4 s
    for unstructured + spaCy on first use) is done once here instead of in every child."""
    import tempfile

    from indexer.parse.dispatch import parse_file
    from indexer.parse.offline_nlp import ensure_offline_nlp

    ensure_offline_nlp()
    _warm_up_ocr()
    samples: dict[str, Any] = {
        "w.txt": "Fees\n\nThe monthly fee is five dollars. Call us at any time.\n\n- one\n- two\n",
        "w.md": "# Fees\n\nThe monthly fee is five dollars.\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
        "w.html": "<h1>Fees</h1><p>The monthly fee is five dollars.</p><ul><li>one</li></ul>"
                  "<table><tr><th>a</th></tr><tr><td>1</td></tr></table>",
        "w.csv": "a,b\n1,2\n",
        "w.pdf": _tiny_pdf(),
    }
    with tempfile.TemporaryDirectory(prefix="rag-warm-") as folder:
        for name, content in samples.items():
            target = Path(folder) / name
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        for make in (_tiny_docx, _tiny_pptx, _tiny_xlsx):
            try:
                make(Path(folder))
            except Exception:  # a missing optional library: that format just starts cold
                log.debug("warm-up sample %s failed", make.__name__, exc_info=True)
        for target in sorted(Path(folder).iterdir()):
            try:
                parse_file(target)
            except Exception:
                log.debug("warm-up parse of %s failed", target.name, exc_info=True)


def _warm_up_ocr() -> None:
    """Import what OCR uses and ask tesseract once for its languages (~20 ms, cached for every child)."""
    try:
        from PIL import Image, ImageOps  # noqa: F401

        from indexer.parse import images, pdf_ocr  # noqa: F401
        from indexer.parse.ocr import installed_languages, program

        if (tesseract := program()) is not None:
            installed_languages(tesseract)
    except Exception:
        log.debug("OCR warm-up failed", exc_info=True)


def _tiny_pdf() -> bytes:
    stream = b"BT /F1 18 Tf 72 740 Td (Fees) Tj ET\nBT /F1 11 Tf 72 712 Td (The fee is five dollars.) Tj ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
               b"/Resources << /Font << /F1 3 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)]
    return assemble(objects)


def _tiny_docx(folder: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Fees", 1)
    document.add_paragraph("The monthly fee is five dollars.")
    document.add_paragraph("one", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(1, 0).text = "a", "1"
    document.save(folder / "w.docx")


def _tiny_pptx(folder: Path) -> None:
    import pptx

    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Fees"
    slide.placeholders[1].text = "The monthly fee is five dollars."
    deck.save(folder / "w.pptx")


def _tiny_xlsx(folder: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["a", "b"])
    book.active.append([1, 2])
    book.save(folder / "w.xlsx")
