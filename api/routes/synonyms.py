"""A KB's synonyms (rag.synonyms): the words its readers use for what its documents call otherwise."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Principal
from api.deps import allow, principal, service
from api.errors import ApiError
from api.schemas import API_ERRORS, error_responses
from api.service import Service
from indexer.kbs import KBNotFound
from indexer.store.base import KBLockedError
from rag.synonyms.kb import save_synonyms, stored_synonyms
from rag.synonyms.rules import MAX_BYTES, SynonymError, Synonyms, parse

router = APIRouter(prefix="/v1", tags=["knowledge bases and keys"], responses=API_ERRORS)


class SynonymRule(BaseModel):
    terms: list[str] = Field(..., description="what a question may say")
    means: list[str] = Field(..., description="what it then also means; the same as `terms` for a two-way rule")


class SynonymsIn(BaseModel):
    text: str = Field(..., max_length=MAX_BYTES, description="one rule a line: `挂号费, 诊查费` (two-way) or "
                      "`ATM card => debit card` (one-way); `#` after a space or at the start of a line starts a "
                      "comment. An empty text removes them")


class SynonymsOut(BaseModel):
    kb: str
    rules: list[SynonymRule]
    text: str = Field(..., description="the rules as a list to edit and send back")


def _out(kb: str, synonyms: Synonyms) -> SynonymsOut:
    return SynonymsOut(kb=kb, rules=[SynonymRule(**d) for d in synonyms.as_dicts()],
                       text=synonyms.text())


@router.get("/kbs/{kb}/synonyms", response_model=SynonymsOut, summary="A knowledge base's synonyms")
async def get_synonyms(kb: str, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "read")

    def read() -> Synonyms:
        store = svc.manager.open(kb)
        try:
            return stored_synonyms(store)
        finally:
            store.close()
    return _out(kb, await run_in_threadpool(read))


@router.put("/kbs/{kb}/synonyms", response_model=SynonymsOut, responses=error_responses(409),
            summary="Replace a knowledge base's synonyms: every question also searches what its terms mean")
async def put_synonyms(kb: str, body: SynonymsIn, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "write")
    try:
        synonyms = parse(body.text)
    except SynonymError as e:
        raise ApiError(422, "bad_synonyms", f"{e}; the KB's synonyms are unchanged") from e

    def write() -> None:
        # under the KB's settings lock, not its writer lock: an indexing run in progress does not hold it up
        try:
            save_synonyms(svc.manager, kb, synonyms)
        except KBLockedError as e:
            raise ApiError(409, "kb_busy", f"{e}; the KB's synonyms are unchanged", {"Retry-After": "10"}) from e
        except KBNotFound as e:
            raise ApiError(404, "kb_not_found", str(e)) from e
    await run_in_threadpool(write)
    return _out(kb, synonyms)


@router.delete("/kbs/{kb}/synonyms", status_code=204, responses=error_responses(409),
               summary="Remove a knowledge base's synonyms")
async def delete_synonyms(kb: str, who: Principal = Depends(principal), svc: Service = Depends(service)):
    await put_synonyms(kb, SynonymsIn(text=""), who, svc)
