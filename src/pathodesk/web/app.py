"""FastAPI application factory: one place that wires settings, database and routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from pathodesk import __version__
from pathodesk.analysis.superres_service import SuperResolution
from pathodesk.config import Settings, get_settings
from pathodesk.db.session import Database
from pathodesk.ingest import discard_abandoned_staging
from pathodesk.jobs.celery_backend import CeleryDispatcher
from pathodesk.jobs.priority import INTERACTIVE
from pathodesk.jobs.worker import WorkerPool, Workers
from pathodesk.lifecycle.backups import upgrade_schema
from pathodesk.lifecycle.kinds import all_job_kinds
from pathodesk.lifecycle.nightly import NightlySchedule
from pathodesk.lifecycle.schedule import resume_interrupted
from pathodesk.lifetime import freeze_new_modules
from pathodesk.ml.shipped import install_shipped_models
from pathodesk.slides.pool import ReaderPool
from pathodesk.slides.tilecache import TileCache
from pathodesk.storage.temporary import TemporaryStore, generated_tiles_dir
from pathodesk.web.headers import SecurityHeaders
from pathodesk.web.problems import install_problem_handlers
from pathodesk.web.routes import (
    admin,
    auth,
    dzi,
    health,
    ihc,
    jobs,
    models,
    pages,
    qc,
    records,
    sections,
    slides,
    storage,
    users,
)
from pathodesk.web.routes import annotations as annotation_routes
from pathodesk.web.state import AppState
from pathodesk.web.tile_fast_path import TileFastPath

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.ensure_dirs()
    url = settings.resolved_database_url()
    upgrade_schema(settings)
    state = AppState(
        settings=settings,
        db=Database(url),
        readers=ReaderPool(per_slide=settings.readers_per_slide),
        tiles=TileCache(settings.tile_cache_bytes),
    )
    INTERACTIVE.enabled = settings.interactive_priority
    state.superres = SuperResolution(settings, state.db)
    state.generated = TemporaryStore(generated_tiles_dir(settings), settings.temporary_store_bytes)
    install_shipped_models(state.db, settings)
    discard_abandoned_staging(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        freeze_new_modules()  # modules, routes and engine never need collecting
        workers: Workers = (
            CeleryDispatcher(state.db, settings, all_job_kinds())
            if settings.job_backend == "celery"
            else WorkerPool(state.db, settings, all_job_kinds())
        )
        state.workers = workers
        workers.start()
        nightly = NightlySchedule(state.db, settings, workers.wake)
        nightly.start()
        if resume_interrupted(state.db) is not None:  # moves a crash left half done (E5)
            workers.wake()
        yield
        nightly.stop()
        workers.stop()
        state.prefetch.stop()
        state.readers.close()
        state.db.dispose()

    app = FastAPI(title="PathoDesk", version=__version__, lifespan=lifespan)
    app.state.pathodesk = state
    install_problem_handlers(app)
    for module in (
        health,
        auth,
        users,
        records,
        slides,
        annotation_routes,
        ihc,
        jobs,
        sections,
        qc,
        models,
        admin,
        storage,
        dzi,
        pages,
    ):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(TileFastPath, state=state)
    app.add_middleware(SecurityHeaders)  # outermost: fast-path tiles get them too
    return app


def app_from_environment() -> FastAPI:
    """For ``pathodesk serve --workers N``: each server process builds its own app from the
    PATHODESK_* environment."""
    return create_app(Settings())
