"""``pathodesk register`` and ``pathodesk normalize`` (API.md; SPEC D2, D3): serial sections
aligned, points carried across, colours normalised — from files, without a database."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from pathodesk.cli.common import AddCommand, emit, save_png
from pathodesk.cli.language import _
from pathodesk.errors import ValidationFailedError

REGISTRATION_SIDE = 2048  # the larger section is registered on a thumbnail this size (longest side)
NORMALIZE_SIDE = 4096


def read_section(path: Path, side: int) -> tuple[np.ndarray, float]:
    """RGB of an image or slide, its longest side at most ``side`` px, and that image's px
    per level-0 px (1 for an image already small enough)."""
    from pathodesk.slides import open_slide
    from pathodesk.slides.base import thumbnail

    reader = open_slide(existing(path))
    try:
        width = reader.info.dimensions[0]
        image = np.asarray(thumbnail(reader, side).convert("RGB"))
    finally:
        reader.close()
    return image, image.shape[1] / width


def existing(path: Path) -> Path:
    if not path.is_file():
        raise ValidationFailedError("No such file: %(path)s", path=str(path))
    return path


def registration_sides(paths: list[Path]) -> list[int]:
    """Thumbnail sizes that put every section at one µm per px (``registration.scale``)."""
    from pathodesk.registration.scale import common_sides
    from pathodesk.slides import open_slide

    longest, mpp = [], []
    for path in paths:
        reader = open_slide(existing(path))
        try:
            longest.append(max(reader.info.dimensions))
            mpp.append(reader.info.mpp_x)
        finally:
            reader.close()
    return common_sides(longest, mpp, REGISTRATION_SIDE)


def overlay_picture(fixed: np.ndarray, warped: np.ndarray, squares: int = 8) -> np.ndarray:
    """A checkerboard of the fixed image and the registered moving one: edges that run on
    across the squares show the alignment at a glance."""
    height, width = fixed.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width]
    cell = max(1, max(height, width) // squares)
    board = ((ys // cell + xs // cell) % 2).astype(bool)
    return np.where(board[..., None], fixed, warped)


def cmd_register(args: argparse.Namespace) -> int:
    from PIL import Image

    from pathodesk.registration import read_points, register, write_points

    fixed_side, moving_side = registration_sides([args.fixed, args.moving])
    fixed, fixed_scale = read_section(args.fixed, fixed_side)
    moving, moving_scale = read_section(args.moving, moving_side)
    points = read_points(args.points) if args.points else None
    started = time.perf_counter()
    result = register(fixed, moving)
    seconds = time.perf_counter() - started
    at_level_zero = result.transform.scaled(1 / fixed_scale, 1 / moving_scale)
    summary = {
        "seconds": round(seconds, 3),
        **result.summary(),
        "transform": at_level_zero.summary(),
        "error_px": round(result.error_px / fixed_scale, 3),
        "registered_at_px_per_level0_px": {"fixed": round(fixed_scale, 6), "moving": round(moving_scale, 6)},
    }
    lines = [
        _("registered in %(seconds).2f s; estimated error %(error_px)s px (fixed image's pixels)")
        % {"seconds": seconds, "error_px": summary["error_px"]},
        _("turn %(rotation_degrees)s°, scale %(scale)s, mirrored: %(mirrored)s")
        % {
            **at_level_zero.summary(),
            "mirrored": _("yes") if at_level_zero.summary()["flipped"] else _("no"),
        },
    ]
    if points is not None:
        carried = at_level_zero.moving_to_fixed(points)
        summary["points"] = len(carried)
        if args.out_points:
            write_points(args.out_points, carried)
            lines.append(
                _("%(count)s points written to %(out)s") % {"count": len(carried), "out": args.out_points}
            )
        else:
            summary["fixed_points"] = [[round(float(x), 3), round(float(y), 3)] for x, y in carried]
    if args.overlay:
        warped = result.transform.warp(moving, fixed.shape[:2])
        Image.fromarray(overlay_picture(fixed, warped)).save(args.overlay)
        lines.append(_("overlay written to %(out)s") % {"out": args.overlay})
    emit(args, summary, "\n".join(lines))
    return 0


def cmd_normalize(args: argparse.Namespace) -> int:
    from pathodesk.stain import normalizer

    image = read_section(args.image, NORMALIZE_SIDE)[0]
    reference = read_section(args.reference, NORMALIZE_SIDE)[0]
    started = time.perf_counter()
    out = normalizer(args.method).fit(reference).transform(image)
    seconds = time.perf_counter() - started
    save_png(args.out, out)
    emit(
        args,
        {
            "method": args.method,
            "out": str(args.out),
            "size": [out.shape[1], out.shape[0]],
            "seconds": round(seconds, 3),
        },
        f"{args.method}: {args.out} ({out.shape[1]} × {out.shape[0]}, {seconds:.2f} s)",
    )
    return 0


def register_commands(add: AddCommand) -> None:
    command = add("register", _("align a serial section (MOVING) onto another (FIXED), any stain"))
    command.add_argument("fixed", type=Path, help=_("reference image or slide"))
    command.add_argument("moving", type=Path, help=_("image or slide to align onto it"))
    command.add_argument("--points", type=Path, help=_("ImageJ CSV (' ,X,Y') of points in MOVING's pixels"))
    command.add_argument("--out-points", type=Path, help=_("write those points, carried into FIXED's pixels"))
    command.add_argument(
        "--overlay", type=Path, help=_("write a checkerboard picture of the alignment (PNG)")
    )
    command.add_argument("--json", action="store_true", help=_("print one JSON document"))
    command.set_defaults(handler=cmd_register)

    command = add("normalize", _("colour-normalize an image or slide to a reference (stain separation)"))
    command.add_argument(
        "image", type=Path, help=_("image or slide (a slide is read whole, at most 4096 px)")
    )
    command.add_argument("--reference", type=Path, required=True, help=_("reference image"))
    command.add_argument("--method", choices=("macenko", "vahadane", "reinhard"), default="macenko")
    command.add_argument("--out", type=Path, required=True, help=_("output PNG"))
    command.add_argument("--json", action="store_true", help=_("print one JSON document"))
    command.set_defaults(handler=cmd_normalize)


register = register_commands
