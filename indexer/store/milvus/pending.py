"""The document write under way in a Milvus KB, so that a crash (kill -9) at any point leaves every
document at its old or its new state, as the local store's transactions do.

Milvus has no transaction over several requests: an update is an insert of the new chunks, a delete of
the old ones and an upsert of the document row. So the writer first records the write in the meta
collection (key `pending_write`, one row: a single upsert is atomic), and readers hide what the record
says is not yet, or no longer, the document:

- `switched` false: the new chunks are being written. Readers hide the document's rows from
  `first_row` on (row ids only grow, so every older row of the document is the old version).
- `switched` true (one upsert that also bumps `generation`): the new version is the document. Readers
  hide its rows below `first_row` and show `doc` as its row (None: deleted), whatever the documents
  collection still holds.

The writer then deletes the old rows, writes the document row and deletes the record. A writer opening
the KB finishes a record a crash left (MilvusStore._finish_pending): it deletes the hidden rows and writes
the document row as readers saw it. With no write under way there is no record and every read is the
same request as without one.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from indexer.store.milvus import schema as S
from indexer.types import DocumentInfo

KEY = "pending_write"


@dataclass(frozen=True)
class PendingWrite:
    doc_id: str
    first_row: int       # the new version's first row id; the old version's rows are all below it
    end_row: int         # one past its last row id (the row counter already covers it)
    switched: bool       # readers see the new version (`doc`), not the old one
    doc: DocumentInfo | None = None  # the new document row when switched; None: the document is deleted

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "PendingWrite":
        d = json.loads(text)
        doc = DocumentInfo(**d["doc"]) if d.get("doc") else None
        return cls(d["doc_id"], int(d["first_row"]), int(d["end_row"]), bool(d["switched"]), doc)

    def hidden(self) -> str:
        """The filter expression of the document's rows that readers must not see."""
        side = "<" if self.switched else ">="
        return f"({S.is_in('doc_id', [self.doc_id])} and row {side} {int(self.first_row)})"

    def shown(self, doc_id: str, stored: DocumentInfo | None) -> DocumentInfo | None:
        """The document row readers see for `doc_id`, given what the documents collection holds."""
        if doc_id != self.doc_id or not self.switched:
            return stored
        return self.doc


def parse(value: str | None) -> PendingWrite | None:
    return PendingWrite.from_json(value) if value else None


def visible(expr: str, pending: PendingWrite | None) -> str:
    """`expr` (may be empty) restricted to the rows readers see; unchanged when no write is under way."""
    if pending is None:
        return expr
    hide = f"not {pending.hidden()}"
    return f"({expr}) and {hide}" if expr else hide


def shown_documents(stored: list[DocumentInfo], pending: PendingWrite | None,
                    keep=lambda d: True) -> list[DocumentInfo]:
    """The documents readers see: `stored` with the pending document as the record says (`keep`: the
    listing's own condition, e.g. its source)."""
    if pending is None or not pending.switched:
        return stored
    out = [d for d in stored if d.doc_id != pending.doc_id]
    if pending.doc is not None and keep(pending.doc):
        out.append(pending.doc)
    return out
