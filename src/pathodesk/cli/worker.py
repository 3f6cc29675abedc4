"""``pathodesk worker`` (API.md; issue 19): a Celery worker that runs PathoDesk's jobs on this
machine, for deployments with ``PATHODESK_JOB_BACKEND=celery`` and a broker. Start as many
as the machines allow; one started with ``--queues interactive`` is capacity reserved for
the work a viewer waits for (SPEC E7)."""

from __future__ import annotations

import argparse
import os
import socket

from pathodesk.cli.common import AddCommand, open_database, settings_of
from pathodesk.cli.language import _
from pathodesk.errors import ValidationFailedError
from pathodesk.jobs.celery_backend import QUEUES


def cmd_worker(args: argparse.Namespace) -> int:
    from pathodesk.analysis.inference import share_cores
    from pathodesk.jobs.celery_backend import worker_app
    from pathodesk.lifecycle.kinds import all_job_kinds

    queues = [name.strip() for name in args.queues.split(",") if name.strip()]
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown or not queues:
        raise ValidationFailedError(
            "unknown queue(s) %(queue)s: choose from %(value)s",
            queue=", ".join(unknown) or "-",
            value=", ".join(QUEUES),
        )
    settings = settings_of(args)
    if not settings.broker_url:
        raise ValidationFailedError("set PATHODESK_BROKER_URL (e.g. redis://host:6379/0) to run a worker")
    share_cores(args.concurrency)
    app = worker_app(settings, open_database(settings), all_job_kinds(), queues)
    app.worker_main(
        [
            "worker",
            "--queues",
            ",".join(queues),
            "--concurrency",
            str(args.concurrency),
            "--pool",
            "threads",  # one process: jobs release the GIL in NumPy and PyTorch; a kill stops them all
            "--hostname",
            f"pathodesk-{os.getpid()}@{socket.gethostname()}",
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ]
    )
    return 0


def register(add: AddCommand) -> None:
    command = add("worker", _("run jobs from the broker (PATHODESK_JOB_BACKEND=celery)"))
    command.add_argument(
        "--queues", default=",".join(QUEUES), help=_("comma-separated: interactive,analysis,storage")
    )
    command.add_argument(
        "--concurrency", type=int, default=1, help=_("jobs at once in this process (they share its cores)")
    )
    command.set_defaults(handler=cmd_worker)
