"""How a knowledge base is laid out in Milvus: collection names, fields, indexes, BM25 text and
filter expressions.

One KB is four collections (`<base>` = `rag_kb_` + the KB name with '_', '.', '-' spelled '_0', '_1',
'_2', so the mapping is one-to-one and a base never contains '__'):

    <base>          the chunks: row (INT64 primary key), text, source, tags (JSON), vector, and
                    `bm25_text` (our BM25 tokens) analysed by a Milvus BM25 function into `sparse`
    <base>__docs    one row per document (DocumentInfo)
    <base>__meta    key -> value (embed_model, dim, context_window, created_ms, generation, next_row, ...)
    <base>__terms   every BM25 token ever written (term_coverage); deletions leave their terms behind

`rag kb reembed` builds the re-embedded KB under `<base>__reembed` (`Names.of(kb, "reembed")`) and swaps
it in by renaming collections, moving the KB's own to `<base>__replaced` on the way (store.swap_in);
`rag kb import` builds the imported KB under `<base>__import` the same way (indexer.archive).

The chunks collection is created last and dropped first, so its existence is what makes a KB exist.

BM25 equality with the local store: the chunk's tokens come from indexer.tokenize (stemming, stop
words, jieba) exactly as for the local index, and Milvus computes BM25 (idf, avgdl, k1, b) over them.
Each token is spelled so that every Milvus tokenizer keeps it whole and unchanged: a token of ASCII
lower-case letters and digits as is, any other as '_' + the hex of its UTF-8 bytes (one word for
'whitespace', 'standard' and Unicode word segmentation alike; '_' never starts a plain token, so no two
tokens collide). The collection asks for the 'whitespace' tokenizer; Milvus Lite, which lacks it, gets
'standard', which splits and lower-cases nothing of these spellings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from pymilvus import DataType, Function, FunctionType, MilvusClient

from indexer.store.local.sparse import BM25Index
from indexer.types import Filters

PREFIX = "rag_kb_"
SUFFIXES = ("__docs", "__meta", "__terms")
ROLES = ("reembed", "import", "replaced")
_SPELL = {"_": "_0", ".": "_1", "-": "_2"}
_UNSPELL = {v[1]: k for k, v in _SPELL.items()}

VARCHAR_MAX = 65535  # bytes: Milvus's limit for one VARCHAR value
ID_MAX = 4096
TERM_MAX = 1024      # longer tokens are not kept in <base>__terms (they count as unseen in term_coverage)
QUERY_MAX = 16384    # Milvus's cap on limit (and offset + limit) of one query or search
DUMMY_DIM = 2        # Milvus needs a vector field in every collection: the side collections carry one
DUMMY_VECTOR = [1.0, 0.0]

_BM25 = BM25Index()  # the local store's BM25 parameters: Milvus scores with the same k1 and b
BM25_K1, BM25_B = _BM25.k1, _BM25.b
ANALYZERS = ({"tokenizer": "whitespace"}, {"tokenizer": "standard"})  # preferred first

CHUNK_FIELDS = ["row", "chunk_id", "doc_id", "source", "text", "title", "page", "tags"]
# where a chunk passes onto another page (indexer.page_breaks). Collections made before it lack the field,
# and Milvus (Lite 3.2.2 included) adds no field to an existing collection: there a chunk is read and
# written without it and shown on its first page (MilvusStore._chunk_fields); `rag kb reembed` or an export
# and import makes the KB's collections anew, with it.
PAGE_BREAKS = "page_breaks"
DOC_FIELDS = ["doc_id", "source", "content_hash", "size", "tags", "indexed_at", "n_chunks"]


@dataclass(frozen=True)
class Names:
    """The collection names of one KB."""

    chunks: str
    docs: str
    meta: str
    terms: str

    @classmethod
    def of(cls, kb: str, role: str = "") -> "Names":
        """`role`: a hidden set beside the KB's ('reembed': the re-embedded copy being made; 'import': an
        archive being imported under the KB's name; 'replaced':
        the KB a finished copy is taking over from), named `<base>__<role>...` so it is never a KB."""
        if role and role not in ROLES:
            raise ValueError(f"unknown collection role {role!r}; known: {', '.join(ROLES)}")
        base = collection_base(kb) + (f"__{role}" if role else "")
        return cls(base, base + "__docs", base + "__meta", base + "__terms")

    def all(self) -> tuple[str, str, str, str]:
        return (self.chunks, self.docs, self.meta, self.terms)


def collection_base(kb: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", kb):
        raise ValueError(f"invalid knowledge base name {kb!r}")
    return PREFIX + "".join(_SPELL.get(ch, ch) for ch in kb)


def kb_name(collection: str) -> str | None:
    """The KB whose chunks collection this is, or None for any other collection."""
    if not collection.startswith(PREFIX):
        return None
    body = collection[len(PREFIX):]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "_":
            if i + 1 >= len(body) or body[i + 1] not in _UNSPELL:
                return None  # a side collection ('__docs', ...) or not ours
            out.append(_UNSPELL[body[i + 1]])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out) or None


# ---- BM25 text ------------------------------------------------------------------
_PLAIN = re.compile(r"[a-z0-9]+")


def spell_token(token: str) -> str:
    if _PLAIN.fullmatch(token):
        return token
    return "_" + token.encode("utf-8").hex()


def bm25_text(tokens: list[str]) -> str:
    """Our tokens as the text Milvus's BM25 analyser splits back into exactly these tokens."""
    return " ".join(spell_token(t) for t in tokens)


