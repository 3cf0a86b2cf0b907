"""Request and response bodies of the HTTP API (these are what the OpenAPI schema shows)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.auth import KeyInfo as StoredKey
from api.jobs.importing import ImportProgress, KBImported
from indexer.kbs import NAME_PATTERN, NAME_RULE
from indexer.types import Filters
from rag.config import RetrievalMode
from rag.types import Hit


class ErrorDetail(BaseModel):
    code: str = Field(..., description="stable, machine-readable: 'kb_not_found', 'question_too_long', ...")
    message: str = Field(..., description="what went wrong and what to do, for people")
    details: list[dict] | None = Field(None, description="422 for a body that does not match the schema: each "
                                                         "invalid field's loc, msg and type; for a filters doc id "
                                                         "or source that names no document of the KB, type "
                                                         "unknown_doc_id or unknown_source, a source's with "
                                                         "`alike`, the KB's sources it may have meant")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx body (api/errors.py)."""
    error: ErrorDetail
    request_id: str = Field(..., description="also in the X-Request-ID header; finds the request in the log")


ERROR_STATUS = {400: "malformed body (multipart that cannot be read)", 401: "missing, unknown or revoked API key",
                403: "the key may not do this (on this KB)", 404: "no such KB, document, job, key or answer",
                408: "the upload stalled or took too long", 409: "conflict: the KB exists, or is being indexed "
                "(Retry-After)", 413: "too large: a file, the whole upload, or the body", 415: "a file type "
                "that is not supported, or a name that does not match the content", 422: "invalid input: a "
                "body that does not match the schema, a question too long, an unsupported parameter, a filter "
                "naming no document of the KB",
                429: "rate limited (Retry-After)", 502: "the generator failed", 503: "busy: the generation queue "
                "is full, the upload could not be queued, or a server the service depends on (PostgreSQL, Milvus) "
                "is away: error.dependency names it (Retry-After)", 507: "the server's disk is full or read-only: "
                "the upload was not kept"}


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI `responses` for these statuses, all with the ErrorBody shape they really have."""
    return {s: {"model": ErrorBody, "description": ERROR_STATUS[s]} for s in statuses}


# every keyed /v1 route can answer these (422 replaces FastAPI's own validation-error schema, which our
# handler never sends)
API_ERRORS = error_responses(401, 403, 404, 422, 429)


class KBCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=64, pattern=NAME_PATTERN, description=NAME_RULE,
                      examples=["bank-faq"])
    embed_model: str | None = Field(None, description="embedding model for the new KB (default: the service's): "
                                                      "'e5', 'minilm', 'e5+minilm' (or their aliases), or the name "
                                                      "of a model folder under the service's models directory "
                                                      "(RAG_MODELS_DIR); anything else is 422")


class KBInfo(BaseModel):
    name: str
    documents: int
    embed_model: str
    context_window: int = Field(0, description="neighbouring chunks mixed into each chunk's vector, fixed at creation")


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kb: str | None = Field(..., description="the KB the key is for; null = every KB (admin scope only)")
    scope: Literal["read", "write", "admin"]
    label: str = Field("", max_length=200)


KeyInfo = StoredKey  # the key store's own record (api/auth.py) is the response schema


@dataclass(frozen=True)
class KeyCreated(StoredKey):
    key: str = ""  # the secret; shown only this once


class DocumentOut(BaseModel):
    doc_id: str
    source: str
    chunks: int
    size: int
    indexed_at: str
    tags: dict[str, str]


class JobAccepted(BaseModel):
    job_id: str
    status: str
    files: list[str]


class JobFileOut(BaseModel):
    filename: str
    status: Literal["pending", "indexed", "updated", "unchanged", "imported", "failed"]
    size: int
    doc_id: str
    chunks: int
    reason: str


class JobOut(BaseModel):
    job_id: str
    kb: str
    status: Literal["queued", "running", "done", "failed"]
    created_at: str
    started_at: str | None
    finished_at: str | None
    attempts: int
    error: str
    files: list[JobFileOut]
    counts: dict[str, int]
    kind: Literal["upload", "import", "reparse"] = Field(
        description="upload: files indexed into the KB; import: an archive restored as the KB (POST /v1/kbs/import); "
                    "reparse: uploaded documents read again from their kept files (POST /v1/kbs/{kb}/reparse)")
    progress: ImportProgress | None = Field(None, description="an import's stage and how far it is")
    result: KBImported | None = Field(None, description="an import that is done: what it made")
    error_code: str = Field("", description="a failed import: invalid_archive | kb_exists (`error` says why)")


class FiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    doc_ids: list[str] = Field([], description="only these documents (ids as GET /v1/kbs/{kb}/documents lists "
                               "them); an id of no document of the KB is 422")
    sources: list[str] = Field([], description="only these documents, by source as GET /v1/kbs/{kb}/documents "
                               "lists it (the path as indexed, or an upload's file name; './docs/a.md' and an "
                               "absolute path name the document indexed as docs/a.md); a source of no document "
                               "of the KB is 422, with the sources it may have meant")
    tags: dict[str, str] = {}


def filters_of(f: FiltersIn | None) -> Filters | None:
    """A request's `filters` as the retriever takes them (the search, query, WebSocket and OpenAI routes)."""
    return Filters.make(f.doc_ids, f.sources, f.tags) if f else None


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(..., min_length=1, max_length=2000)
    k: int = Field(10, ge=1, le=100)
    mode: RetrievalMode | None = None
    filters: FiltersIn | None = None


