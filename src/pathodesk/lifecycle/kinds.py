"""Every job kind the workers run: the analyses', the storage life cycle's and QC's."""

from __future__ import annotations

from pathodesk.analysis.kinds import job_kinds
from pathodesk.jobs.kinds import JobKind
from pathodesk.lifecycle.backups import BACKUP_JOB, run_backup_job
from pathodesk.lifecycle.distribute import DISTRIBUTE_JOB, run_distribution
from pathodesk.lifecycle.qc_recheck import QC_RECHECK_JOB, run_qc_recheck
from pathodesk.lifecycle.schedule import SCRUB_JOB, STORAGE_JOB, run_scrub_job, run_storage_job


def all_job_kinds() -> list[JobKind]:
    return [
        *job_kinds(),
        JobKind(STORAGE_JOB, run_storage_job, queue="storage"),
        JobKind(SCRUB_JOB, run_scrub_job, queue="storage"),
        JobKind(DISTRIBUTE_JOB, run_distribution, queue="storage"),
        JobKind(BACKUP_JOB, run_backup_job, queue="storage"),
        JobKind(QC_RECHECK_JOB, run_qc_recheck, queue="storage"),
    ]
