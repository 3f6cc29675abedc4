"""Job kinds name their handlers (``jobs.kinds``): a server or command starts without the
model stack, and the first job of a kind imports its handler. A handler named wrongly must
fail here, not on a user's first analysis."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from pathodesk.config import Settings
from pathodesk.db.models import JobState
from pathodesk.db.session import Database
from pathodesk.jobs import queue
from pathodesk.jobs.context import JobContext
from pathodesk.jobs.kinds import LOADING, JobKind, handlers
from pathodesk.jobs.worker import WorkerPool
from pathodesk.lifecycle.kinds import all_job_kinds
from pathodesk.lifetime import freeze_new_modules
from tests.jobs.test_worker import settled
from tests.support.accounts import Accounts
from tests.support.jobs import wait_for


def answer(context: JobContext) -> dict[str, object]:
    """A handler the tests name by its module path."""
    return {"asked": context.params["question"]}


def test_every_declared_job_kind_names_a_handler_that_exists() -> None:
    kinds = all_job_kinds()
    assert len(handlers(kinds)) == len(kinds) > 10  # no name declared twice
    for kind in kinds:
        assert callable(kind.resolve()), kind.name


@pytest.mark.parametrize(
    "reference",
    ["pathodesk.jobs.kinds:no_such_handler", "pathodesk.jobs.kinds:__doc__", "pathodesk.no_such:run"],
)
def test_a_misnamed_handler_fails_with_its_name(reference: str) -> None:
    with pytest.raises(ValueError, match=reference):
        JobKind("broken", reference).resolve()


def test_a_named_handler_runs_its_jobs(settings: Settings, accounts: Accounts) -> None:
    db = Database(settings.resolved_database_url())
    with db.session() as session:
        job_id = queue.submit(session, "probe", None, {"question": 42}, user_id=accounts.expert_a_id).id
    pool = WorkerPool(db, settings, [JobKind("probe", "tests.jobs.test_kinds:answer")], poll_seconds=0.1)
    pool.start()
    try:
        job = wait_for(settled(db, job_id), 30)
        assert (job.state, job.result) == (JobState.succeeded, {"asked": 42})
    finally:
        pool.stop()
        db.dispose()


def test_a_server_starts_and_answers_without_the_model_stack(settings: Settings) -> None:
    """Every server start (and every browser test's server) used to wait eight seconds on a
    slow CPU for torch and scikit-learn, which only jobs and generated tiles use."""
    probe = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from pathodesk.config import Settings\n"
        "from pathodesk.web.app import create_app\n"
        f"with TestClient(create_app(Settings(data_dir={str(settings.data_dir)!r}))) as client:\n"
        "    assert client.get('/healthz').status_code == 200\n"
        "    assert client.get('/login').status_code == 200\n"
        "print(sorted({'torch', 'torchvision', 'sklearn'} & set(sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_handler_imported_late_is_kept_out_of_full_collections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server freezes what start-up loaded; a handler's modules arrive with its first
    job and must be frozen too, or every full collection walks the whole model stack with
    all threads (and the viewers' tiles) stopped."""
    (tmp_path / "late_handler_module.py").write_text(
        "class Kept:\n    pass\n\nKEPT = Kept()\n\ndef run(context):\n    return {}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    JobKind("late", "late_handler_module:run").resolve()
    kept = sys.modules["late_handler_module"].KEPT
    assert not any(tracked is kept for tracked in gc.get_objects())  # frozen: no pass looks at it
    collections: list[object] = []
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(args) or 0)
    freeze_new_modules()
    assert collections == []  # nothing imported since: no second full collection


def test_a_job_says_it_is_loading_while_its_handler_is_first_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    """The model stack takes seconds to import on a slow CPU: the first analysis after a
    restart said nothing at 0 % meanwhile, and looked stuck."""
    (tmp_path / "slow_handler_module.py").write_text(
        "def run(context):\n    return {'message': context.message}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    run = handlers([JobKind("slow", "slow_handler_module:run")])["slow"]
    context = JobContext(1, None, {}, None, Database(settings.resolved_database_url()), settings)
    assert run(context) == {"message": LOADING}
    context.message = None
    assert run(context) == {"message": None}  # imported: nothing to say the second time
    context.db.dispose()
