"""An HTML page's DOCTYPE with an internal subset (`<!DOCTYPE html [ <!ENTITY x "y"> ]>`) is read
without the subset.

HTML has no internal subsets: the HTML parser (libxml2's, through unstructured) ends the DOCTYPE at
its first `>`, inside the subset, and the rest (" ]>" at least, any declarations after the first)
became text, indexed as a paragraph of its own. drop_internal_subset() keeps the declaration and drops
the bracketed part before the page is parsed; its entities were never expanded (HTML does not), so
nothing else changes: "&x;" stays as written.
"""
from __future__ import annotations

import re

# a DOCTYPE at the start of the page (after a BOM, spaces, comments), up to its subset's "["
_DOCTYPE = re.compile(r"\A(\ufeff?\s*(?:<!--.*?-->\s*)*<!DOCTYPE\b[^\[>]*?)\s*\[", re.IGNORECASE | re.DOTALL)
# the subset, to the "]" and ">" that close it: quoted strings and comments may hold either. The
# alternatives start with different characters, so matching is linear in the subset's length.
_SUBSET_END = re.compile(r"""(?:"[^"]*"|'[^']*'|<!--(?:[^-]|-(?!->))*-->|<(?!!--)|[^\]"'<])*\]\s*>""")
_SCAN_CHARS = 1_000_000  # a subset is declarations, a few KB; past this the page is left as it is


def drop_internal_subset(html: str) -> str:
    head = _DOCTYPE.match(html[:_SCAN_CHARS])
    if head is None:
        return html
    end = _SUBSET_END.match(html[:_SCAN_CHARS], head.end())
    if end is None:  # not closed: the parser reads it as before
        return html
    return head.group(1).rstrip() + ">" + html[end.end():]
