"""A PDF file from its numbered objects: the header, each object, the cross-reference table and the trailer.
Enough for the parser sandbox's warm-up file and for tests to write PDFs without a PDF library."""
from __future__ import annotations


def assemble(objects: list[bytes]) -> bytes:
    """The bytes of a PDF whose objects are `objects` (object n is objects[n - 1]; object 1 the catalog)."""
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
