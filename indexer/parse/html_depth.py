"""HTML nested deeper than the HTML parser goes: refused by name instead of cut short in silence.

libxml2 (lxml, which unstructured parses HTML with) stops at 256 levels of nesting unless told
XML_PARSE_HUGE, and drops everything after that point without an exception: a page with one deep
block was indexed up to it ("Last paragraph." after it was lost), and one made of 100,000 nested
<div>s was reported as empty. The limit itself stays (it bounds what a hostile page costs);
check_depth() parses the page once more, in C, and turns the parser's complaint into a ParseError.
"""
from __future__ import annotations

from pathlib import Path

from indexer.parse.errors import ParseError

MAX_DEPTH = 256  # libxml2's own limit without XML_PARSE_HUGE


def check_depth(html: str, path: Path) -> None:
    """Raise ParseError when `html` nests elements deeper than the parser reads."""
    from lxml import etree

    if html.count("<") < MAX_DEPTH:  # cannot be that deep: no second parse
        return
    parser = etree.HTMLParser()
    try:
        etree.fromstring(html, parser)
    except (etree.LxmlError, ValueError):
        return  # unparseable pages are reported by the parsing that follows
    if any("depth" in e.message.lower() for e in parser.error_log if e.type_name == "ERR_RESOURCE_LIMIT"):
        raise ParseError(f"{path.name} nests its elements more than {MAX_DEPTH} levels deep; the HTML parser "
                         "stops there, and the text after that point would be lost. Flatten that nesting, or save "
                         "the document again (from a browser, or as PDF or DOCX), and upload it again.")
