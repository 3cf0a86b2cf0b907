"""What the parsing libraries log goes to our log at debug level, never to the user's terminal.

pypdf warns about every odd PDF ("invalid pdf header: b'not a'", "EOF marker not found"), unstructured
about long text ("Input text of length ... exceeds spaCy max_length"). In the parser sandbox's processes,
where nothing sets up logging, Python printed those warnings on the terminal of `rag index`, and the CLI
shows WARNING and above of its own process. What a user can act on is the file's reason (a ParseError);
the libraries' lines go to the logger "indexer.parse.libraries" at DEBUG, named by their logger.
"""
from __future__ import annotations

import logging

LIBRARIES = ("pypdf", "unstructured", "unstructured_inference", "spacy", "thinc", "charset_normalizer",
             "openpyxl", "docx", "pptx", "markdown", "lxml", "PIL")
log = logging.getLogger("indexer.parse.libraries")


class _AtDebug(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s: %s", record.name, record.getMessage())
        except Exception:  # a library's bad format arguments
            self.handleError(record)


def quiet_libraries(python_warnings: bool = False) -> None:
    """Send the parsing libraries' log records to our log at DEBUG instead of the root logger's handlers;
    python_warnings: warnings.warn too (process-wide: for the parser sandbox's own processes). Idempotent."""
    names = LIBRARIES
    if python_warnings:
        logging.captureWarnings(True)
        names += ("py.warnings",)
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(h, _AtDebug) for h in logger.handlers):
            logger.addHandler(_AtDebug())
        logger.propagate = False
