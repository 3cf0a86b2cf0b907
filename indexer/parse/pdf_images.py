"""Whether a PDF page draws an image (an image XObject, also inside a form, or an inline image): a scan, or a
page with a picture. Only what the content draws counts: resources are often shared by pages that draw none."""
from __future__ import annotations

from typing import Any


def draws_image(reader: Any, number: int) -> bool:
    """Page `number` (1-based) of the pypdf `reader` draws an image; an unreadable page counts as one (a scan is
    likelier than a blank page)."""
    from pypdf.generic import ContentStream

    try:
        page = reader.pages[number - 1]
        contents = page.get_contents()
        return contents is not None and _draws_image(ContentStream(contents, reader), page.get("/Resources"),
                                                     reader, set())
    except MemoryError:
        raise
    except Exception:
        return True


def _draws_image(content: Any, resources: Any, reader: Any, forms: set[int]) -> bool:
    """The content stream draws an image, itself or through a form (each form looked into once)."""
    from pypdf.generic import ContentStream

    objects = None
    for operands, operator in content.operations:
        if operator == b"INLINE IMAGE":
            return True
        if operator != b"Do" or not operands:
            continue
        if objects is None:
            res = resources.get_object() if resources is not None else {}
            objects = res.get("/XObject").get_object() if res.get("/XObject") is not None else {}
        drawn = objects.get(operands[0])
        drawn = drawn.get_object() if drawn is not None else None
        if drawn is None:
            continue
        if drawn.get("/Subtype") == "/Image":
            return True
        if drawn.get("/Subtype") == "/Form" and id(drawn) not in forms and len(forms) < 100:
            forms.add(id(drawn))
            if _draws_image(ContentStream(drawn, reader), drawn.get("/Resources", resources), reader, forms):
                return True
    return False
