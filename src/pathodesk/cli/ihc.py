"""``pathodesk ihc IMAGE``: the Ki-67 index (and H-score) of a nuclear IHC image or hot
spot — nuclei counted, brown ones among them — with a picture of what was counted."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from pathodesk.cli.common import AddCommand, bar_progress, emit, progress_bar, save_png
from pathodesk.cli.language import _
from pathodesk.cli.registration import existing
from pathodesk.errors import ValidationFailedError

MAX_PIXELS = 100_000_000  # ~10 × 10 mm at 1 µm/px; a whole slide is scored region by region


def read_image(path: Path, mpp: float | None) -> tuple[np.ndarray, float]:
    """Level 0 of an image or slide and its µm per px: ``--mpp`` when given, else the file's."""
    from pathodesk.slides import open_slide

    reader = open_slide(existing(path))
    try:
        width, height = reader.info.dimensions
        if width * height > MAX_PIXELS:
            raise ValidationFailedError(
                "%(name)s has %(pixels)s pixels, more than %(limit)s: crop the region to score",
                name=path.name,
                pixels=width * height,
                limit=MAX_PIXELS,
            )
        mpp = mpp or reader.info.mpp_x
        if not mpp:
            raise ValidationFailedError(
                "%(name)s does not say its pixel size: give it with --mpp (0.25 at 40×, 0.5 at 20×)",
                name=path.name,
            )
        return reader.read_region((0, 0), 0, (width, height))[..., :3], float(mpp)
    finally:
        reader.close()


def cmd_ihc(args: argparse.Namespace) -> int:
    from pathodesk.stain.ihc import overlay_picture, score_nuclei

    if args.mpp is not None and not 0.05 <= args.mpp <= 20:
        raise ValidationFailedError("--mpp must lie between 0.05 and 20 µm per pixel")
    if not 0 < args.threshold < 3:
        raise ValidationFailedError("--threshold must lie between 0 and 3 (mean DAB optical density)")
    image, mpp = read_image(args.image, args.mpp)
    with progress_bar(args, _("nuclei"), _("block")) as bar:
        score = score_nuclei(image, mpp, positive_threshold=args.threshold, progress=bar_progress(bar))
    if args.overlay is not None:
        save_png(args.overlay, overlay_picture(image, score, mpp))
    summary = {"image": str(args.image), "mpp": mpp, **score.summary()}
    if score.index is None:
        text = _("%(name)s: no nuclei found") % {"name": args.image.name}
    else:
        text = _(
            "%(name)s: Ki-67 index %(index).1f %% (%(positive)s of %(nuclei)s nuclei positive); "
            "H-score %(h_score).0f"
        ) % {
            "name": args.image.name,
            "index": score.index,
            "positive": summary["positive"],
            "nuclei": score.total,
            "h_score": score.h_score,
        }
    emit(args, summary, text)
    return 0


def register(add: AddCommand) -> None:
    command = add("ihc", _("Ki-67 index and H-score of a nuclear IHC image (DAB and hematoxylin)"))
    command.add_argument("image", type=Path, help=_("an image or slide region (PNG, JPEG, TIFF, OME-TIFF)"))
    command.add_argument(
        "--mpp", type=float, default=None, help=_("µm per pixel, when the file does not say")
    )
    command.add_argument(
        "--threshold", type=float, default=0.2, help=_("mean DAB optical density of a positive nucleus (0.2)")
    )
    command.add_argument("--overlay", type=Path, default=None, help=_("PNG with each counted nucleus ringed"))
    command.add_argument("--json", action="store_true", help=_("print one JSON document"))
    command.set_defaults(handler=cmd_ihc)
