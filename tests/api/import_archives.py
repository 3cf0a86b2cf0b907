"""Archives for the import tests: a real exported archive grown by synthetic documents, so that its import takes
long enough to be watched and interrupted."""
from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np

from indexer.archive import format as F

TEXTS = ["Branch {i} opens at 9:00 and closes at 17:00 on weekdays.", "第{i}号网点工作日营业时间为9:00至17:00。"]


def grown(src: Path, dst: Path, extra: int) -> Path:
    """Archive `src` (a real export: its first documents keep their real vectors, which the import's model check
    embeds again) with `extra` one-chunk documents after them, English and Chinese, with random vectors."""
    with zipfile.ZipFile(src) as z:
        parts = {n: z.read(n) for n in F.MEMBERS}
    m = json.loads(parts[F.MANIFEST])
    rng = np.random.default_rng(0)
    lines = []
    for i in range(extra):
        text = TEXTS[i % 2].format(i=i)
        lines.append(F.DocumentLine(
            doc_id=f"branch{i}", source=f"/docs/branches/{i}.txt", content_hash=f"h{i}", size=len(text),
            indexed_at="2026-12-07T10:00:00+00:00",
            chunks=[F.ChunkLine(chunk_id=f"branch{i}:0:c", ordinal=0, text=text, n_tokens=len(text.split()))]
        ).model_dump_json().encode() + b"\n")
    parts[F.DOCUMENTS] += b"".join(lines)
    parts[F.VECTORS] += rng.normal(size=(extra, m["dim"])).astype("<f4").tobytes()
    m["documents"] += extra
    m["chunks"] += extra
    for name in (F.DOCUMENTS, F.VECTORS):
        m["members"][name] = {"size": len(parts[name]), "sha256": hashlib.sha256(parts[name]).hexdigest()}
    parts[F.MANIFEST] = json.dumps(m, ensure_ascii=False).encode()
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return dst
