"""A KB's service state carried in its archive (`rag kb export --with-state`, GET /v1/kbs/{kb}/export?with_state=
true; the member indexer.archive.format.STATE), and restored on import.

What travels: the KB's API keys (not revoked) as their stored SHA-256 hashes, never a key itself (the
holders keep using theirs); its chat channels' settings, their secrets (app secret, token, AES key, corp
secret) only when asked (`--with-secrets`), else named in the channel's `left_out` so the admin re-enters
them (`rag channel add`); its promoted settings (kb_settings), and its experiments and promoted-settings
history (api.archive_experiments). Not: revoked keys, global admin keys, recorded answers, votes and
conversations (what users asked stays where they asked it).

Restoring refuses, naming each, state here that differs from the archive's (the target KB's own keys,
channels or settings) unless `replace`, and always refuses a key whose id or hash belongs to another KB
here (importing it would move someone else's key). A key revoked here is not revived. One transaction,
SQLite or PostgreSQL alike."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from api.archive_experiments import (
    ArchivedExperiment,
    ArchivedPromotion,
    check_valid,
    collect_experiments,
    experiment_conflicts,
    restore_experiments,
)
from api.experiments import validate_overrides
from api.state.base import Database, Transaction
from api.state.channel_fields import FIELDS, PLATFORMS, checked_settings, secrets_of
from indexer.archive.reader import ArchiveLimits, ArchiveReader
from indexer.store.base import now

FORMAT = "harbor-rag-kb-state"
Short = Annotated[str, StringConstraints(max_length=512)]


class StateError(ValueError):
    """The archive's state is invalid: the message says what is wrong and what to do."""


