"""`rag feedback gaps`: a period beyond what a date can hold is refused with the bound, as over HTTP."""
from __future__ import annotations

import os
import subprocess
import sys


def test_a_period_too_long_is_refused_with_its_bound_not_a_traceback(tmp_path):
    """--days 99999999999 raised OverflowError out of timedelta (a traceback); GET /v1/kbs/{kb}/gaps takes at
    most 3650 and so does the command now."""
    env = {**os.environ, "RAG_HOME": str(tmp_path / "home")}
    assert subprocess.run([sys.executable, "-m", "cli", "kb", "create", "t"], env=env, capture_output=True,
                          timeout=120).returncode == 0
    run = subprocess.run([sys.executable, "-m", "cli", "feedback", "gaps", "--kb", "t", "--days", "99999999999"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "3650" in run.stderr and "Traceback" not in run.stderr, run.stderr
    ok = subprocess.run([sys.executable, "-m", "cli", "feedback", "gaps", "--kb", "t", "--days", "3650"],
                        env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "0 answers since" in ok.stdout, ok.stderr
