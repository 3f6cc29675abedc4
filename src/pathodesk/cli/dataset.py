"""``pathodesk dataset build``: labelled tiles from annotated slides, as class folders the
trainer reads (SPEC B2; ``pathodesk train --data DIR --groups DIR/groups.csv``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pathodesk.cli.common import AddCommand, emit, progress_bar
from pathodesk.cli.language import _
from pathodesk.errors import PathoDeskError
from pathodesk.ml.tile_size import DEFAULT_TILE_PX


def slide_and_geojson(text: str) -> tuple[Path, Path]:
    slide, separator, geojson = text.partition("=")
    if not separator or not Path(slide).is_file() or not Path(geojson).is_file():
        raise PathoDeskError("%(text)r: give SLIDE=GEOJSON, both existing files", text=text)
    return Path(slide), Path(geojson)


def cmd_dataset_build(args: argparse.Namespace) -> int:
    from pathodesk.ml.slide_tiles import annotated_slide_tiles, write_class_folders

    pairs = [slide_and_geojson(text) for text in args.annotated]
    data = annotated_slide_tiles(pairs, args.tile_px)
    with progress_bar(args, _("tiles"), unit="tile", total=len(data.samples)) as bar:
        write_class_folders(data, args.out, lambda done, _total: bar.update(done - bar.n))
    counts = data.counts()
    emit(
        args,
        {"out": str(args.out), "tile_px": args.tile_px, "slides": len(pairs), "per_class": counts},
        _("%(tiles)s tiles of %(tile_px)s px from %(slides)s slide(s) in %(out)s: %(counts)s")
        % {
            "tiles": len(data.samples),
            "tile_px": args.tile_px,
            "slides": len(pairs),
            "out": args.out,
            "counts": counts,
        },
    )
    return 0


def register(add: AddCommand) -> None:
    command = add("dataset", _("labelled tiles from annotated slides (class folders for training)"))
    command.add_argument("action", choices=("build",))
    command.add_argument(
        "annotated", nargs="+", metavar="SLIDE=GEOJSON", help=_("a slide and its QuPath GeoJSON")
    )
    command.add_argument(
        "--out", type=Path, required=True, help=_("folder to create (one sub-folder per class)")
    )
    command.add_argument("--tile-px", type=int, default=DEFAULT_TILE_PX, help=_("tile edge, level-0 px"))
    command.add_argument("--json", action="store_true", help=_("print one JSON document"))
    command.set_defaults(handler=cmd_dataset_build)