class StateConflict(StateError):
    """Restoring the archive's state would overwrite state here: the message names each conflict."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ArchivedKey(_Strict):
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    hash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]  # SHA-256 of the key (api.auth)
    scope: Literal["read", "write", "admin"]
    label: Short = ""
    created_at: Annotated[str, StringConstraints(max_length=64)]


class ArchivedChannel(_Strict):
    platform: Literal["dingtalk", "wecom"]
    settings: dict[Short, str | float] = Field(max_length=20)
    left_out: list[Short] = Field([], max_length=20, description="secret settings not carried: re-enter them")


class KBState(_Strict):
    format: Literal["harbor-rag-kb-state"] = FORMAT
    version: Literal[1] = 1
    keys: list[ArchivedKey] = Field([], max_length=10_000)
    channels: list[ArchivedChannel] = Field([], max_length=len(PLATFORMS))
    settings: dict[Short, dict[Short, Any]] = {}  # promoted overrides {section: {field: value}}
    # the KB's experiments and promoted-settings history (api.archive_experiments); written only when it has some,
    # so that a state without them stays readable by versions from before them
    experiments: list[ArchivedExperiment] = Field([], max_length=1000)
    settings_history: list[ArchivedPromotion] = Field([], max_length=10_000)


@dataclass
class Restored:
    keys: int = 0                                                # restored (or already here as they are)
    revoked_here: list[str] = field(default_factory=list)        # key ids revoked here: not revived
    channels: list[str] = field(default_factory=list)            # platforms restored whole
    secrets_needed: dict[str, list[str]] = field(default_factory=dict)  # platform -> settings to re-enter
    settings: dict = field(default_factory=dict)                 # promoted overrides restored
    experiments: list[str] = field(default_factory=list)         # the KB's experiments restored
    experiments_taken: list[str] = field(default_factory=list)   # not restored: another KB's here has the name
    settings_history: int = 0                                    # entries of the promoted-settings history

    def lines(self, kb: str) -> list[str]:
        """What was restored and what the admin must do, for people."""
        out = [f"restored the service state of {kb!r}: {self.keys} API keys (their holders' keys work here), "
               f"channels {', '.join(self.channels) or 'none'}, promoted settings "
               f"{json.dumps(self.settings, ensure_ascii=False) if self.settings else 'none'}"]
        if self.revoked_here:
            out.append(f"not restored: keys {', '.join(self.revoked_here)}, revoked here (issue new keys if needed)")
        if self.experiments or self.settings_history:
            out.append(f"restored experiments {', '.join(self.experiments) or 'none'} and "
                       f"{self.settings_history} entries of the promoted-settings history")
        if self.experiments_taken:
            out.append(f"not restored: experiments {', '.join(self.experiments_taken)}, whose names another KB's "
                       "experiments have here (experiment names are unique on a server)")
        for platform, names in self.secrets_needed.items():
            out.append(f"the {platform} channel was exported without its secrets ({', '.join(names)}): connect it "
                       f"again with `rag channel add {platform} --kb {kb}` (or POST /v1/kbs/{kb}/channels)")
        return out


def collect(db: Database, kb: str, with_secrets: bool) -> KBState:
    keys = [ArchivedKey(id=r["id"], hash=r["hash"], scope=r["scope"], label=r["label"], created_at=r["created_at"])
            for r in db.query("SELECT id, hash, scope, label, created_at FROM keys WHERE kb = ? AND revoked_at IS "
                              "NULL ORDER BY created_at, id", (kb,))]
    channels = []
    for r in db.query("SELECT platform, config FROM channels WHERE kb = ? ORDER BY platform", (kb,)):
        config = json.loads(r["config"])
        secret = [k for k in secrets_of(r["platform"]) if k in config]
        kept = config if with_secrets else {k: v for k, v in config.items() if k not in secret}
        channels.append(ArchivedChannel(platform=r["platform"], settings=kept, left_out=[] if with_secrets else secret))
    row = db.one("SELECT overrides FROM kb_settings WHERE kb = ?", (kb,))
    experiments, history = collect_experiments(db, kb)
    return KBState(keys=keys, channels=channels, settings=json.loads(row["overrides"]) if row else {},
                   experiments=experiments, settings_history=history)


def to_bytes(st: KBState) -> bytes:
    empty = {k for k in ("experiments", "settings_history") if not getattr(st, k)}
    return st.model_dump_json(indent=1, exclude=empty).encode("utf-8")


def parse(data: bytes) -> KBState:
    try:
        st = KBState.model_validate_json(data)
    except ValidationError as e:
        first = e.errors()[0]
        raise StateError(f"the archive's service state is invalid ({'.'.join(map(str, first['loc']))}: "
                         f"{first['msg']}); import without it (--without-state, ?without_state=true)") from e
    for c in st.channels:
        try:
            unknown = [k for k in list(c.settings) + c.left_out if k not in FIELDS[c.platform]]
            if unknown:
                raise ValueError(f"{c.platform} takes no setting {', '.join(map(repr, unknown))}")
            if not c.left_out:
                checked_settings(c.platform, dict(c.settings))
        except ValueError as e:
            raise StateError(f"the archive's {c.platform} channel is invalid ({e}); import without its state "
                             "(--without-state, ?without_state=true) and connect the channel again") from e
    try:
        validate_overrides(st.settings)
    except ValueError as e:
        raise StateError(f"the archive's promoted settings are not valid here ({e}); import without its state "
                         "(--without-state, ?without_state=true) and promote them again") from e
    try:
        check_valid(st.experiments, st.settings_history)
    except ValueError as e:
        raise StateError(f"the archive's experiments are not valid here ({e}); import without its state "
                         "(--without-state, ?without_state=true)") from e
    return st


def planned(db: Database, path: Path, kb: str, replace: bool, limits: ArchiveLimits = ArchiveLimits()) -> KBState | None:
    """The state the archive at `path` carries, checked against this database's (StateConflict: it would
    overwrite state here); None when it carries none. Called before the KB is imported, so that a refusal
    leaves everything as it was."""
    with ArchiveReader(path, limits) as archive:
        data = archive.state()
    if data is None:
        return None
    st = parse(data)
    check(db, kb, st, replace)
    return st


def check(db: Database, kb: str, st: KBState, replace: bool) -> None:
    """Raise StateError when restoring `st` into KB `kb` would overwrite state here (see the module)."""
    with db.tx() as t:
        _conflicts(t, kb, st, replace)


def restore(db: Database, kb: str, st: KBState, replace: bool) -> Restored:
    out = Restored()
    with db.tx() as t:
        _conflicts(t, kb, st, replace)
        keep = {k.id for k in st.keys}
        for r in t.query("SELECT id FROM keys WHERE kb = ? AND revoked_at IS NULL", (kb,)):
            if r["id"] not in keep:  # replace: the KB's keys are the archive's
                t.execute("UPDATE keys SET revoked_at = ? WHERE id = ?", (now(), r["id"]))
        for k in st.keys:
            row = t.query("SELECT revoked_at FROM keys WHERE id = ?", (k.id,))
            if row and row[0]["revoked_at"] is not None:
                out.revoked_here.append(k.id)
                continue
            if row:
                t.execute("UPDATE keys SET hash = ?, scope = ?, label = ? WHERE id = ?", (k.hash, k.scope, k.label, k.id))
            else:
                t.execute("INSERT INTO keys(id, hash, kb, scope, label, created_at) VALUES (?,?,?,?,?,?)",
                          (k.id, k.hash, kb, k.scope, k.label, k.created_at))
            out.keys += 1
        carried = {c.platform for c in st.channels}
        for platform in set(PLATFORMS) - carried:  # replace: the KB's channels are the archive's
            t.execute("DELETE FROM channels WHERE kb = ? AND platform = ?", (kb, platform))
        for c in st.channels:
            config = dict(c.settings)
            if c.left_out:  # the secrets this channel has here, if it has any, with the archive's other settings
                here = _channel(t, kb, c.platform) or {}
                config.update({k: v for k, v in here.items() if k in c.left_out})
                try:
                    config = checked_settings(c.platform, config)
                except ValueError:
                    t.execute("DELETE FROM channels WHERE kb = ? AND platform = ?", (kb, c.platform))
                    out.secrets_needed[c.platform] = list(c.left_out)
                    continue
            t.execute("DELETE FROM channels WHERE kb = ? AND platform = ?", (kb, c.platform))
            t.execute("INSERT INTO channels(kb, platform, config, created_at) VALUES (?,?,?,?)",
                      (kb, c.platform, json.dumps(checked_settings(c.platform, config)), now()))
            out.channels.append(c.platform)
        t.execute("DELETE FROM kb_settings WHERE kb = ?", (kb,))
        if st.settings:
            t.execute("INSERT INTO kb_settings(kb, overrides, version, updated_at, updated_by) VALUES (?,?,?,?,?)",
                      (kb, json.dumps(st.settings), 1, now(), "import"))
            out.settings = st.settings
        out.experiments_taken, _ = experiment_conflicts(t, kb, st.experiments, st.settings_history)
        out.experiments = restore_experiments(t, kb, st.experiments, st.settings_history, out.experiments_taken)
        out.settings_history = len(st.settings_history)
    return out


def _channel(t: Transaction, kb: str, platform: str) -> dict | None:
    rows = t.query("SELECT config FROM channels WHERE kb = ? AND platform = ?", (kb, platform))
    return json.loads(rows[0]["config"]) if rows else None


def _public(config: dict, platform: str) -> dict:
    return {k: v for k, v in config.items() if not FIELDS[platform].get(k)}


def _conflicts(t: Transaction, kb: str, st: KBState, replace: bool) -> None:
    never, differ = [], []
    for k in st.keys:
        for r in t.query("SELECT id, kb, hash, scope, label FROM keys WHERE id = ? OR hash = ?", (k.id, k.hash)):
            if r["kb"] != kb:
                never.append(f"key {k.id} (its id or hash is that of key {r['id']} of "
                             f"{repr(r['kb']) if r['kb'] else 'every KB'} here)")
            elif (r["id"], r["hash"], r["scope"], r["label"]) != (k.id, k.hash, k.scope, k.label):
                differ.append(f"key {k.id}")
    carried = {k.id for k in st.keys}
    differ += [f"key {r['id']}" for r in t.query("SELECT id FROM keys WHERE kb = ? AND revoked_at IS NULL", (kb,))
               if r["id"] not in carried]
    channels = {c.platform: c for c in st.channels}
    for r in t.query("SELECT platform, config FROM channels WHERE kb = ?", (kb,)):
        c, here = channels.get(r["platform"]), json.loads(r["config"])
        if c is None or (_public(here, c.platform) != c.settings if c.left_out else here != c.settings):
            differ.append(f"the {r['platform']} channel")
    row = t.query("SELECT overrides FROM kb_settings WHERE kb = ?", (kb,))
    if row and json.loads(row[0]["overrides"]) not in ({}, st.settings):
        differ.append("the promoted settings")
    differ += experiment_conflicts(t, kb, st.experiments, st.settings_history)[1]
    if never:
        raise StateConflict(f"the archive's service state cannot be restored into {kb!r}: {'; '.join(never)}; a key "
                         "is never moved from another KB. Import without the state (--without-state, "
                         "?without_state=true), or under the name those keys belong to")
    if differ and not replace:
        raise StateConflict(f"knowledge base {kb!r} already has service state that differs from the archive's: "
                         f"{', '.join(differ)}; import with --replace (?replace=true) to put the archive's in its "
                         "place, or without the state (--without-state, ?without_state=true)")
