"""Background jobs: RQ on Redis when ``PAYLINKS_REDIS_URL`` is set, else inline.

Jobs take ids, never ORM objects, and are written to be run more than once:
each one re-reads the rows it works on and does nothing when the work is
already done. Only this module imports :mod:`rq`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, current_app

log = logging.getLogger(__name__)

Job = Callable[..., Any]


class JobQueue:
    """Runs jobs on an RQ queue, or inline when there is no Redis.

    When Redis cannot be reached at enqueue time the job runs inline instead,
    so a Redis outage slows a request down but loses no work.
    """

    def __init__(self, redis_url: str | None, queue_name: str = "paylinks") -> None:
        self.redis_url = redis_url
        self.queue_name = queue_name
        self._queue: Any = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> JobQueue:
        """The queue ``PAYLINKS_REDIS_URL`` and ``PAYLINKS_QUEUE_NAME`` describe."""
        return cls(config.get("PAYLINKS_REDIS_URL"), config["PAYLINKS_QUEUE_NAME"])

    @property
    def is_inline(self) -> bool:
        """True when jobs run in the calling process."""
        return not self.redis_url

    def connection(self) -> Any:
        """The Redis connection (created on first use)."""
        from redis import Redis

        return Redis.from_url(self.redis_url or "")

    def queue(self) -> Any:
        """The RQ queue jobs go to."""
        if self._queue is None:
            from rq import Queue

            self._queue = Queue(self.queue_name, connection=self.connection())
        return self._queue

    def enqueue(self, job: Job, *args: Any, job_id: str | None = None) -> None:
        """Run ``job(*args)`` in the worker, or now when jobs are inline.

        Never raises: the caller has committed what caused the job (a
        payment went through), and a job's failure must not turn that into
        an error. A job run inline that fails is logged and left for
        ``flask paylinks reconcile`` to run again.
        """
        if self.is_inline:
            run_guarded(job, *args)
            return
        from redis.exceptions import RedisError
        from rq import Retry

        try:
            self.queue().enqueue(
                job,
                *args,
                job_id=job_id,
                retry=Retry(max=3, interval=[10, 60, 300]),
                failure_ttl=7 * 24 * 3600,
            )
        except RedisError:
            log.exception("Redis is unreachable; running %s inline", job.__name__)
            run_guarded(job, *args)


def run_guarded(job: Job, *args: Any) -> bool:
    """Run *job* in this process; log and roll back when it fails. True if it ran."""
    try:
        job(*args)
    except Exception:
        log.exception("job %s%r failed; it will be retried", job.__name__, args)
        db = current_app.extensions["paylinks"].db
        db.session.rollback()
        return False
    return True


def run_worker(app: Flask, *, burst: bool = False) -> bool:
    """Work the app's queue until stopped (or, with *burst*, until it is empty).

    Jobs run in this process (RQ's ``SimpleWorker``), each in a fresh app
    context: no fork and no new database connection per job, so the
    engine's pool is reused from one job to the next.
    """
    from rq import SimpleWorker

    jobs: JobQueue = app.extensions["paylinks"].jobs

    class AppWorker(SimpleWorker):
        """An RQ worker that runs each job inside the Flask app context."""

        def perform_job(self, *args: Any, **kwargs: Any) -> bool:
            with app.app_context():
                return bool(super().perform_job(*args, **kwargs))

    worker = AppWorker([jobs.queue()], connection=jobs.connection())
    return bool(worker.work(burst=burst, with_scheduler=True))


def payment_followup(payment_id: int) -> bool:
    """After a payment succeeded: upsert the contact, link it, send the signal.

    Safe to run more than once (see
    :func:`flask_paylinks.payments.follow_up_success`).
    """
    from .payments import follow_up_success

    return follow_up_success(payment_id)


def current_jobs() -> JobQueue:
    """The job queue of the current app."""
    jobs: JobQueue = current_app.extensions["paylinks"].jobs
    return jobs


def payment_receipt(payment_id: int) -> bool:
    """Email the customer the receipt of a succeeded payment, once.

    See :func:`flask_paylinks.receipts.send_receipt`.
    """
    from .receipts import send_receipt

    return send_receipt(payment_id)
