"""A KB's experiments and promoted-settings history (api.experiments) in its archive's service state
(api.archive_state, `--with-state`): those that belong to the KB (experiments.kb, kb_settings_history.kb).

Restoring, in the state's transaction: an experiment whose name is taken here by another KB's is not restored
(experiment names are one namespace per server; importing a KB beside itself keeps the original's) and is named;
one of the same name and KB that differs, an active one where the KB runs another, or a history that differs
from the KB's here is a conflict (StateConflict, named with the others), unless `replace`, which makes them the
archive's: the experiment rewritten, the active one here stopped, the history replaced. An experiment the KB has
here and the archive lacks stays (its recorded answers name it)."""
from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.experiments import ExperimentError, validate_overrides
from api.state.base import Transaction
from indexer.store.base import now

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
When = Annotated[str, StringConstraints(max_length=64)]
Short = Annotated[str, StringConstraints(max_length=512)]
Overrides = dict[Short, dict[Short, Any]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArchivedArm(_Strict):
    name: Name
    share: float = Field(gt=0, le=1)
    overrides: Overrides = {}


class ArchivedExperiment(_Strict):
    name: Name
    arms: list[ArchivedArm] = Field(min_length=2, max_length=100)
    status: Literal["active", "stopped", "promoted"]  # api.experiments.STATUSES
    created_at: When
    created_by: Short = ""
    ended_at: When | None = None
    winner: Short = ""

    def row(self) -> tuple:
        return (json.dumps([a.model_dump() for a in self.arms], sort_keys=True), self.status, self.created_at,
                self.created_by, self.ended_at, self.winner)


class ArchivedPromotion(_Strict):
    """One row of the KB's promoted-settings history, in order."""
    action: Literal["promote", "rollback"]
    overrides: Overrides
    previous: Overrides
    experiment: Short = ""
    arm: Short = ""
    undone: bool = False
    key_id: Short = ""
    at: When

    def row(self) -> tuple:
        return (self.action, json.dumps(self.overrides, sort_keys=True), json.dumps(self.previous, sort_keys=True),
                self.experiment, self.arm, int(self.undone), self.key_id, self.at)


def collect_experiments(t, kb: str) -> tuple[list[ArchivedExperiment], list[ArchivedPromotion]]:
    """The KB's experiments (oldest first) and its settings history (in order); `t`: a Database or Transaction."""
    experiments = [ArchivedExperiment(name=r["name"], arms=json.loads(r["arms"]), status=r["status"],
                                      created_at=r["created_at"], created_by=r["created_by"], ended_at=r["ended_at"],
                                      winner=r["winner"])
                   for r in t.query("SELECT * FROM experiments WHERE kb = ? ORDER BY created_at, name", (kb,))]
    history = [ArchivedPromotion(action=r["action"], overrides=json.loads(r["overrides"]),
                                 previous=json.loads(r["previous"]), experiment=r["experiment"], arm=r["arm"],
                                 undone=bool(r["undone"]), key_id=r["key_id"], at=r["at"])
               for r in t.query("SELECT * FROM kb_settings_history WHERE kb = ? ORDER BY id", (kb,))]
    return experiments, history


def check_valid(experiments: list[ArchivedExperiment], history: list[ArchivedPromotion]) -> None:
    """ExperimentError naming what this version cannot take (an arm's or a promotion's settings)."""
    names = [e.name for e in experiments]
    if len(set(names)) != len(names):
        raise ExperimentError("an experiment appears twice")
    if sum(e.status == "active" for e in experiments) > 1:
        raise ExperimentError("more than one experiment is active")
    for e in experiments:
        for a in e.arms:
            try:
                validate_overrides(a.overrides)
            except ExperimentError as err:
                raise ExperimentError(f"experiment {e.name!r}, arm {a.name!r}: {err}") from err
    for n, p in enumerate(history, 1):
        for layer in (p.overrides, p.previous):
            try:
                validate_overrides(layer)
            except ExperimentError as err:
                raise ExperimentError(f"settings history entry {n}: {err}") from err


def experiment_conflicts(t: Transaction, kb: str, experiments: list[ArchivedExperiment],
                         history: list[ArchivedPromotion]) -> tuple[list[str], list[str]]:
    """(experiments not restored: their names taken by another KB's here, what here differs from the archive's)."""
    taken, differ = [], []
    for e in experiments:
        rows = t.query("SELECT * FROM experiments WHERE name = ?", (e.name,))
        if rows and rows[0]["kb"] != kb:
            taken.append(e.name)
        elif rows and _row(rows[0]) != e.row():
            differ.append(f"experiment {e.name}")
    carried_active = [e.name for e in experiments if e.status == "active" and e.name not in taken]
    if carried_active:
        here = t.query("SELECT name FROM experiments WHERE kb = ? AND status = 'active' AND name <> ?",
                       (kb, carried_active[0]))
        differ += [f"active experiment {r['name']}" for r in here]
    here_history = [_history_row(r) for r in t.query("SELECT * FROM kb_settings_history WHERE kb = ? ORDER BY id",
                                                     (kb,))]
    if here_history and here_history != [p.row() for p in history]:
        differ.append("the promoted-settings history")
    return taken, differ


def restore_experiments(t: Transaction, kb: str, experiments: list[ArchivedExperiment],
                        history: list[ArchivedPromotion], taken: list[str]) -> list[str]:
    """Write the archive's experiments (but those `taken`) and history for KB `kb` (conflicts already settled);
    returns the names of the experiments restored."""
    restored = []
    for e in experiments:
        if e.name in taken:
            continue
        if e.status == "active":  # one active experiment per KB: the archive's
            t.execute("UPDATE experiments SET status = 'stopped', ended_at = ? WHERE kb = ? AND status = 'active' "
                      "AND name <> ?", (now(), kb, e.name))
        t.execute("DELETE FROM experiments WHERE name = ? AND kb = ?", (e.name, kb))
        t.execute("INSERT INTO experiments(name, kb, arms, status, created_at, created_by, ended_at, winner) "
                  "VALUES (?,?,?,?,?,?,?,?)", (e.name, kb, *e.row()))
        restored.append(e.name)
    t.execute("DELETE FROM kb_settings_history WHERE kb = ?", (kb,))
    t.executemany("INSERT INTO kb_settings_history(kb, action, overrides, previous, experiment, arm, undone, key_id, "
                  "at) VALUES (?,?,?,?,?,?,?,?,?)", [(kb, *p.row()) for p in history])
    return restored


def _row(r) -> tuple:
    arms = [ArchivedArm(**a).model_dump() for a in json.loads(r["arms"])]
    return (json.dumps(arms, sort_keys=True), r["status"], r["created_at"], r["created_by"], r["ended_at"],
            r["winner"])


def _history_row(r) -> tuple:
    return (r["action"], json.dumps(json.loads(r["overrides"]), sort_keys=True),
            json.dumps(json.loads(r["previous"]), sort_keys=True), r["experiment"], r["arm"], int(r["undone"]),
            r["key_id"], r["at"])
