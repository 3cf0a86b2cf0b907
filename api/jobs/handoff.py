"""A written job handed to the workers (the queue). The job is in the state database before the queue is asked, so a
worker never takes an entry whose job is not there yet; a queue that refuses it (Redis away) has the job removed
again, and the client is told nothing was kept. Where that removal fails too (the database away as well), the client
must not be told so: the job may still be in the database, and it is then run once the queue takes it again
(api.jobs.streams.StreamQueue.requeue_unqueued), not left queued for ever. JobNotWithdrawn says which job, and both
errors."""
from __future__ import annotations

import logging

from api.jobs.base import JobQueue
from api.state.base import Database

log = logging.getLogger("api.jobs")
WITHDRAW_TRIES = 2  # the second on a new connection: the first may have been one a database restart ended


class JobNotWithdrawn(RuntimeError):
    """The queue refused job `job_id` and the database could not be reached to remove it: it may be kept and run."""

    def __init__(self, job_id: str, refused: BaseException, withdraw: BaseException):
        self.job_id, self.refused, self.withdraw = job_id, refused, withdraw
        super().__init__(
            f"the job queue (Redis) refused job {job_id} ({_first_line(refused)}) and the state database (PostgreSQL) "
            f"could not be reached to withdraw it ({_first_line(withdraw)}): the job may have been kept, and then "
            f"runs once both are back. GET /v1/jobs/{job_id} tells whether it was (404: it was not; send it again); "
            "do not send it again before")


def hand_over(db: Database, queue: JobQueue, job_id: str, kb: str) -> None:
    """Queue the written job `job_id`; if the queue refuses it, remove the job and raise the queue's error, or
    JobNotWithdrawn where the removal failed too."""
    try:
        queue.submit(job_id, kb)
    except Exception as refused:
        for attempt in range(1, WITHDRAW_TRIES + 1):
            try:
                db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
                break
            except Exception as e:
                if attempt == WITHDRAW_TRIES:
                    log.warning("job %s: the queue refused it and it could not be withdrawn (%s); it runs once the "
                                "queue is back, if the database kept it", job_id, _first_line(e))
                    raise JobNotWithdrawn(job_id, refused, e) from e
        raise


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
