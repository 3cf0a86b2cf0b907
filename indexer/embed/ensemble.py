"""Two or more embedding models as one encoder ("e5+minilm"): one FAISS index, one search.

Why: e5-small and MiniLM-L6 miss different questions, so their fused score ranks better than either
model alone (figures: docs/design-notes.md). Both ship in packages.

How the scores combine. Each model's cosines live on their own scale (e5: mean ~0.82, spread
~0.02 per question; MiniLM: mean ~0.20, spread ~0.12), so each member's cosine is mapped onto
the first member's scale with fixed constants, then averaged with per-question weights:

    score = sum_i w_i * (mu_0 + (cos_i - mu_i) * sd_0 / sd_i) / sum_i w_i

That is an inner product, so FAISS (or any vector store) computes it directly:

    passage = [p_1, ..., p_n, C]            (each p_i the member's unit vector; C a constant)
    query   = [a_1 q_1, ..., a_n q_n, b/C]  a_i = w_i sd_0 / sd_i / W,  b = sum_i w_i (mu_0 - mu_i sd_0 / sd_i) / W

The weights live on the query side only, so they change without re-embedding. A member that
knows only some languages ("minilm": English) gets weight 0 for a question with Chinese
characters; the score is then exactly the first member's cosine (e5), so one refusal threshold
holds for questions in either language. The constants (`SCALES`) are each model's cosine mean and
per-question spread on the bundled bank sample (data/eval/sample/en: 35 questions x 71 passages),
not on the benchmark.
Passage vectors are not unit length (the constant C); all have the same length, so inner-product
search ranks them by the score above. C = 10 keeps the query's constant coordinate small, so the
cosine between two query vectors (the answer cache) is that of their model parts.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from indexer.embed.base import Encoder
from indexer.script import CJK_RUN

# cosine mean and per-question spread on the bank sample (see the module docstring)
SCALES = {"e5": (0.817, 0.020), "minilm": (0.198, 0.124)}
ENGLISH_ONLY = {"minilm"}
CONSTANT = 10.0


def member_names(model: str) -> list[str]:
    """'e5+minilm' -> ['e5', 'minilm']; a single model name -> [name]."""
    return [m.strip() for m in model.split("+") if m.strip()]


def score_spread(model: str) -> float:
    """The per-question spread of a KB's scores under `model`: its first member's (the scale an ensemble's
    scores are mapped onto); e5's for a model without constants (a tuned e5 folder keeps e5's scale)."""
    names = member_names(model)
    return SCALES.get(names[0] if names else "e5", SCALES["e5"])[1]


class EnsembleEncoder:
    """Encoder protocol over several member encoders (see the module docstring)."""

    def __init__(self, names: list[str], members: list[Encoder]):
        unknown = [n for n in names if n not in SCALES]
        if unknown or len(set(names)) != len(names) or len(names) < 2 or set(names) <= ENGLISH_ONLY:
            raise ValueError(f"an ensemble needs two or more of {sorted(SCALES)} joined by '+' "
                             f"(each once, one of them multilingual: e.g. 'e5+minilm'); got {'+'.join(names)!r}")
        self.names, self.members = names, members
        self.name = "+".join(names)
        self.dim = 0
        self._pool: ThreadPoolExecutor | None = None  # members encode a question side by side

    def warm_up(self) -> None:
        for m in self.members:
            m.warm_up()
        self.dim = sum(m.dim for m in self.members) + 1

    def weights(self, text: str) -> np.ndarray:
        """Per-member weight for one question: English-only members sit out Chinese questions."""
        chinese = bool(CJK_RUN.search(text))
        return np.array([0.0 if (chinese and n in ENGLISH_ONLY) else 1.0 for n in self.names])

    def votes(self, query: str) -> float:
        return float(self.weights(query).sum())

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        self.warm_up()
        return self.join_passages([m.encode_passages(texts, show_progress) for m in self.members])

    @staticmethod
    def join_passages(parts: list[np.ndarray]) -> np.ndarray:
        """Members' passage vectors (same row order) -> the stored layout [p_1, ..., p_n, C]."""
        const = np.full((len(parts[0]), 1), CONSTANT, dtype=np.float32)
        return np.hstack(parts + [const]).astype(np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.warm_up()
        weights = [self.weights(t) for t in texts]
        needed = [m for i, m in enumerate(self.members) if any(w[i] for w in weights)]  # a model all these questions leave out is not run

        def encode(m):
            return m.encode_queries(texts) if m in needed else np.zeros((len(texts), m.dim), np.float32)

        if len(texts) <= 4 and len(needed) > 1:  # a question or two: torch barely uses a second core on so few tokens
            self._pool = self._pool or ThreadPoolExecutor(len(self.members), thread_name_prefix="encode")
            parts = list(self._pool.map(encode, self.members))
        else:
            parts = [encode(m) for m in self.members]
        mu0, sd0 = SCALES[self.names[0]]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, w in enumerate(weights):
            total, col, offset = w.sum(), 0, 0.0
            for name, part, wi in zip(self.names, parts, w):
                mu, sd = SCALES[name]
                out[row, col:col + part.shape[1]] = part[row] * (wi * sd0 / sd / total)
                offset += wi * (mu0 - mu * sd0 / sd) / total
                col += part.shape[1]
            out[row, col] = offset / CONSTANT
        return out
