"""A/B experiments on a KB's answer settings (admin on the KB): create, list, report, stop, promote an
arm to the KB's settings, roll the KB's settings back."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.audit.http import note
from api.auth import Principal
from api.deps import allow, principal, service
from api.errors import ApiError
from api.experiments import Conflict, ExperimentError, NotFound, make_experiment
from api.experiments.report import build_report
from api.schemas import API_ERRORS, ExperimentIn
from api.service import Service

router = APIRouter(prefix="/v1", tags=["experiments"], responses=API_ERRORS)


class PromoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    arm: str = Field(..., min_length=1, max_length=64)


def _errors(fn, *args):
    try:
        return fn(*args)
    except Conflict as e:
        raise ApiError(409, "conflict", str(e)) from e
    except ExperimentError as e:
        raise ApiError(422, "invalid_experiment", str(e)) from e
    except NotFound as e:
        raise ApiError(404, "experiment_not_found", str(e)) from e


def _mine(svc: Service, kb: str, name: str):
    exp = _errors(svc.experiments.get, name)
    if exp.kb != kb:
        raise ApiError(404, "experiment_not_found", f"no experiment named {name!r}")
    return exp


@router.post("/kbs/{kb}/experiments", status_code=201, summary="Start an experiment (arms with shares and "
             "setting overrides; one active experiment per KB)")
async def create(kb: str, body: ExperimentIn, request: Request, who: Principal = Depends(principal),
                 svc: Service = Depends(service)):
    note(request, target=body.name, arms=[a.name for a in body.arms])
    allow(svc, who, kb, "admin")

    def run():
        exp = _errors(make_experiment, body.name, kb, [a.model_dump() for a in body.arms], svc.settings)
        return _errors(svc.experiments.create, exp, who.key_id).to_dict()
    return await run_in_threadpool(run)


@router.get("/kbs/{kb}/experiments", summary="The KB's experiments, active and ended")
async def list_experiments(kb: str, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "admin")
    return [e.to_dict() for e in await run_in_threadpool(svc.experiments.list, kb)]


@router.get("/kbs/{kb}/experiments/{name}/report", summary="Per-arm rates, intervals and tests")
async def report(kb: str, name: str, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "admin")

    def run():
        exp = _mine(svc, kb, name)
        return build_report(name, [a.name for a in exp.arms], svc.feedback.experiment_rows(name))
    return await run_in_threadpool(run)


@router.delete("/kbs/{kb}/experiments/{name}", summary="Stop an experiment (its answers and votes stay)")
async def stop(kb: str, name: str, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "admin")

    def run():
        _mine(svc, kb, name)
        return svc.experiments.stop(name).to_dict()
    return await run_in_threadpool(run)


@router.post("/kbs/{kb}/experiments/{name}/promote", summary="Make an arm's overrides the KB's settings and end "
             "the experiment")
async def promote(kb: str, name: str, body: PromoteIn, request: Request, who: Principal = Depends(principal),
                  svc: Service = Depends(service)):
    note(request, arm=body.arm)
    allow(svc, who, kb, "admin")

    def run():
        _mine(svc, kb, name)
        return _errors(svc.experiments.promote, name, body.arm, who.key_id)
    return await run_in_threadpool(run)


@router.post("/kbs/{kb}/settings/rollback", summary="Restore the KB's settings from before its latest promotion")
async def rollback(kb: str, who: Principal = Depends(principal), svc: Service = Depends(service)):
    allow(svc, who, kb, "admin")
    return await run_in_threadpool(_errors, svc.experiments.rollback, kb, who.key_id)
