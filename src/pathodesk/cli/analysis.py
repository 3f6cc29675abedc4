"""``pathodesk analyze`` (API.md; SPEC A4–A6, C1–C4): a slide file through its disease type's
models, every tissue tile (``--mode tiles``) or low power first (``--mode cascade``); outlines
written as ASAP XML or QuPath GeoJSON, progress on the terminal."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathodesk.analysis.kinds import ANALYSIS_KINDS
from pathodesk.cli.common import AddCommand, bar_progress, emit, open_database, progress_bar, settings_of
from pathodesk.cli.language import _, cli_locale
from pathodesk.errors import ValidationFailedError

if TYPE_CHECKING:
    from pathodesk.annotations.formats import FileRegion
    from pathodesk.annotations.geometry import Outline
    from pathodesk.config import Settings
    from pathodesk.slides.base import SlideReader

FILE_KINDS = {".xml": "xml", ".geojson": "geojson", ".json": "geojson"}


@contextmanager
def open_slide_file(path: Path) -> Iterator[SlideReader]:
    from pathodesk.slides import open_slide

    reader = open_slide(path)
    try:
        yield reader
    finally:
        reader.close()


def _warn_of_other_stain(reader: SlideReader, cards: list[dict[str, object]]) -> None:
    """Said before the work, on stderr: H&E models outlining an IHC slide mean little."""
    from pathodesk.stain.kind import detect_stain, other_stain
    from pathodesk.tissue import detect_tissue
    from pathodesk.web.vocabulary import term

    tissue = detect_tissue(reader)
    stain = detect_stain(tissue.thumbnail_hsv, tissue.mask, tissue.dark_field)
    learned = other_stain(stain, [card.get("stain") for card in cards])
    if learned:
        locale = cli_locale()
        names = {"slide": term(locale, "stain", stain), "models": term(locale, "stain", learned)}
        message = _("this slide looks like %(slide)s, but the models learned from %(models)s slides") % names
        print(_("warning: %(message)s") % {"message": message}, file=sys.stderr)


def _run_tiles(
    args: argparse.Namespace, settings: Settings, reader: SlideReader
) -> tuple[dict[str, Any], list[FileRegion]]:
    """The exhaustive analysis (A4–A6): every tissue tile through the tile model."""
    from pathodesk.db.models import DiseaseType
    from pathodesk.ml import registry

    db = open_database(settings)
    with db.session() as session:
        model = registry.find_version(session, args.disease_type, args.model_version, role="tile")
        # PyTorch and torchvision load only now: a missing model is said without waiting for them
        from pathodesk.analysis.job import disease_params, model_mpp
        from pathodesk.analysis.results import model_fields
        from pathodesk.analysis.run import analyze_slide, outcome_summary

        loaded = registry.load(settings, model)
        params = disease_params(session.get(DiseaseType, args.disease_type), loaded.labels)
        names, mpp_of_model, cards = model_fields(model), model_mpp(model), [model.card]
    db.dispose()
    _warn_of_other_stain(reader, cards)
    with progress_bar(args, _("tiles"), unit="tile") as bar:
        outcome = analyze_slide(
            reader,
            loaded,
            params,
            model_mpp=mpp_of_model,
            tile_px=args.tile_px,
            outline=args.outline,
            overlap=args.overlap,
            progress=bar_progress(bar),
        )
        summary = {**names, **outcome_summary(outcome, reader.info.mpp_x)}
    return summary, [_file_region(r.label, r.outline, r.probability) for r in outcome.regions]


def _run_cascade(
    args: argparse.Namespace, settings: Settings, reader: SlideReader
) -> tuple[dict[str, Any], list[FileRegion]]:
    """The cascade (C1–C4): low power everywhere, high power in the candidates only."""
    from pathodesk.db.models import DiseaseType
    from pathodesk.ml import registry

    db = open_database(settings)
    with db.session() as session:
        fine = registry.find_version(session, args.disease_type, args.model_version, role="fine")
        coarse = registry.model_for_slide_type(session, args.disease_type, role="coarse")
        # PyTorch and torchvision load only now: a missing model is said without waiting for them
        from pathodesk.analysis.cascade import cascade_slide
        from pathodesk.analysis.cascade_job import cascade_settings, cascade_summary, grade_scale
        from pathodesk.analysis.job import disease_params, model_mpp
        from pathodesk.analysis.results import model_fields

        fine_loaded, coarse_loaded = registry.load(settings, fine), registry.load(settings, coarse)
        disease = session.get(DiseaseType, args.disease_type)
        params = disease_params(disease, fine_loaded.labels)
        scale = grade_scale(disease, fine_loaded.labels, params.background_labels)
        chosen = cascade_settings(coarse, {})
        names = model_fields(fine) | model_fields(coarse, "coarse_model")
        mpp_of_model, cards = model_mpp(fine), [fine.card, coarse.card]
    db.dispose()
    _warn_of_other_stain(reader, cards)
    with progress_bar(args, _("tiles"), unit="tile") as bar:
        outcome = cascade_slide(
            reader,
            coarse_loaded,
            fine_loaded,
            scale,
            params,
            chosen,
            model_mpp=mpp_of_model,
            tile_px=args.tile_px,
            outline=args.outline,
            progress=bar_progress(bar),
        )
        summary = {**names, **cascade_summary(outcome, reader.info.mpp_x, scale)}
    regions = [
        _file_region(g.region.label, g.region.outline, g.region.probability, g.coarse_grade)
        for g in outcome.regions
    ]
    return summary, regions


def _file_region(label: str, outline: Outline, probability: float, grade: str | None = None) -> FileRegion:
    from pathodesk.annotations.formats import FileRegion
    from pathodesk.annotations.geometry import to_geojson

    extra = {"coarse_grade": grade} if grade else None
    return FileRegion(
        label, to_geojson(outline), "polygon", source="ai", probability=round(probability, 4), extra=extra
    )


def _lines(summary: dict[str, Any], out: Path | None) -> list[str]:
    if summary["mode"] == "cascade":
        share = f"{summary['high_res_fraction']:.1%}"
        head = _(
            "%(slide)s: grade %(slide_grade)s (%(slide_label)s), %(tiles_high_res)s of %(tiles_exhaustive)s"
            " tiles at high power (%(share)s), %(seconds).2f s"
        ) % {**summary, "share": share}
        rows = [
            "  "
            + _("%(label)s p=%(probability).2f  coarse grade %(coarse_grade)s  %(tiles)s quarter tiles") % r
            for r in summary["regions"]
        ]
    else:
        tiles = _("%(tiles)s tiles of %(tile_px)s px") % summary
        tiles += _(", overlapping %(overlap)sx") % summary if summary["overlap"] > 1 else ""
        unit = _("tiles") if summary["overlap"] == 1 else _("cells of %(cell_px)s px") % summary
        head = f"{summary['slide']}: {summary['slide_label']} ({tiles}, {summary['model']})"
        rows = [
            f"  {r['label']:12s} p={r['probability']:.2f}  {r['tiles']} {unit}" for r in summary["regions"]
        ]
    return [head, *rows, *([_("outlines written to %(out)s") % {"out": out}] if out else [])]


def cmd_analyze(args: argparse.Namespace) -> int:
    from pathodesk.annotations.formats import WRITERS
    from pathodesk.annotations.labels import label_colours
    from pathodesk.db.models import DiseaseType

    out: Path | None = args.out
    file_kind = None if out is None else FILE_KINDS.get(out.suffix.lower())
    if out is not None and file_kind is None:
        raise ValidationFailedError("--out must end in .xml (ASAP XML) or .geojson (QuPath GeoJSON)")
    mode = args.kind or args.mode
    settings = settings_of(args)
    db = open_database(settings)
    with db.session() as session:
        colours = label_colours(session.get(DiseaseType, args.disease_type))
    db.dispose()
    with open_slide_file(args.slide) as reader:  # a wrong path is said before a model loads
        summary, regions = (_run_cascade if mode == "cascade" else _run_tiles)(args, settings, reader)
    if out is not None and file_kind is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        staged = out.with_name(f".{out.name}.partial")
        staged.write_bytes(WRITERS[file_kind](regions, colours))
        staged.replace(out)  # never a half-written file under the asked name
    summary = {"slide": str(args.slide), **summary, "out": str(out) if out else None}
    ANALYSIS_KINDS[mode].result.model_validate(summary)  # the result schema holds for the CLI too
    emit(args, summary, "\n".join(_lines(summary, out)))
    return 0


def register(add: AddCommand) -> None:
    command = add("analyze", _("outline tumour regions of a slide file with its disease type's model"))
    command.add_argument("slide", type=Path)
    command.add_argument("--disease-type", required=True)
    command.add_argument(
        "--mode",
        choices=sorted(ANALYSIS_KINDS),
        default="tiles",
        help=_("tiles: every tissue tile (default); cascade: low power, then high power where it matters"),
    )
    command.add_argument("--kind", choices=sorted(ANALYSIS_KINDS), default=None, help=argparse.SUPPRESS)
    command.add_argument(
        "--tile-px", type=int, default=None, help=_("tile edge in level-0 px (slides without mpp)")
    )
    command.add_argument("--out", type=Path, default=None, help=_("FILE.xml (ASAP XML) or FILE.geojson"))
    command.add_argument(
        "--outline", choices=("hull", "tiles"), default="hull", help=_("convex hull or tile union")
    )
    command.add_argument(
        "--overlap",
        type=int,
        choices=(1, 2),
        default=1,
        help=_("2: tiles half a tile apart, outlines at half-tile resolution for 4x the model work"),
    )
    command.add_argument("--model-version", type=int, default=None, help=_("default: the active model"))
    command.add_argument("--json", action="store_true", help=_("print one JSON document"))
    command.set_defaults(handler=cmd_analyze)
