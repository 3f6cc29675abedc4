"""``pathodesk analyze`` (API.md; SPEC A4–A6): a slide file through its disease type's model,
outlines written as ASAP XML or QuPath GeoJSON, progress on the terminal."""

from __future__ import annotations

import argparse
from pathlib import Path

from pathodesk.analysis.kinds import ANALYSIS_KINDS
from pathodesk.cli.common import AddCommand, emit, open_database, progress_bar, settings_of
from pathodesk.errors import ValidationFailedError

FILE_KINDS = {".xml": "xml", ".geojson": "geojson", ".json": "geojson"}


def cmd_analyze(args: argparse.Namespace) -> int:
    from pathodesk.analysis.job import disease_params, model_mpp
    from pathodesk.analysis.run import analyze_slide, outcome_summary
    from pathodesk.annotations.formats import WRITERS, FileRegion
    from pathodesk.annotations.geometry import to_geojson
    from pathodesk.annotations.labels import label_colours
    from pathodesk.db.models import DiseaseType
    from pathodesk.ml import registry
    from pathodesk.slides import open_slide

    out: Path | None = args.out
    file_kind = None if out is None else FILE_KINDS.get(out.suffix.lower())
    if out is not None and file_kind is None:
        raise ValidationFailedError("--out must end in .xml (ASAP XML) or .geojson (QuPath GeoJSON)")
    analysis_kind = ANALYSIS_KINDS[args.kind]
    settings = settings_of(args)
    db = open_database(settings)
    with db.session() as session:
        model = registry.find_version(
            session, args.disease_type, args.model_version, role=analysis_kind.model_role
        )
        loaded = registry.load(settings, model)
        disease = session.get(DiseaseType, args.disease_type)
        colours = label_colours(disease)
        params = disease_params(disease, loaded.labels)
        model_name, mpp_of_model = f"{model.disease_type} v{model.version} ({model.arch})", model_mpp(model)
    db.dispose()
    reader = open_slide(args.slide)
    try:
        with progress_bar(args, "tiles", unit="tile") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            outcome = analyze_slide(
                reader,
                loaded,
                params,
                model_mpp=mpp_of_model,
                tile_px=args.tile_px,
                outline=args.outline,
                overlap=args.overlap,
                progress=progress,
            )
        slide_mpp = reader.info.mpp_x
    finally:
        reader.close()
    if out is not None and file_kind is not None:
        regions = [
            FileRegion(
                r.label, to_geojson(r.outline), "polygon", source="ai", probability=round(r.probability, 4)
            )
            for r in outcome.regions
        ]
        out.parent.mkdir(parents=True, exist_ok=True)
        staged = out.with_name(f".{out.name}.partial")
        staged.write_bytes(WRITERS[file_kind](regions, colours))
        staged.replace(out)  # never a half-written file under the asked name
    summary = {
        "slide": str(args.slide),
        "model": model_name,
        **outcome_summary(outcome, slide_mpp),
        "out": str(out) if out else None,
    }
    analysis_kind.result.model_validate(summary)  # the result schema holds for the CLI too
    tiles = f"{summary['tiles']} tiles of {summary['tile_px']} px"
    tiles += f", overlapping {summary['overlap']}x" if outcome.overlap > 1 else ""
    unit = "tiles" if outcome.overlap == 1 else f"cells of {outcome.results.tile_px} px"
    lines = [f"{summary['slide']}: {summary['slide_label']} ({tiles}, {model_name})"]
    lines += [
        f"  {region['label']:12s} p={region['probability']:.2f}  {region['tiles']} {unit}"
        for region in summary["regions"]
    ]
    lines += [f"outlines written to {out}"] if out else []
    emit(args, summary, "\n".join(lines))
    return 0


def register(add: AddCommand) -> None:
    command = add("analyze", "outline tumour regions of a slide file with its disease type's model")
    command.add_argument("slide", type=Path)
    command.add_argument("--disease-type", required=True)
    command.add_argument("--kind", choices=sorted(ANALYSIS_KINDS), default="tiles", help="analysis kind")
    command.add_argument(
        "--tile-px", type=int, default=None, help="tile edge in level-0 px (slides without mpp)"
    )
    command.add_argument("--out", type=Path, default=None, help="FILE.xml (ASAP XML) or FILE.geojson")
    command.add_argument(
        "--outline", choices=("hull", "tiles"), default="hull", help="convex hull or tile union"
    )
    command.add_argument(
        "--overlap",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: tiles half a tile apart, outlines at half-tile resolution for 4x the model work",
    )
    command.add_argument("--model-version", type=int, default=None, help="default: the active model")
    command.add_argument("--json", action="store_true")
    command.set_defaults(handler=cmd_analyze)
