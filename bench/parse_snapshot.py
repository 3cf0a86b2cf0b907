"""Parse and chunk every file of some folders (in-process: `indexer.parse.dispatch.parse_file`, then
`indexer.chunk.chunk_elements` with the default settings) and write the elements and chunks as JSON, or
compare them with such a file: a change to the parsers or the chunker must leave what ordinary files
give unchanged.

    .venv/bin/python bench/parse_snapshot.py --out /tmp/before.json               # before the change
    .venv/bin/python bench/parse_snapshot.py --compare /tmp/before.json           # after: exit 1 on a difference

Folders: data/sample and data/eval/domains unless given (`--dirs a b`). Files of an unsupported type are
skipped; a file that fails is recorded with its reason (so a change in failures shows too).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.chunk import chunk_elements  # noqa: E402
from indexer.config import ChunkSettings  # noqa: E402
from indexer.parse.dispatch import SUPPORTED_EXTENSIONS, ParseError, parse_file  # noqa: E402


def snapshot(dirs: list[Path]) -> dict[str, object]:
    out: dict[str, object] = {}
    for folder in dirs:
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.suffix.lower() not in SUPPORTED_EXTENSIONS:
                continue
            key = str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
            try:
                elements = parse_file(path)
                out[key] = [[e.text, e.kind, e.section, e.page] for e in elements]
                out[key + " (chunks)"] = [[c.chunk_id, c.text, c.title, c.page, c.n_tokens]
                                          for c in chunk_elements("d", elements, ChunkSettings())]
            except ParseError as exc:
                out[key] = {"error": str(exc)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dirs", nargs="*", type=Path,
                    default=[ROOT / "data" / "sample", ROOT / "data" / "eval" / "domains"])
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", type=Path, help="write the elements here")
    group.add_argument("--compare", type=Path, help="compare with elements written before")
    args = ap.parse_args()
    now = snapshot(args.dirs)
    if args.out:
        args.out.write_text(json.dumps(now, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"{len(now)} files and chunkings -> {args.out}")
        return 0
    before = json.loads(args.compare.read_text(encoding="utf-8"))
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    for key in changed:
        print(f"CHANGED {key}")
    print(f"{len(now)} files and chunkings compared, {len(changed)} changed")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
