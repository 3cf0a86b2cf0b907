"""Whether a short line ends like a sentence, which the heading guesses of plain text (indexer.parse.unstructured_docs, line_breaks,
indexer.parse.text_title) and of scans (indexer.parse.ocr_headings) take as the sign of body text, not a heading:
"Call us at any time.", Chinese prose (whose verbs an English tagger cannot see), a clause or a list item cut at its
comma."""
from __future__ import annotations

import re

ENDS_LIKE_SENTENCE = re.compile(r"[.!?;:,。！？；：，、…]$")
