"""What ``make demo`` loads (issue 21, item 2): slides where the AI finds something, the real
sample slides under the disease types they are, a finished analysis and a signed-off review,
a Ki-67 stained region with its hot spot counted, and a slide kept at low resolution.

With ``../shared/data`` there: a lung and a thyroid mosaic built from their models' held-out
test tiles (marked as such in their descriptions), analysed before the server starts, the
lung one signed off by the demo pathologist; the shared whole-slide samples under fitting
disease types; native 40× tissue of the super-resolution models' held-out patients, kept at
1/8 of its resolution (E1) and read at full magnification by super-resolution (E8). Without
it: the PyPI sample slides, and a line saying how to get the rest. Running it again adds
nothing twice (ingest recognises the same bytes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import select

from pathodesk.analysis.job_names import IHC_KIND
from pathodesk.analysis.mosaic import split_images, write_mosaic
from pathodesk.annotations.review import submit_review
from pathodesk.annotations.store import Draft, create_many
from pathodesk.cli.common import open_database
from pathodesk.cli.ingest import ingest_paths
from pathodesk.config import Settings
from pathodesk.db.models import DiseaseType, Job, JobState, Slide, SlideStatus, User, Verdict
from pathodesk.db.session import Database
from pathodesk.jobs import queue
from pathodesk.jobs.worker import WorkerPool
from pathodesk.lifecycle.kinds import all_job_kinds
from pathodesk.ml.registry import SHIPPED_DIR
from pathodesk.ml.superres_split import native_tiles, patient_splits
from pathodesk.sampledata import ensure_samples, shared_slides
from pathodesk.slides.pyramid import write_pyramid
from pathodesk.slides.raster_backend import RasterSlideReader

GENERIC_LABELS = [{"name": "tumour", "color": "#d62728"}, {"name": "normal", "color": "#2ca02c"}]
# the sample slides' tissue (TCGA project codes in their names), as disease types without a model
SAMPLE_TYPES = {
    "CMU-1": ("skin", "Skin (sample)"),
    "TCGA-CR-": ("head_neck", "Head and neck (sample)"),
    "TCGA-XK-": ("prostate", "Prostate (sample)"),
    "kidney": ("kidney", "Kidney (sample)"),
    "multiplex": ("multiplex", "Multiplex immunofluorescence (sample)"),
    "OS-2-": ("ki67", "Ki-67 immunohistochemistry (sample)"),
}
# a Ki-67 stained region (OpenSlide's OS-2, 0.227 µm/px), with a hot spot outlined and counted
KI67_SAMPLE = Path("openslide-os-crops-ometiff") / "OS-2-ndpi.ome.tif"
HOT_SPOT = (300, 300, 1900, 1900)  # level-0 px: 0.13 mm² of its 0.25 mm²
MOSAIC_NOTE = (  # demo data, written in both languages as the sign-off is
    "Demo: a mosaic of the model's held-out test tiles (not a real slide); the true tumour is known."
    " 演示：由模型留出的测试图块拼成（非真实切片），真实肿瘤位置已知。"
)
SIGN_OFF = "Adenocarcinoma region outlined by the AI checked and confirmed. 腺癌区域经复核确认。"
# E1 and E8: the super-resolution models' held-out patients, 2 × 2 native 40× tiles, kept at 1/8
SUPERRES_SOURCE = Path("he-40x-sr-monuseg")
SUPERRES_MPP = 0.25  # MoNuSeg's 40× tiles (0.246–0.253 µm/px in their XML)
LOW_RESOLUTION = 8
LOW_RESOLUTION_TYPE = ("various", "Various organs (sample)")
LOW_RESOLUTION_NOTE = (
    "Demo: native 40× tissue of 4 patients the super-resolution models never saw (2 × 2 tiles), kept at"
    " 1/8 of its resolution, 1/64 of its pixels; finer views are generated."
    " 演示：超分辨率模型从未见过的 4 名患者的原生 40× 组织（2 × 2 图块），以 1/8 分辨率（1/64 像素）保存；"
    "更精细的视图由超分辨率生成。"
)
ANALYSIS_WAIT_S = 600


@dataclass(frozen=True)
class DemoCase:
    patient: str
    exam: str
    disease_type: str
    paths: list[Path]
    mosaic: bool = False
    store_downsample: int | None = None  # None: as its disease type says
    description: str | None = None


def sample_type(path: Path) -> tuple[str, str]:
    for key, kind in SAMPLE_TYPES.items():
        if key in path.name:
            return kind
    return ("other", "Other tissue (sample)")


def _ensure_disease_type(db: Database, name: str, display_name: str) -> None:
    with db.session() as session:
        if session.get(DiseaseType, name) is None:
            session.add(DiseaseType(name=name, display_name=display_name, labels=GENERIC_LABELS, active=True))


def _mosaics(settings: Settings, out: Path) -> list[DemoCase]:
    """A lung and a thyroid mosaic of test-split tiles (the same bytes on every run)."""
    data = settings.shared_data_dir
    made = []
    for disease, tiles_dir, background, tumour, grid in (
        ("lung", data / "lc25000-lung-224", "lung_n", "lung_aca", 24),
        ("thyroid", data / "thyhister-thyroid", "normal", "tumour", 16),
    ):
        splits = SHIPPED_DIR / disease / "splits.csv"
        if not (tiles_dir.is_dir() and splits.is_file()):
            continue
        path = out / f"{disease}-demo-mosaic.tiff"
        if not path.is_file():
            write_mosaic(path, split_images(tiles_dir, splits), background, tumour, grid=grid, seed=11)
        made.append(DemoCase("DEMO-PATIENT-2", f"DEMO-{disease.upper()}-1", disease, [path], mosaic=True))
    return made


def _low_resolution(settings: Settings, out: Path) -> list[DemoCase]:
    """The super-resolution models' test patients side by side (the same bytes on every run),
    stored as a 40× scan kept at 1/8 would be."""
    root = settings.shared_data_dir / SUPERRES_SOURCE
    if not (root / "labels.csv").is_file():
        return []
    path = out / "low-resolution-demo.tiff"
    if not path.is_file():
        held_out = patient_splits(native_tiles(root))["test"][:4]
        tiles = [np.asarray(Image.open(tile.path).convert("RGB")) for tile in held_out]
        side = min(min(tile.shape[:2]) for tile in tiles)
        row = [tile[:side, :side] for tile in tiles]
        grid = np.vstack([np.hstack(row[:2]), np.hstack(row[2:])]) if len(row) == 4 else np.hstack(row)
        out.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}")  # whole or not at all: a stopped demo starts it again
        write_pyramid(RasterSlideReader.from_array(grid), partial, mpp=SUPERRES_MPP)
        partial.replace(path)
    case = DemoCase("DEMO-PATIENT-4", "DEMO-LOW-RES-1", LOW_RESOLUTION_TYPE[0], [path])
    return [replace(case, store_downsample=LOW_RESOLUTION, description=LOW_RESOLUTION_NOTE)]


def demo_cases(settings: Settings) -> list[DemoCase]:
    cases = []
    samples = ensure_samples(settings.sample_dir)
    shared = shared_slides(settings.shared_data_dir)
    if shared:  # it holds CMU-1 itself
        samples = [p for p in samples if "pyramid" in p.name] + shared
    by_type: dict[tuple[str, str], list[Path]] = {}
    for path in samples:
        by_type.setdefault(sample_type(path), []).append(path)
    for (name, _display), paths in sorted(by_type.items()):
        cases.append(DemoCase("DEMO-PATIENT-1", f"DEMO-{name.upper()}-1", name, paths))
    ki67 = settings.shared_data_dir / KI67_SAMPLE
    if ki67.is_file():
        cases.append(DemoCase("DEMO-PATIENT-3", "DEMO-KI67-1", "ki67", [ki67]))
    out = settings.data_dir / "demo"
    return cases + _mosaics(settings, out) + _low_resolution(settings, out)


def _hot_spot_job(db: Database, slide_id: int, owner_id: int | None) -> int | None:
    """The Ki-67 sample's hot spot outlined and its nuclei counted (a job), once."""
    with db.session() as session:
        slide = session.get(Slide, slide_id)
        if slide is None or slide.status != SlideStatus.uploaded or owner_id is None:
            return None
        x0, y0, x1, y1 = HOT_SPOT
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        draft = Draft("tumour", {"type": "Polygon", "coordinates": [ring]}, name="Ki-67 hot spot")
        (region,) = create_many(session, slide, [draft], owner_id)
        params: dict[str, object] = {"annotation_id": region.id}
        return queue.submit(session, IHC_KIND, slide_id, params, user_id=owner_id).id


