"""``pathodesk superres IMAGE --scale 4|8 --out OUT.png`` and ``pathodesk train --role
superres`` (API.md; SPEC E6): any RGB image enlarged by the active super-resolution model of
that scale; a generator trained from a folder of high-resolution tissue images."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from pathodesk.cli.common import (
    AddCommand,
    bar_progress,
    emit,
    open_database,
    progress_bar,
    save_png,
    settings_of,
)
from pathodesk.cli.language import _
from pathodesk.cli.registered import register_run
from pathodesk.errors import PathoDeskError, ValidationFailedError

MAX_OUTPUT_PIXELS = 400_000_000  # ~1.2 GB of RGB: larger belongs in a slide, read tile by tile


def read_rgb(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ValidationFailedError("No such file: %(path)s", path=str(path))
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValidationFailedError(
            "%(name)s is not a readable image (%(exc)s)", name=path.name, exc=exc
        ) from None


def cmd_superres(args: argparse.Namespace) -> int:
    from pathodesk.analysis.superres import super_resolve_tiled, superres_model_record
    from pathodesk.ml.registry import load_superres

    low = read_rgb(args.image)
    if low.shape[0] * low.shape[1] * args.scale**2 > MAX_OUTPUT_PIXELS:
        raise ValidationFailedError(
            "%(name)s enlarged %(scale)s× would exceed %(limit)s pixels: ingest it as a slide instead",
            name=args.image.name,
            scale=args.scale,
            limit=MAX_OUTPUT_PIXELS,
        )
    settings = settings_of(args)
    with open_database(settings).session() as session:
        record = superres_model_record(session, args.scale, args.disease_type)
        model = load_superres(settings, record)
        name = f"{record.disease_type} v{record.version} ({record.arch})"
    started = time.perf_counter()
    with progress_bar(args, _("super-resolution"), _("tile")) as bar:
        high = super_resolve_tiled(model.model, low, progress=bar_progress(bar))
    seconds = time.perf_counter() - started
    save_png(args.out, high)
    emit(
        args,
        {
            "model": name,
            "scale": args.scale,
            "out": str(args.out),
            "size": [high.shape[1], high.shape[0]],
            "seconds": round(seconds, 3),
        },
        _("×%(scale)s by %(model)s: %(out)s (%(width)s × %(height)s, %(seconds).1f s)")
        % {
            "scale": args.scale,
            "model": name,
            "out": args.out,
            "width": high.shape[1],
            "height": high.shape[0],
            "seconds": seconds,
        },
    )
    return 0


def train_superres_command(args: argparse.Namespace) -> int:
    """``train --role superres``: from ``--data`` (high-resolution images; ``--groups`` maps
    file names to patients), split by patient; ``--recipe gan`` trains the L1 generator first
    and fine-tunes it with the perceptual and adversarial losses."""
    from dataclasses import replace

    from pathodesk.ml.data import group_split, read_groups
    from pathodesk.ml.registry import SHIPPED_DIR
    from pathodesk.ml.superres_data import read_images
    from pathodesk.ml.superres_losses import TissueFeatures
    from pathodesk.ml.superres_nets import check_reach
    from pathodesk.ml.superres_train import SuperResConfig, save_superres_run, train_superres

    if args.data is None:
        raise PathoDeskError("train --role superres needs --data DIR of high-resolution images")
    check_reach(args.scale, args.blocks)  # before reading any image
    images = read_images(args.data, read_groups(args.groups) if args.groups else None)
    parts = group_split(images, args.split, args.seed)
    if len(parts[1]) == 0:
        raise PathoDeskError("train --role superres needs at least two patients (one to validate on)")
    splits = dict(zip(("train", "validation", "test"), parts, strict=False))
    config = SuperResConfig(
        scale=args.scale,
        width=args.width,
        blocks=args.blocks,
        epochs=args.epochs,
        steps_per_epoch=args.max_steps or 80,
        batch_size=min(args.batch_size, 16),
        seed=args.seed,
    )
    features = TissueFeatures(SHIPPED_DIR / "lung" / "model.pt")
    run = train_superres(splits["train"], splits["validation"], config, features, progress=not args.json)
    if args.recipe == "gan":
        config = replace(config, recipe="gan", lr=config.lr / 8)
        run = train_superres(
            splits["train"], splits["validation"], config, features, start=run.model, progress=not args.json
        )
    return register_run(
        args,
        "superres",
        lambda folder: save_superres_run(
            run,
            splits,
            config,
            folder,
            disease_type=args.disease_type,
            data_description=f"{args.data.name}: {len(images)} high-resolution images",
        ),
    )


def register(add: AddCommand) -> None:
    command = add("superres", _("enlarge an image ×4 or ×8 with the active super-resolution model"))
    command.add_argument("image", type=Path, help=_("any RGB image (PNG, JPEG, TIFF)"))
    command.add_argument("--scale", type=int, choices=(4, 8), required=True)
    command.add_argument("--out", type=Path, required=True, help=_("output PNG"))
    command.add_argument(
        "--disease-type",
        default=None,
        help=_("whose active model (default: the general one, type unclassified)"),
    )
    command.add_argument("--json", action="store_true", help=_("print one JSON document"))
    command.set_defaults(handler=cmd_superres)
