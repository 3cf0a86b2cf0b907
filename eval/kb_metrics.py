"""A `rag eval kb` run as typed records, and its OUT/metrics.json (what a later run's `--baseline` reads).

metrics.json: {"schema": 1, the RunInfo fields, "summary": the counts overall (and share_right),
"categories": the counts per category, worst first, "questions": every question's result}.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from eval.kb_summary import by_category, count, write_per_question
from eval.kb_verdict import QuestionResult

SCHEMA = 1


@dataclass(frozen=True)
class RunInfo:
    """What a run evaluated and with what: the KB, the questions file, the settings that decide answers."""
    kb: str
    questions_file: str        # resolved path
    questions_sha256: str
    finished_at: str           # ISO 8601, UTC
    documents: int             # in the KB when it ran
    embed_model: str
    answer_mode: str
    generator: str
    refusal_thresholds: str    # as shown: "en 0.412, zh 0.455", "0.400 (configured)" or "none"
    config: str | None = None  # the TOML settings answered with
    baseline: str | None = None  # the --baseline folder compared with
    version: str | None = None
    git_commit: str | None = None


@dataclass
class KBRun:
    info: RunInfo
    results: list[QuestionResult]

    def to_json(self) -> dict:
        overall = count(self.results)
        return {"schema": SCHEMA, **asdict(self.info),
                "summary": {**asdict(overall), "share_right": overall.share_right},
                "categories": {name: asdict(count(rs)) for name, rs in by_category(self.results).items()},
                "questions": [r.to_dict() for r in self.results]}

    def write(self, out: Path) -> None:
        """OUT/metrics.json and OUT/per_question.csv."""
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
        write_per_question(out / "per_question.csv", self.results)


def load_run(folder: str | Path) -> KBRun:
    """A previous run from its metrics.json (the --out folder, or the file itself)."""
    path = Path(folder).expanduser()
    path = path / "metrics.json" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"baseline {folder}: no metrics.json there (give the --out folder of an earlier "
                                f"`rag eval kb` run)")
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(metrics, dict) or metrics.get("schema") != SCHEMA or "questions" not in metrics:
            schema = metrics.get("schema") if isinstance(metrics, dict) else None
            raise ValueError(f"not a `rag eval kb` run (schema {schema!r})")
        info = RunInfo(**{f.name: metrics[f.name] for f in fields(RunInfo) if f.name in metrics})
        known = {f.name for f in fields(QuestionResult)}  # a field added since that run is not in it, and not needed
        results = [QuestionResult(**{k: v for k, v in q.items() if k in known}) for q in metrics["questions"]]
        return KBRun(info, results)
    except (ValueError, TypeError, AttributeError) as e:
        raise ValueError(f"baseline {path}: cannot be read as the metrics of a `rag eval kb` run ({e}); give the "
                         f"--out folder of an earlier run") from e