def _analyse(db: Database, settings: Settings, slide_ids: list[int], owner_id: int | None) -> None:
    """Run the analyses through the real job queue and workers, waiting for them to end."""
    with db.session() as session:
        job_ids = [
            queue.submit(session, "analyze", slide_id, {"outline": "tiles"}, user_id=owner_id).id
            for slide_id in slide_ids
        ]
    _run(db, settings, job_ids)
    print(f"demo: analysed {len(job_ids)} mosaic slide(s)")


def _run(db: Database, settings: Settings, job_ids: list[int]) -> None:
    """Run queued jobs with the real workers, waiting for them to end."""
    pool = WorkerPool(db, settings, all_job_kinds())
    pool.start()
    try:
        deadline = time.monotonic() + ANALYSIS_WAIT_S
        while time.monotonic() < deadline:
            with db.session() as session:
                states = list(session.scalars(select(Job.state).where(Job.id.in_(job_ids))))
            if all(state not in (JobState.queued, JobState.running) for state in states):
                break
            time.sleep(1)
    finally:
        pool.stop()
    print(f"demo: {len(job_ids)} job(s): {', '.join(s.value for s in states)}")


def load_demo(settings: Settings, owner: str) -> None:
    db = open_database(settings)
    mosaics: dict[int, str] = {}  # slide id -> disease type
    ki67: list[int] = []
    loaded, failed = 0, 0
    described: dict[int, str] = {}  # slide id -> its demo note
    for case in demo_cases(settings):
        if case.disease_type == LOW_RESOLUTION_TYPE[0]:
            _ensure_disease_type(db, *LOW_RESOLUTION_TYPE)
        elif not case.mosaic:
            _ensure_disease_type(db, case.disease_type, sample_type(case.paths[0])[1])
        good, bad = ingest_paths(
            settings,
            case.paths,
            patient=case.patient,
            exam=case.exam,
            disease_type=case.disease_type,
            owner=owner,
            show_progress=False,
            store_downsample=case.store_downsample,
        )
        loaded, failed = loaded + len(good), failed + len(bad)
        for item in bad:
            print(f"demo: skipped {item['path']}: {item['error']}")
        if case.mosaic:
            mosaics |= {int(str(item["slide_id"])): case.disease_type for item in good}
        if case.description:
            described |= {int(str(item["slide_id"])): case.description for item in good}
        if case.disease_type == "ki67":
            ki67 += [int(str(item["slide_id"])) for item in good]
    with db.session() as session:
        owner_id = session.scalar(select(User.id).where(User.account == owner))
        fresh = []
        for slide_id in mosaics:
            slide = session.get(Slide, slide_id)
            assert slide is not None
            slide.description = MOSAIC_NOTE
            if slide.status == SlideStatus.uploaded:
                fresh.append(slide_id)
        for slide_id, note in described.items():
            slide = session.get(Slide, slide_id)
            if slide is not None:
                slide.description = note
    print(f"demo: {loaded} slides loaded, {failed} could not be read")
    counts = [job for job in (_hot_spot_job(db, slide_id, owner_id) for slide_id in ki67) if job is not None]
    if counts:
        _run(db, settings, counts)
    if fresh:
        _analyse(db, settings, fresh, owner_id)
        with db.session() as session:
            for slide_id in fresh:
                slide = session.get(Slide, slide_id)
                if slide is not None and mosaics[slide_id] == "lung" and owner_id is not None:
                    submit_review(session, slide, Verdict.approved, SIGN_OFF, owner_id)
    if not mosaics:
        print(
            "demo: no AI examples — put the project's shared data at ../shared/data (or set "
            "PATHODESK_SHARED_DATA_DIR) for analysed lung and thyroid slides; add your own with "
            "`pathodesk ingest FILE --patient P --exam E --disease-type lung`"
        )
    db.dispose()
