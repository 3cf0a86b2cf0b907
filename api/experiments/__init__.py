"""A/B experiments on a KB's answer settings: arms with traffic shares and setting overrides, sticky
assignment of users to arms, promotion of an arm to the KB's settings (and rollback).

An arm's overrides are {section: {field: value}} over the sections retrieval, rerank, generation and
answer of rag.config.Settings, validated against their models. A KB's own settings (what promotion
writes, table kb_settings) apply on top of the service's global settings; an arm's on top of those."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from api.state.base import Database
from indexer.store.base import now as _now
from rag.config import Settings

SECTIONS = ("retrieval", "rerank", "generation", "answer")
STATUSES = ("active", "stopped", "promoted")


class ExperimentError(ValueError):
    """An invalid experiment or override (the API answers 422)."""


class Conflict(ExperimentError):
    """A name already taken, or the KB already has an active experiment (409)."""


class NotFound(LookupError):
    """No such experiment (404)."""


def validate_overrides(overrides: dict, base: Settings | None = None) -> dict:
    """The overrides, checked: known sections and fields, values the section's model accepts.
    Returns them normalised (values as the model parses them, JSON-compatible)."""
    if not isinstance(overrides, dict):
        raise ExperimentError("overrides must be an object {section: {field: value}}")
    base = base or Settings.load()
    out: dict[str, dict] = {}
    for section, fields in overrides.items():
        if section not in SECTIONS:
            raise ExperimentError(f"unknown settings section {section!r}: one of {', '.join(SECTIONS)}")
        if not isinstance(fields, dict):
            raise ExperimentError(f"overrides of {section!r} must be an object {{field: value}}")
        model = getattr(base, section)
        unknown = [f for f in fields if f not in type(model).model_fields]
        if unknown:
            raise ExperimentError(f"unknown field(s) of [{section}]: {', '.join(map(str, unknown))}")
        try:
            checked = type(model).model_validate({**model.model_dump(), **fields})
        except Exception as e:  # pydantic.ValidationError
            raise ExperimentError(f"invalid [{section}] override: {str(e).splitlines()[0]} "
                                  f"({'; '.join(str(e).splitlines()[1:3])})") from e
        dumped = checked.model_dump(mode="json")
        if fields:
            out[section] = {f: dumped[f] for f in fields}
    return out


def merge(*layers: dict) -> dict:
    """Overrides layered left to right (a later layer's field wins)."""
    out: dict[str, dict] = {}
    for layer in layers:
        for section, fields in (layer or {}).items():
            out.setdefault(section, {}).update(fields)
    return {s: f for s, f in out.items() if f}


def apply_overrides(settings: Settings, overrides: dict) -> Settings:
    """A copy of `settings` with `overrides` applied (validated: ExperimentError)."""
    if not overrides:
        return settings
    changes = {}
    for section, fields in validate_overrides(overrides, settings).items():
        model = getattr(settings, section)
        changes[section] = type(model).model_validate({**model.model_dump(), **fields})
    return dataclasses.replace(settings, **changes)


@dataclass
class Arm:
    name: str
    share: float
    overrides: dict

    def to_dict(self) -> dict:
        return {"name": self.name, "share": self.share, "overrides": self.overrides}


@dataclass
class Experiment:
    name: str
    kb: str
    arms: list[Arm]
    status: str = "active"
    created_at: str = ""
    created_by: str = ""
    ended_at: str | None = None
    winner: str = ""

    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise ExperimentError(f"experiment {self.name!r} has no arm {name!r} (arms: "
                              f"{', '.join(a.name for a in self.arms)})")

    def assign(self, user: str) -> Arm:
        return self.arm(assign(self.name, [(a.name, a.share) for a in self.arms], user))

    def to_dict(self) -> dict:
        return {"name": self.name, "kb": self.kb, "arms": [a.to_dict() for a in self.arms], "status": self.status,
                "created_at": self.created_at, "created_by": self.created_by, "ended_at": self.ended_at,
                "winner": self.winner}


def assign(experiment: str, arms: list[tuple[str, float]], user: str) -> str:
    """The arm of `user`: sha256(experiment name, user) as a number in [0, 1), placed among the arms'
    cumulative shares. Deterministic, so the same user gets the same arm on every request and replica."""
    digest = hashlib.sha256(f"{experiment}\0{user}".encode()).digest()
    x = int.from_bytes(digest[:8], "big") / 2**64
    total = sum(s for _, s in arms)
    acc = 0.0
    for name, share in arms:
        acc += share / total
        if x < acc:
            return name
    return arms[-1][0]


def make_experiment(name: str, kb: str, arms: list[dict], base: Settings | None = None) -> Experiment:
    """A new experiment from request data, validated (ExperimentError)."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name or ""):
        raise ExperimentError("the experiment name must be 1-64 letters, digits, '_', '.' or '-', the first a letter or digit")
    if not isinstance(arms, list) or len(arms) < 2:
        raise ExperimentError("an experiment needs at least 2 arms")
    out, seen = [], set()
    for a in arms:
        arm_name = str(a.get("name", ""))
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", arm_name):
            raise ExperimentError(f"invalid arm name {arm_name!r}")
        if arm_name in seen:
            raise ExperimentError(f"arm {arm_name!r} appears twice")
        seen.add(arm_name)
        try:
            share = float(a.get("share", 0))
        except (TypeError, ValueError) as e:
            raise ExperimentError(f"arm {arm_name!r}: share must be a number") from e
        if not share > 0:
            raise ExperimentError(f"arm {arm_name!r}: share must be > 0")
        out.append(Arm(arm_name, share, validate_overrides(a.get("overrides") or {}, base)))
    total = sum(a.share for a in out)
    for a in out:
        a.share = a.share / total
    return Experiment(name, kb, out)


class ExperimentStore:
    """Experiments and per-KB settings in the state database (tables experiments, kb_settings,
    kb_settings_history; schema step 3)."""

    def __init__(self, db: Database):
        self.db = db

    @staticmethod
    def _of(row) -> Experiment:
        arms = [Arm(a["name"], float(a["share"]), a.get("overrides") or {}) for a in json.loads(row["arms"])]
        return Experiment(row["name"], row["kb"], arms, row["status"], row["created_at"], row["created_by"],
                          row["ended_at"], row["winner"])

    def create(self, exp: Experiment, key_id: str) -> Experiment:
        with self.db.tx() as t:
            if t.query("SELECT name FROM experiments WHERE name = ?", (exp.name,)):
                raise Conflict(f"an experiment named {exp.name!r} exists already")
            active = t.query("SELECT name FROM experiments WHERE kb = ? AND status = 'active'", (exp.kb,))
            if active:
                raise Conflict(f"knowledge base {exp.kb!r} already runs experiment {active[0]['name']!r}: stop it "
                               "first")
            exp.status, exp.created_at, exp.created_by = "active", _now(), key_id
            t.execute("INSERT INTO experiments(name, kb, arms, status, created_at, created_by) VALUES (?,?,?,?,?,?)",
                      (exp.name, exp.kb, json.dumps([a.to_dict() for a in exp.arms]), exp.status, exp.created_at,
                       key_id))
        return exp

    def get(self, name: str) -> Experiment:
        row = self.db.one("SELECT * FROM experiments WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no experiment named {name!r}")
        return self._of(row)

    def list(self, kb: str | None = None) -> list[Experiment]:
        if kb is None:
            rows = self.db.query("SELECT * FROM experiments ORDER BY created_at, name")
        else:
            rows = self.db.query("SELECT * FROM experiments WHERE kb = ? ORDER BY created_at, name", (kb,))
        return [self._of(r) for r in rows]

    def active(self, kb: str) -> Experiment | None:
        row = self.db.one("SELECT * FROM experiments WHERE kb = ? AND status = 'active'", (kb,))
        return self._of(row) if row else None

    def stop(self, name: str, status: str = "stopped", winner: str = "") -> Experiment:
        exp = self.get(name)
        if exp.status == "active":
            self.db.execute("UPDATE experiments SET status = ?, ended_at = ?, winner = ? WHERE name = ?",
                            (status, _now(), winner, name))
        return self.get(name)

    # ---- the KB's own settings ------------------------------------------------------------------
    def kb_settings(self, kb: str) -> tuple[int, dict]:
        """(version, overrides) of the KB's settings: (0, {}) when none were ever promoted."""
        row = self.db.one("SELECT version, overrides FROM kb_settings WHERE kb = ?", (kb,))
        return (int(row["version"]), json.loads(row["overrides"])) if row else (0, {})

    def _set(self, t, kb: str, overrides: dict, key_id: str, at: str) -> None:
        n = t.execute("UPDATE kb_settings SET overrides = ?, version = version + 1, updated_at = ?, updated_by = ? "
                      "WHERE kb = ?", (json.dumps(overrides), at, key_id, kb))
        if not n:
            t.execute("INSERT INTO kb_settings(kb, overrides, version, updated_at, updated_by) VALUES (?,?,?,?,?)",
                      (kb, json.dumps(overrides), 1, at, key_id))

    def promote(self, name: str, arm: str, key_id: str) -> dict:
        """The arm's overrides become the KB's settings (over the KB's current ones); the experiment ends.
        Returns {kb, previous, overrides}."""
        exp = self.get(name)
        chosen = exp.arm(arm)
        at = _now()
        with self.db.tx() as t:
            row = t.query("SELECT overrides FROM kb_settings WHERE kb = ?", (exp.kb,))
            previous = json.loads(row[0]["overrides"]) if row else {}
            new = merge(previous, chosen.overrides)
            self._set(t, exp.kb, new, key_id, at)
            t.execute("INSERT INTO kb_settings_history(kb, action, overrides, previous, experiment, arm, key_id, at) "
                      "VALUES (?,?,?,?,?,?,?,?)", (exp.kb, "promote", json.dumps(new), json.dumps(previous), name,
                                                   arm, key_id, at))
            t.execute("UPDATE experiments SET status = 'promoted', ended_at = ?, winner = ? WHERE name = ?",
                      (at, arm, name))
        return {"kb": exp.kb, "experiment": name, "arm": arm, "previous": previous, "overrides": new, "at": at}

    def rollback(self, kb: str, key_id: str) -> dict:
        """Restore the KB settings from before its latest promotion not yet rolled back (NotFound: none)."""
        at = _now()
        with self.db.tx() as t:
            rows = t.query("SELECT id, previous, overrides, experiment, arm FROM kb_settings_history WHERE kb = ? "
                           "AND action = 'promote' AND undone = 0 ORDER BY id DESC", (kb,))
            if not rows:
                raise NotFound(f"knowledge base {kb!r} has no promotion to roll back")
            last = rows[0]
            previous = json.loads(last["previous"])
            current = t.query("SELECT overrides FROM kb_settings WHERE kb = ?", (kb,))
            before = json.loads(current[0]["overrides"]) if current else {}
            self._set(t, kb, previous, key_id, at)
            t.execute("UPDATE kb_settings_history SET undone = 1 WHERE id = ?", (last["id"],))
            t.execute("INSERT INTO kb_settings_history(kb, action, overrides, previous, experiment, arm, key_id, at) "
                      "VALUES (?,?,?,?,?,?,?,?)", (kb, "rollback", json.dumps(previous), json.dumps(before),
                                                   last["experiment"], last["arm"], key_id, at))
        return {"kb": kb, "restored": previous, "replaced": before, "experiment": last["experiment"],
                "arm": last["arm"], "at": at}

    def history(self, kb: str) -> list[dict]:
        rows = self.db.query("SELECT * FROM kb_settings_history WHERE kb = ? ORDER BY id", (kb,))
        return [{**dict(r), "overrides": json.loads(r["overrides"]), "previous": json.loads(r["previous"])}
                for r in rows]
