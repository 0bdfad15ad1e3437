"""Background jobs: RQ on Redis when ``PAYLINKS_REDIS_URL`` is set, else inline.

Jobs take ids, never ORM objects, and are written to be run more than once:
each one re-reads the rows it works on and does nothing when the work is
already done. Only this module imports :mod:`rq`.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flask import Flask

from flask_paylinks.db.session import reset_session
from flask_paylinks.state import paylinks_state

log = logging.getLogger(__name__)

Job = Callable[..., Any]


class JobQueue:
    """Runs jobs on an RQ queue, or inline when there is no Redis.

    When Redis cannot be reached at enqueue time the job runs inline instead,
    so a Redis outage slows a request down but loses no work. An outage is
    logged once, when it starts, and once more when Redis is back.
    """

    def __init__(self, redis_url: str | None, queue_name: str = "paylinks") -> None:
        self.redis_url = redis_url
        self.queue_name = queue_name
        self._queue: Any = None
        self._outage = False

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> JobQueue:
        """The queue ``PAYLINKS_REDIS_URL`` and ``PAYLINKS_QUEUE_NAME`` describe."""
        return cls(config.get("PAYLINKS_REDIS_URL"), config["PAYLINKS_QUEUE_NAME"])

    @property
    def is_inline(self) -> bool:
        """True when jobs run in the calling process."""
        return not self.redis_url

    def connection(self) -> Any:
        """A Redis connection that fails fast instead of hanging when Redis is away."""
        from redis import Redis

        return Redis.from_url(
            self.redis_url or "", socket_connect_timeout=2, socket_timeout=30
        )

    def queue(self) -> Any:
        """The RQ queue jobs go to."""
        if self._queue is None:
            from rq import Queue
            from rq.serializers import JSONSerializer

            self._queue = Queue(
                self.queue_name,
                connection=self.connection(),
                serializer=JSONSerializer,
            )
        return self._queue

    def enqueue_many(
        self, job: Job, calls: Sequence[tuple[tuple[Any, ...], str]]
    ) -> None:
        """Queue ``job(*args)`` for each ``(args, job_id)`` in one round trip.

        Unlike :meth:`enqueue` this raises (``RedisError``) when Redis cannot
        take them: the caller keeps the work in the database and pauses.
        """
        from rq import Queue

        queue = self.queue()
        prepared = [
            Queue.prepare_data(job, args, job_id=job_id, failure_ttl=7 * 24 * 3600)
            for args, job_id in calls
        ]
        for start in range(0, len(prepared), 500):
            with queue.connection.pipeline() as pipe:
                queue.enqueue_many(prepared[start : start + 500], pipeline=pipe)
                pipe.execute()
        self.redis_up()

    def answers(self) -> bool:
        """Whether jobs can be queued now (always, when they run inline)."""
        if self.is_inline:
            return True
        from redis.exceptions import RedisError

        try:
            return bool(self.connection().ping())
        except RedisError:
            return False

    def waiting_job_ids(self) -> set[str]:
        """Ids of the jobs waiting in the queue (empty when inline).

        Running jobs are left out: a killed worker's job stays "started" in
        RQ for minutes, and what it held must not wait that long.
        Raises ``RedisError`` when Redis cannot be asked.
        """
        if self.is_inline:
            return set()
        return set(self.queue().get_job_ids())

    def enqueue(self, job: Job, *args: Any, job_id: str | None = None) -> None:
        """Run ``job(*args)`` in the worker, or now when jobs are inline.

        Never raises: the caller has committed what caused the job (a
        payment went through), and a job's failure must not turn that into
        an error. RQ does not retry a failed job: the outbox does.
        """
        if self.is_inline:
            run_guarded(job, *args)
            return
        from redis.exceptions import RedisError

        try:
            self.queue().enqueue(job, *args, job_id=job_id, failure_ttl=7 * 24 * 3600)
        except RedisError as error:
            self.redis_down(error)
            run_guarded(job, *args)
        else:
            self.redis_up()

    def redis_down(self, error: BaseException) -> None:
        """Note that Redis is away: logged when the outage starts, not every time."""
        if not self._outage:
            log.error("Redis is unreachable (%s); jobs run in this process", error)
        self._outage = True

    def redis_up(self) -> None:
        """Note that Redis answers again."""
        if self._outage:
            log.warning("Redis is reachable again")
        self._outage = False


def run_guarded(job: Job, *args: Any) -> bool:
    """Run *job* in this process; log and roll back when it fails. True if it ran."""
    try:
        job(*args)
    except Exception:
        log.exception("job %s%r failed; it will be retried", job.__name__, args)
        reset_session()
        return False
    return True


def run_worker(app: Flask, *, burst: bool = False) -> bool:
    """Work the app's queue until stopped (or, with *burst*, until it is empty).

    Jobs run in this process (RQ's ``SimpleWorker``), each in a fresh app
    context: no fork and no new database connection per job. Every
    ``PAYLINKS_SWEEP_SECONDS`` the worker runs the outbox's sweeper. When
    Redis goes away the worker does not exit: it logs the outage once, keeps
    sweeping (running due follow-ups itself, from the database), and
    reconnects with back-off.
    """
    from redis.exceptions import RedisError
    from rq.serializers import JSONSerializer

    jobs: JobQueue = paylinks_state(app).jobs
    every = int(app.config["PAYLINKS_SWEEP_SECONDS"])
    stop = _StopFlag()
    worker_class = _worker_class(app, stop)

    worked = False
    wait = 0.5
    while not stop.requested:
        try:
            # Making the worker talks to Redis already (CLIENT SETNAME).
            worker = worker_class(
                [jobs.queue()],
                connection=jobs.connection(),
                serializer=JSONSerializer,
                maintenance_interval=every,
                # Idle, the worker wakes every `every` seconds to sweep.
                worker_ttl=every + 15,
            )
            worked = bool(worker.work(burst=burst, with_scheduler=False)) or worked
            if burst or stop.requested or worker._stop_requested:
                break
            # RQ's loop ends, without raising, on an error it does not handle.
            raise _WorkerLost()
        except (RedisError, _WorkerLost) as error:
            # Between RQ's loops the signals are ours: stop after this round.
            signal.signal(signal.SIGTERM, stop.note)
            signal.signal(signal.SIGINT, stop.note)
            jobs.redis_down(error)
            sweep_guarded(app)
            time.sleep(wait)
            wait = min(wait * 2, 5.0)
            if _redis_answers(jobs):
                jobs.redis_up()
                wait = 0.5
            if burst:
                break
    return worked


class _StopFlag:
    """Whether the worker was asked to stop, by RQ's handler or by ours."""

    requested = False

    def note(self, signum: Any = None, frame: Any = None) -> None:
        """A signal handler: stop after this round."""
        self.requested = True


def _worker_class(app: Flask, stop: _StopFlag) -> type[Any]:
    """An RQ ``SimpleWorker`` that runs each job in *app*'s context, and sweeps."""
    from rq import SimpleWorker

    class AppWorker(SimpleWorker):
        """An RQ worker that runs each job in the app context, and sweeps."""

        #: Back off at most 5 s between reconnections (RQ's default is 60 s).
        max_connection_wait_time = 5.0

        def request_stop(self, signum: Any, frame: Any) -> None:
            # Idle, RQ stops by raising without noting it: note it here.
            stop.note()
            super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

        def perform_job(self, *args: Any, **kwargs: Any) -> bool:
            with app.app_context():
                return bool(super().perform_job(*args, **kwargs))

        def run_maintenance_tasks(self) -> None:
            # The sweep first: it needs only the database, so it goes on
            # (running due follow-ups here) while Redis is away.
            sweep_guarded(app)
            super().run_maintenance_tasks()  # type: ignore[no-untyped-call]

    return AppWorker


class _WorkerLost(Exception):
    """RQ's work loop stopped without being asked to."""


def _redis_answers(jobs: JobQueue) -> bool:
    from redis.exceptions import RedisError

    try:
        return bool(jobs.connection().ping())
    except RedisError:
        return False


#: Run after every sweep of the worker (each task decides when it is due).
_periodic: list[Callable[[], Any]] = []


def register_periodic(task: Callable[[], Any]) -> None:
    """Have the worker call *task* after every sweep, in the app's context."""
    if task not in _periodic:
        _periodic.append(task)


def sweep_guarded(app: Flask) -> None:
    """Run the outbox's sweeper, then the periodic tasks, in *app*'s context.

    Logs, never raises: one that fails runs again next time.
    """
    from rq.exceptions import StopRequested

    from flask_paylinks.jobs.outbox import sweep

    with app.app_context():
        for task in _periodic:
            try:
                task()
            except StopRequested:
                raise
            except Exception:
                log.exception("periodic task %s failed; it runs again", task)
                reset_session()
        try:
            result = sweep()
        except StopRequested:
            raise  # SIGTERM while sweeping: RQ's way of stopping the worker
        except Exception:
            log.exception("the sweeper failed; it runs again shortly")
            reset_session()
            return
    if result.dispatched or result.abandoned:
        log.info(
            "sweeper: %s follow-ups handed out again, %s stale payments abandoned",
            result.dispatched,
            result.abandoned,
        )


def run_outbox_item(item_id: int) -> bool:
    """The job that runs one outbox item (:func:`~flask_paylinks.jobs.outbox.run`)."""
    from flask_paylinks.jobs.outbox import run

    return run(item_id)
