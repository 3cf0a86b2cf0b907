"""Knowledge bases and API keys."""
from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from api.audit.http import note
from api.auth import Principal
from api.deps import allow, principal, require_admin, service
from api.errors import ApiError
from api.schemas import API_ERRORS, KBCreate, KBInfo, KeyCreate, KeyCreated, KeyInfo, error_responses
from api.service import Service
from indexer.embed.factory import MODEL_NAMES  # the names make_encoder knows (ensembles: see embed_model_of)

router = APIRouter(prefix="/v1", tags=["knowledge bases and keys"], responses=API_ERRORS)




def embed_model_of(svc: Service, model: str | None) -> str | None:
    """The embedding model a new KB may use: a built-in name, an ensemble of built-in members
    ('e5+minilm'), or a model folder under the models directory (RAG_MODELS_DIR; returned as its
    path). Nothing else (paths elsewhere, URLs, hub names): 422."""
    if model is None or model in MODEL_NAMES:
        return model
    if "+" in model:
        from indexer.embed.ensemble import SCALES, member_names

        names = member_names(model)
        if len(names) >= 2 and len(set(names)) == len(names) and all(n in SCALES for n in names):
            return model
    base = svc.svc.models_dir
    if base is not None and model.strip() and "://" not in model and "\\" not in model:
        root = Path(os.path.abspath(base))
        rel = Path(model)
        folder = Path(os.path.abspath(rel if rel.is_absolute() else root / rel))  # lexically: no '..' escapes
        if ".." not in rel.parts and folder != root and folder.is_relative_to(root) and folder.is_dir():
            return str(folder)
    where = (" or a model folder under the models directory" if base is not None else
             "; a model folder (e.g. from `rag tune embedder`) may be named once the service's RAG_MODELS_DIR "
             "names the folder that holds it")
    raise ApiError(422, "invalid_embed_model", f"embed_model must be one of {', '.join(MODEL_NAMES)} or "
                   f"'e5+minilm'{where}")


def _info(svc: Service, name: str) -> KBInfo:
    store = svc.manager.open(name)
    try:
        return KBInfo(name=name, documents=len(store.documents()), embed_model=store.embed_model,
                      context_window=store.context_window)
    finally:
        store.close()


@router.get("/kbs", response_model=list[KBInfo], summary="Knowledge bases this key may see")
def list_kbs(who: Principal = Depends(principal), svc: Service = Depends(service)):
    return [_info(svc, n) for n in who.visible(svc.manager.names())]


@router.post("/kbs", response_model=KBInfo, status_code=201, responses=error_responses(409), summary="Create a knowledge base (admin)")
async def create_kb(body: KBCreate, request: Request, who: Principal = Depends(principal),
                    svc: Service = Depends(service)):
    note(request, kb=body.name, embed_model=body.embed_model or "")
    require_admin(who)
    if svc.manager.exists(body.name):
        raise ApiError(409, "kb_exists", f"knowledge base {body.name!r} already exists")
    model = embed_model_of(svc, body.embed_model)

    def create():
        svc.manager.create(body.name, model).close()
        return _info(svc, body.name)
    try:
        return await run_in_threadpool(create)
    except FileExistsError as e:  # made meanwhile (an import, an upload, another create): not created by this request
        raise ApiError(409, "kb_exists", f"knowledge base {body.name!r} already exists") from e
    except (ValueError, KeyError) as e:
        raise ApiError(422, "invalid_request", str(e)) from e
    except OSError as e:
        if model is None or not os.path.isabs(model):
            raise
        # a folder under the models directory that holds no loadable model
        raise ApiError(422, "invalid_embed_model", f"no embedding model could be loaded from {model}: {e}") from e


@router.get("/kbs/{kb}", response_model=KBInfo, summary="One knowledge base")
def get_kb(kb: str, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "read")
    return _info(svc, kb)


@router.delete("/kbs/{kb}", status_code=204, summary="Delete a knowledge base with its documents, keys, chat channels, jobs, answers and votes, experiments and settings (admin)")
async def delete_kb(kb: str, who: Principal = Depends(principal), svc: Service = Depends(service)):
    require_admin(who)
    allow(svc, who, kb, "admin")
    await run_in_threadpool(svc.delete_kb, kb)


@router.post("/keys", response_model=KeyCreated, status_code=201,
             summary="Create an API key for one KB (or for all, admin scope)")
def create_key(body: KeyCreate, request: Request, who: Principal = Depends(principal),
               svc: Service = Depends(service)):
    note(request, kb=body.kb or "", scope=body.scope, label=body.label)
    if body.kb is None:
        require_admin(who)
        if body.scope != "admin":
            raise ApiError(422, "invalid_request", "a key for every KB must have scope 'admin'; give 'kb' otherwise")
    else:
        allow(svc, who, body.kb, "admin")
    key, info = svc.keys.create(body.kb, body.scope, body.label)
    note(request, target=info.id)
    return KeyCreated(**info.__dict__, key=key)


@router.get("/keys", response_model=list[KeyInfo], summary="Keys (without secrets) this key administers")
def list_keys(who: Principal = Depends(principal), svc: Service = Depends(service)):
    if who.is_global_admin:
        return svc.keys.list()
    if who.scope != "admin":
        raise ApiError(403, "forbidden", "listing keys needs an admin key")
    return svc.keys.list(who.kb)


@router.delete("/keys/{key_id}", status_code=204, summary="Revoke a key")
def revoke_key(key_id: str, request: Request, who: Principal = Depends(principal), svc: Service = Depends(service)):
    info = svc.keys.get(key_id)
    if info is not None:
        note(request, kb=info.kb or "")
    if info is None:
        if not who.is_global_admin:
            raise ApiError(403, "forbidden", "this key may not revoke that key")
        raise ApiError(404, "key_not_found", f"no key {key_id!r}")
    if info.kb is None:
        require_admin(who)
    else:
        allow(svc, who, info.kb, "admin", must_exist=False)
    svc.keys.revoke(key_id)
