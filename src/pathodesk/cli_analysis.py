"""`pathodesk analyze` (issue 7, API.md): a slide file through its disease type's model,
outlines written as ASAP XML or QuPath GeoJSON, progress on the terminal."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from pathodesk.config import Settings

AddCommand = Callable[[str, str], argparse.ArgumentParser]


def cmd_analyze(args: argparse.Namespace, settings: Settings) -> int:
    from pathodesk.analysis.job import model_mpp
    from pathodesk.analysis.run import analyze_slide, outcome_summary
    from pathodesk.annotations.exchange import FileRegion
    from pathodesk.annotations.export import WRITERS
    from pathodesk.annotations.geometry import to_geojson
    from pathodesk.cli import open_database
    from pathodesk.db.models import DiseaseType
    from pathodesk.ml import registry
    from pathodesk.slides import open_slide

    out: Path | None = args.out
    kind = (
        None
        if out is None
        else {".xml": "xml", ".geojson": "geojson", ".json": "geojson"}.get(out.suffix.lower())
    )
    if out is not None and kind is None:
        raise SystemExit("--out must end in .xml (ASAP XML) or .geojson (QuPath GeoJSON)")
    db = open_database(settings)
    with db.session() as session:
        model = registry.find_version(session, args.disease_type, args.model_version)
        loaded = registry.load(settings, model)
        disease = session.get(DiseaseType, args.disease_type)
        colours = {label["name"]: label["color"] for label in (disease.labels if disease else [])}
        model_name, mpp_of_model = f"{model.disease_type} v{model.version} ({model.arch})", model_mpp(model)
    db.dispose()
    reader = open_slide(args.slide)
    try:
        with tqdm(total=0, desc="tiles", unit="tile", file=sys.stderr, disable=args.json) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            outcome = analyze_slide(
                reader,
                loaded,
                args.disease_type,
                model_mpp=mpp_of_model,
                tile_px=args.tile_px,
                outline=args.outline,
                overlap=args.overlap,
                progress=progress,
            )
        slide_mpp = reader.info.mpp_x
    finally:
        reader.close()
    if out is not None and kind is not None:
        regions = [
            FileRegion(
                r.label, to_geojson(r.outline), "polygon", source="ai", probability=round(r.probability, 4)
            )
            for r in outcome.regions
        ]
        out.parent.mkdir(parents=True, exist_ok=True)
        staged = out.with_name(f".{out.name}.partial")
        staged.write_bytes(WRITERS[kind](regions, colours))
        staged.replace(out)  # never a half-written file under the asked name
    summary = {
        "slide": str(args.slide),
        "model": model_name,
        **outcome_summary(outcome, slide_mpp),
        "out": str(out) if out else None,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        tiles = f"{summary['tiles']} tiles of {summary['tile_px']} px"
        tiles += f", overlapping {summary['overlap']}x" if outcome.overlap > 1 else ""
        print(f"{summary['slide']}: {summary['slide_label']} ({tiles}, {model_name})")
        unit = "tiles" if outcome.overlap == 1 else f"cells of {outcome.results.tile_px} px"
        for region in summary["regions"]:
            print(f"  {region['label']:12s} p={region['probability']:.2f}  {region['tiles']} {unit}")
        if out:
            print(f"outlines written to {out}")
    return 0


def add_analysis_commands(add: AddCommand, settings_of: Callable[[argparse.Namespace], Settings]) -> None:
    command = add("analyze", "outline tumour regions of a slide file with its disease type's model")
    command.add_argument("slide", type=Path)
    command.add_argument("--disease-type", required=True)
    command.add_argument(
        "--tile-px", type=int, default=None, help="tile edge in level-0 px (slides without mpp)"
    )
    command.add_argument("--out", type=Path, default=None, help="FILE.xml (ASAP XML) or FILE.geojson")
    command.add_argument(
        "--outline", choices=("hull", "tiles"), default="hull", help="convex hull (A6) or tile union"
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
    command.set_defaults(handler=lambda a: cmd_analyze(a, settings_of(a)))