# ---- filter expressions ---------------------------------------------------------
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(value: str) -> str:
    """A Milvus string literal for any value (ids, paths, tag keys and values from users)."""
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in str(value)) + '"'


def is_in(field: str, values) -> str:
    values = list(values)
    if len(values) == 1:
        return f"{field} == {quote(values[0])}"
    return f"{field} in [{', '.join(quote(v) for v in values)}]"


def filter_expr(filters: Filters | None) -> str:
    """Any of the doc ids, any of the sources, all of the tags (indexer.types.Filters)."""
    if not filters:
        return ""
    parts = []
    if filters.doc_ids:
        parts.append(is_in("doc_id", filters.doc_ids))
    if filters.sources:
        parts.append(is_in("source", filters.sources))
    for key, value in filters.tags:
        parts.append(f"tags[{quote(key)}] == {quote(value)}")
    return " and ".join(f"({p})" for p in parts)


# ---- collections ----------------------------------------------------------------
def _side_schema(key: str, key_len: int, *fields) -> tuple:
    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field(key, DataType.VARCHAR, is_primary=True, max_length=key_len)
    for name, dtype, kw in fields:
        s.add_field(name, dtype, **kw)
    s.add_field("_v", DataType.FLOAT_VECTOR, dim=DUMMY_DIM)
    return s


def _dummy_index(client: MilvusClient):
    ip = client.prepare_index_params()
    ip.add_index("_v", index_type="FLAT", metric_type="IP")
    return ip


def create_side_collections(client: MilvusClient, names: Names) -> None:
    varchar = DataType.VARCHAR
    schemas = {
        names.meta: _side_schema("key", ID_MAX, ("value", varchar, {"max_length": VARCHAR_MAX})),
        names.docs: _side_schema("doc_id", ID_MAX,
                                 ("source", varchar, {"max_length": VARCHAR_MAX}),
                                 ("content_hash", varchar, {"max_length": ID_MAX}),
                                 ("size", DataType.INT64, {}),
                                 ("tags", DataType.JSON, {}),
                                 ("indexed_at", varchar, {"max_length": 64}),
                                 ("n_chunks", DataType.INT64, {})),
        names.terms: _side_schema("term", TERM_MAX),
    }
    for name, schema in schemas.items():
        create_collection(client, name, schema, _dummy_index(client))


def create_collection(client: MilvusClient, name: str, schema, index_params) -> None:
    """Create, index and load a collection. The indexes of an empty collection are built at once:
    not waiting for them spares a poll per index (and Milvus Lite's log of an unimplemented call)."""
    client.create_collection(name, schema=schema, consistency_level="Strong")
    client.create_index(name, index_params, sync=False)
    client.load_collection(name)


def chunk_schema(dim: int, analyzer: dict):
    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("row", DataType.INT64, is_primary=True)
    s.add_field("chunk_id", DataType.VARCHAR, max_length=ID_MAX)
    s.add_field("doc_id", DataType.VARCHAR, max_length=ID_MAX)
    s.add_field("source", DataType.VARCHAR, max_length=VARCHAR_MAX)
    s.add_field("ordinal", DataType.INT64)
    s.add_field("text", DataType.VARCHAR, max_length=VARCHAR_MAX)
    s.add_field("title", DataType.VARCHAR, max_length=VARCHAR_MAX)
    s.add_field("page", DataType.INT64, nullable=True)
    s.add_field(PAGE_BREAKS, DataType.VARCHAR, max_length=VARCHAR_MAX, nullable=True)
    s.add_field("tags", DataType.JSON)
    s.add_field("text_hash", DataType.VARCHAR, max_length=64)
    s.add_field("bm25_text", DataType.VARCHAR, max_length=VARCHAR_MAX, enable_analyzer=True,
                analyzer_params=analyzer)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["bm25_text"],
                            output_field_names=["sparse"]))
    return s


def chunk_index(client: MilvusClient, dense_kind: str, hnsw_m: int):
    ip = client.prepare_index_params()
    if dense_kind == "hnsw":
        ip.add_index("vector", index_type="HNSW", metric_type="IP", params={"M": hnsw_m, "efConstruction": 200})
    else:
        ip.add_index("vector", index_type="FLAT", metric_type="IP")
    ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                 params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
    return ip


def analyzer_for(server_version: str) -> dict:
    """'whitespace' where the server has it; Milvus Lite has only 'standard' and 'jieba'."""
    return ANALYZERS[1] if "lite" in server_version.lower() else ANALYZERS[0]
