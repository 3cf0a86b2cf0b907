"""An HTML page put in the shape unstructured reads as a browser shows it, before it is partitioned.

Each step works on one lxml tree of the page and says whether it changed it: menus, cookie banners and
footers built from plain <div>s left out (indexer.parse.html_boilerplate), tables that lay the page out
read as the blocks they hold (indexer.parse.html_layout_tables), merged table cells spread
(indexer.parse.html_spans), the paragraphs of a list item that holds a list read as lines of the item
(<li><p>办理入院手续</p><ul>..., as CMS editors write items: indexer.parse.markdown_lists), an item holding
nothing but a list replaced by its sub-items (indexer.parse.html_empty_items). A page no step
changes is passed on as it came, character for character; one that changed is serialized again by lxml
(the same parser, libxml2's, that unstructured reads it with).
"""
from __future__ import annotations

from indexer.parse.html_boilerplate import drop_boilerplate
from indexer.parse.html_empty_items import lift_empty_items
from indexer.parse.html_layout_tables import unwrap_layout_tables
from indexer.parse.html_spans import spread_spans
from indexer.parse.markdown_lists import tighten_list_items


def rewrite_html(html: str) -> str:
    """`html` without its page chrome, its layout tables unwrapped, its merged table cells spread, its empty
    list items replaced by their sub-items, its list items holding a list tightened; as it came where there
    is nothing to do."""
    from lxml import etree
    from lxml import html as lxml_html

    try:
        # as bytes with the encoding named: lxml refuses a str that starts with an XML declaration
        # (XHTML exports), and the declaration's own encoding is the file's, not this text's
        root = lxml_html.document_fromstring(html.encode("utf-8", "replace"),
                                             parser=lxml_html.HTMLParser(encoding="utf-8"))
    except (etree.LxmlError, ValueError):  # nothing to parse (empty, only a comment): read as before
        return html
    steps = (drop_boilerplate, unwrap_layout_tables, spread_spans, lift_empty_items, tighten_list_items)
    if not any([step(root) for step in steps]):  # each step runs
        return html
    doctype = root.getroottree().docinfo.doctype
    return lxml_html.tostring(root, encoding="unicode", method="html", doctype=doctype or None)
