"""manifest.json: the SHA-256 of every file of an adapter or merged-model folder, written when the
folder is saved and checked before it is loaded.

    write_manifest(folder)                    # after saving: lists every file but itself
    verify_manifest(folder, missing="warn")   # before loading: ManifestError naming the bad file

A file that differs from its hash, a listed file that is gone, or a file the manifest does not list
(a swapped-in weights file, an extra config) is refused. Dotfiles are ignored (editors and OS
metadata). A folder without manifest.json is what older `rag tune` versions wrote: `missing`
decides ("warn": logged and loaded, "ignore", "error").

This guards against corrupted, truncated or edited files. It is not a signature: whoever can
rewrite the weights can rewrite the manifest too (ownership is what the fingerprint shows,
rag.adapt.fingerprint).
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Literal

from indexer.atomic import write_text

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = 1
CHUNK = 1 << 20


class ManifestError(ValueError):
    """A folder's files do not match its manifest.json."""


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def _files(folder: Path) -> list[str]:
    """Relative paths (POSIX) of the folder's files, dotfiles and the manifest itself left out."""
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if p.is_file() and rel.as_posix() != MANIFEST and not any(part.startswith(".") for part in rel.parts):
            out.append(rel.as_posix())
    return out


def write_manifest(folder: str | Path, kind: str = "") -> Path:
    """Hash every file in `folder` into folder/manifest.json (written last, atomically)."""
    folder = Path(folder)
    files = {rel: {"sha256": file_sha256(folder / rel), "bytes": (folder / rel).stat().st_size}
             for rel in _files(folder)}
    doc = {"format": FORMAT, "algorithm": "sha256", "kind": kind, "files": files}
    return write_text(folder / MANIFEST, json.dumps(doc, indent=2, sort_keys=True) + "\n")


def verify_manifest(folder: str | Path, missing: Literal["warn", "ignore", "error"] = "warn") -> bool:
    """True when every file matches folder/manifest.json; False when there is none (and `missing`
    allows that); ManifestError otherwise, naming the first file that does not match."""
    folder = Path(folder)
    path = folder / MANIFEST
    fix = ("copy the folder again from where it was made, or make it again (`rag tune generator` / "
           "`rag tune merge`)")
    if not path.is_file():
        if missing == "error":
            raise ManifestError(f"{folder}: no {MANIFEST}, so its files cannot be checked: {fix}")
        if missing == "warn":
            log.warning("%s has no %s (made before manifests were written): its files are loaded unchecked; "
                        "make it again to get one", folder, MANIFEST)
        return False
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        listed: dict[str, dict] = doc["files"]
        if doc.get("algorithm", "sha256") != "sha256" or not isinstance(listed, dict):
            raise ValueError("unknown layout")
    except (ValueError, KeyError, TypeError) as e:
        raise ManifestError(f"{path}: not a readable manifest ({e}): {fix}") from e
    for rel, entry in sorted(listed.items()):
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise ManifestError(f"{path}: lists {rel!r}, outside the folder: {fix}")
        f = folder / rel
        if not f.is_file():
            raise ManifestError(f"{folder}: {rel} is listed in {MANIFEST} but missing; refusing to load it: {fix}")
        if f.stat().st_size != entry.get("bytes", f.stat().st_size) or file_sha256(f) != entry.get("sha256"):
            raise ManifestError(f"{folder}: {rel} does not match its SHA-256 in {MANIFEST} (changed or damaged "
                                f"after it was saved); refusing to load it: {fix}")
    extra = [rel for rel in _files(folder) if rel not in listed]
    if extra:
        raise ManifestError(f"{folder}: {', '.join(extra[:3])} not listed in {MANIFEST} (added after the folder "
                            f"was saved); refusing to load it: remove what was added, or {fix}")
    log.info("%s: %d files match %s", folder, len(listed), MANIFEST)
    return True