HitOut = Hit  # the pipeline's own dataclass (rag/types.py) is the response schema

UNTRUSTED_TEXT = ("Passages (`text`, `source`, `title`, tags) are the indexed documents' own text and markup, "
                  "as uploaded: untrusted content. Clients must escape it (render it as text, never as HTML).")


class Message(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str = Field(..., max_length=20000)


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(..., min_length=1)
    history: list[Message] = Field([], max_length=50)
    stream: bool = False
    filters: FiltersIn | None = None
    user: str | None = Field(None, max_length=200, description="the end user asking (an opaque id): experiment "
                                                               "arms are assigned per user (default: the key)")


class CitationOut(BaseModel):
    n: int
    doc_id: str
    chunk_id: str
    source: str
    quote: str
    supported: bool
    passage: int = 0
    score: float = 0.0
    title: str = ""
    page: int | None = Field(None, description="the page (PDF page, PPTX slide, TIFF frame) the quote is on; its "
                                               "first page when a page break cuts it; null for a file without pages")
    page_end: int | None = Field(None, description="the page the quote ends on: the same as `page` for a quote on "
                                                   "one page (p. 3), the next for one a page break cuts (p. 3–4)")
    sentence: str = ""
    reason: str = Field("", description="in `dropped`: why the cited passage does not back the sentence (a number, "
                                        "time, amount, negation or name that disagrees)")
    outcome: str = Field("", description="in `dropped`: 'removed' (taken out of the answer), 'uncited' (kept "
                                         "without a citation) or 'kept' (another passage backs it)")


class AnswerOut(BaseModel):
    answer: str
    citations: list[CitationOut]
    refused: bool
    timings: dict[str, float]
    passages: list[HitOut] = Field(..., description="the passages the answer was drawn from. " + UNTRUSTED_TEXT)
    dropped: list[CitationOut] = []
    fallback: str = Field("", description="'extractive' when the generator's answer had no support in the passages "
                                          "and the answer quotes the best-matching passage instead; "
                                          "'unsupported' when no passage matched either and the answer is "
                                          "the refusal; 'generator_failed' when the generator failed (a remote "
                                          "endpoint down or timing out) and the answer quotes the passages")
    fallback_reason: str = Field("", description="why the generator's answer was replaced, e.g. 'the generated "
                                                 "answer gives no amount, where the passages do', or why an "
                                                 "answer was refused after passages on the subject were found: "
                                                 "'the closest sentence of the passages does not match the "
                                                 "question', 'the passages give no amount for it' (or no phone "
                                                 "number), 'the quoted passage does not mention what the question "
                                                 "asks about', 'no sentence of the passages found shares a word "
                                                 "with the question'")
    mode: str = Field("generate", description="'generate': written by the generator; 'extract': no generator, "
                                              "the answer quotes the passages ([answer] mode; the default "
                                              "with the bundled model, in both languages); 'refuse': "
                                              "refused before generation (weak evidence or a blocked question)")
    cached: bool = False
    blocked: str | None = Field(None, description="input-guard category when the question was not answered")
    answer_id: str = Field("", description="identifies the answer: rate it with POST /v1/feedback")
    experiment: str | None = Field(None, description="the experiment the answer was part of, if any")
    arm: str | None = Field(None, description="the experiment arm that produced it")


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer_id: str = Field(..., min_length=1, max_length=64)
    rating: Literal["up", "down"]
    comment: str = Field("", max_length=4000)
    correction: str = Field("", max_length=20000, description="what the answer should have said")


class FeedbackOut(BaseModel):
    answer_id: str
    rating: str
    comment: str
    correction: str
    created_at: str


class ArmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    share: float = Field(..., gt=0, description="traffic share (normalised over the arms)")
    overrides: dict[str, dict] = Field({}, description="{section: {field: value}} over retrieval, rerank, "
                                                       "generation, answer")


class ExperimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    arms: list[ArmIn] = Field(..., min_length=2)


class WsTicketRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kb: str = Field(..., min_length=1, max_length=64, description="the knowledge base whose WebSocket it opens")


class WsTicketOut(BaseModel):
    ticket: str = Field(..., description="pass as ?ticket= (or the subprotocol rag.ticket.TICKET) when opening "
                                         "/v1/kbs/{kb}/ws; single use")
    kb: str
    expires_in: int = Field(..., description="seconds the ticket stays valid")


class ContentPart(BaseModel):
    """One part of an OpenAI message's content list: `text` parts are read, others (images, ...) ignored."""
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = Field(None, description="the text of a `text` part (a string; anything else is 422)")


class ModelOut(BaseModel):
    """A knowledge base as an OpenAI model (GET /v1/models): `id` is the KB name, the `model` of chat completions."""
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "rag"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]
