"""``pathodesk train`` and ``pathodesk models list|activate|evaluate`` (API.md; SPEC A3, B3–B6)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from pathodesk.cli.common import AddCommand, emit, open_database, settings_of
from pathodesk.cli.dataset import slide_and_geojson
from pathodesk.cli.language import _
from pathodesk.cli.registered import describe, model_row, register_run
from pathodesk.db.models import MODEL_ROLES, TrainedModel
from pathodesk.errors import PathoDeskError
from pathodesk.ml.tile_size import DEFAULT_TILE_PX

if TYPE_CHECKING:
    from pathodesk.ml.data import LabelledSet
    from pathodesk.ml.train import TrainConfig, TrainResult


DEFAULT_LR = 1e-4
DEFAULT_EPOCHS = 100
SUPERRES_EPOCHS = 16


def _parse_split(text: str) -> tuple[float, ...]:
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("split %(text)r: write it as 8:2 or 6:2:2") % {"text": text}
        ) from None
    if len(parts) not in (2, 3) or any(p <= 0 for p in parts):
        raise argparse.ArgumentTypeError(_("split %(text)r: two or three positive parts") % {"text": text})
    return tuple(p / sum(parts) for p in parts)


def cmd_train(args: argparse.Namespace) -> int:
    from pathodesk.db.models import DiseaseType
    from pathodesk.ml import registry
    from pathodesk.ml.data import read_groups, scan_class_folders

    if args.role == "superres":
        from pathodesk.cli.superres import train_superres_command

        args.epochs = args.epochs or SUPERRES_EPOCHS
        return train_superres_command(args)
    args.epochs = args.epochs or DEFAULT_EPOCHS
    if args.role == "fusion":
        return _train_fusion(args)
    if args.annotated:
        from pathodesk.ml.slide_tiles import annotated_slide_tiles

        pairs = [slide_and_geojson(text) for text in args.annotated]
        data = annotated_slide_tiles(pairs, args.tile_px)
        source = f"{len(pairs)} annotated slide(s), {args.tile_px} px tiles"
    elif args.data:
        data = scan_class_folders(args.data, read_groups(args.groups) if args.groups else None)
        source = f"{args.data.name}: class folders {data.labels}"
    else:
        raise PathoDeskError("train needs --data DIR (one sub-folder per class) or --annotated SLIDE=GEOJSON")
    settings = settings_of(args)
    db = open_database(settings)
    with db.session() as session:  # fail before hours of training, not after
        disease = session.get(DiseaseType, args.disease_type)
        if disease is None:
            raise PathoDeskError("disease type %(name)r does not exist", name=args.disease_type)
        grading = disease.grading
    # Only now: importing PyTorch, torchvision and scikit-learn takes seconds a wrong
    # argument should not wait for.
    from pathodesk.ml.train import TrainConfig, train, train_until

    config = TrainConfig(
        arch=args.arch,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        patience=args.patience,
        split=args.split,
        seed=args.seed,
        lr_step_epochs=args.lr_step_epochs,
        max_steps_per_epoch=args.max_steps,
        stain_jitter=args.stain_jitter,
        init_from=str(args.init_from) if args.init_from else None,
    )
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".run-", dir=settings.models_dir) as run:
        if args.role == "coarse":
            result = _train_coarse(args, data, config, grading, Path(run), source)
        elif args.min_val_balanced_accuracy is None:
            result = train(
                data,
                Path(run),
                config,
                disease_type=args.disease_type,
                data_description=source,
                progress=not args.json,
                role=args.role,
            )
        else:
            result, met = train_until(
                data,
                Path(run),
                config,
                min_validation=args.min_val_balanced_accuracy,
                attempts=args.attempts,
                disease_type=args.disease_type,
                data_description=source,
                progress=not args.json,
            )
            if not met:
                retraining = result.card["retraining"]
                assert isinstance(retraining, dict)
                scores = [round(a["val_balanced_accuracy"], 3) for a in retraining["attempts"]]
                raise PathoDeskError(
                    "validation balanced accuracy stayed below %(value)s in %(attempts)s attempt(s)"
                    " (%(scores)s); nothing was registered",
                    value=args.min_val_balanced_accuracy,
                    attempts=args.attempts,
                    scores=scores,
                )
        with db.session() as session:
            model = registry.register(
                session, settings, Path(run), args.disease_type, role=args.role, activate=args.activate
            )
            row = model_row(model)
    emit(args, {**row, "card": result.card}, describe(row))
    return 0


def _train_fusion(args: argparse.Namespace) -> int:
    """D4–D6: a multi-stain classifier from ``--data``'s lesions.csv, split 6:2:2 by group."""
    from pathodesk.ml.data import group_split
    from pathodesk.ml.fusion_data import VECTORS_ONLY, read_lesions
    from pathodesk.ml.fusion_train import FusionConfig, save_fusion_run, train_fusion

    if args.data is None or not (args.data / "lesions.csv").is_file():
        raise PathoDeskError("train --role fusion needs --data DIR with a lesions.csv (group,label,<stains>)")
    lesions = read_lesions(args.data / "lesions.csv", args.patch_px, args.downsample)
    split = args.split if len(args.split) == 3 else (0.6, 0.2, 0.2)
    train_part, validation, test = group_split(lesions.stacks, split, args.seed)
    splits = {"train": train_part, "validation": validation, "test": test}
    config = FusionConfig(
        stains=tuple(lesions.stains),
        methods=tuple(
            None
            if stain in args.no_colour
            else args.colour + (VECTORS_ONLY if stain in args.keep_amounts else "")
            for stain in lesions.stains
        ),
        patch_px=args.patch_px,
        microns_per_px=args.microns_per_px,
        backbone=args.backbone,
        epochs=args.epochs,
        lr=args.lr if args.lr != DEFAULT_LR else 1e-3,
        patience=args.patience,
        seed=args.seed,
        max_steps_per_epoch=args.max_steps,
    )
    run = train_fusion(splits, lesions.labels, config, progress=not args.json)
    return register_run(
        args,
        "fusion",
        lambda folder: save_fusion_run(
            run,
            splits,
            lesions.labels,
            config,
            folder,
            disease_type=args.disease_type,
            data_description=f"{args.data.name}: {len(lesions.stacks)} patches of {lesions.stains}",
        ),
    )


def _train_coarse(
    args: argparse.Namespace,
    data: LabelledSet,
    config: TrainConfig,
    grading: dict[str, object] | None,
    run: Path,
    source: str,
) -> TrainResult:
    """Stage 1 of the cascade (C1): the same split as any model, graded on the type's scale."""
    from pathodesk.analysis.params import default_background
    from pathodesk.ml.coarse_train import CoarseConfig, train_coarse
    from pathodesk.ml.grades import disease_scale
    from pathodesk.ml.train import TrainResult, make_splits

    scale = disease_scale(args.disease_type, grading, data.labels, default_background(data.labels))
    splits = make_splits(data, config)
    card = train_coarse(
        {"train": splits.train, "validation": splits.validation, "test": splits.test},
        data,
        scale.names,
        [scale.severity(scale.grade_of(label)) for label in data.labels],
        run,
        CoarseConfig(steps=args.steps, seed=args.seed),
        disease_type=args.disease_type,
        notes=[source],
        progress=not args.json,
    )
    return TrainResult(run, card)


def cmd_models(args: argparse.Namespace) -> int:
    from pathodesk.ml import registry

    settings = settings_of(args)
    db = open_database(settings)
    with db.session() as session:
        if args.action == "list":
            query = select(TrainedModel).order_by(
                TrainedModel.disease_type, TrainedModel.role, TrainedModel.version
            )
            if args.disease_type:
                query = query.where(TrainedModel.disease_type == args.disease_type)
            rows = [model_row(m) for m in session.scalars(query)]
            emit(args, rows, "\n".join(describe(r) for r in rows) or _("no models"))
            return 0
        if not args.disease_type:
            raise PathoDeskError("models %(action)s needs --disease-type", action=args.action)
        model = registry.find_version(session, args.disease_type, args.version, role=args.role)
        if args.action == "activate":
            registry.set_active(session, model)
            emit(args, model_row(model), describe(model_row(model)))
            return 0
        if not args.data:
            raise PathoDeskError("models evaluate needs --data DIR (one sub-folder per class)")
        from pathodesk.ml.data import require_known_classes, scan_class_folders

        data = scan_class_folders(args.data)
        require_known_classes(data.labels, model.labels)  # said before PyTorch loads
        from pathodesk.ml.train import evaluate

        metrics = evaluate(registry.load(settings, model), data, progress=not args.json)
    emit(
        args,
        metrics,
        _(
            "%(model)s: accuracy %(accuracy)s\n  balanced accuracy %(balanced_accuracy)s\n"
            "  F1 per class: %(per_class_f1)s\n  confusion (rows true %(labels)s): %(confusion_matrix)s"
        )
        % {"model": f"{args.disease_type} v{model.version}", **metrics},
    )
    return 0


def register(add: AddCommand) -> None:
    command = add("train", _("train a model on class folders and register it"))
    command.add_argument("--disease-type", required=True)
    command.add_argument("--data", type=Path, help=_("one sub-folder per class"))
    command.add_argument(
        "--annotated",
        action="append",
        default=[],
        metavar="SLIDE=GEOJSON",
        help=_("train on tiles inside the annotations of a slide (QuPath GeoJSON); repeatable"),
    )
    command.add_argument(
        "--tile-px", type=int, default=DEFAULT_TILE_PX, help=_("tile edge for --annotated, level-0 px")
    )
    command.add_argument("--groups", type=Path, help=_("CSV path,group: files of one patient/slide/source"))
    command.add_argument(
        "--arch",
        default="shortcut-concat",
        help=_("shortcut-concat, a timm name, or fpn-<timm name> (a feature pyramid: --role fine)"),
    )
    command.add_argument(
        "--init-from", type=Path, default=None, help=_("model.pt whose backbone starts this one")
    )
    command.add_argument("--steps", type=int, default=4000, help=_("training steps of a --role coarse model"))
    command.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=_("default %(epochs)s; %(superres)s for --role superres")
        % {"epochs": DEFAULT_EPOCHS, "superres": SUPERRES_EPOCHS},
    )
    command.add_argument("--lr", type=float, default=DEFAULT_LR, help=_("1e-4; 1e-3 for --role fusion"))
    command.add_argument("--lr-step-epochs", type=int, default=10)
    command.add_argument("--batch-size", type=int, default=32)
    command.add_argument("--patience", type=int, default=10)
    command.add_argument("--split", type=_parse_split, default=(0.8, 0.2), help=_("8:2 (default) or 6:2:2"))
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--stain-jitter", type=float, default=0.0, help=_("HED jitter strength, e.g. 0.1"))
    command.add_argument("--max-steps", type=int, default=None, help=_("cap steps per epoch (smoke runs)"))
    command.add_argument(
        "--min-val-balanced-accuracy",
        type=float,
        default=None,
        help=_("retrain with the next seed until the validation split reaches this; register only then"),
    )
    command.add_argument(
        "--attempts", type=int, default=3, help=_("runs at most, with --min-val-balanced-accuracy")
    )
    command.add_argument(
        "--role", choices=MODEL_ROLES, default="tile", help=_("what the model does (default tile)")
    )
    fusion = command.add_argument_group(
        _("--role fusion (a multi-stain lesion classifier; --data holds lesions.csv)")
    )
    fusion.add_argument(
        "--patch-px", type=int, default=28, help=_("patch edge in px (28 as the seed network)")
    )
    fusion.add_argument("--downsample", type=float, default=1.0, help=_("shrink the images by this first"))
    fusion.add_argument(
        "--microns-per-px", type=float, default=None, help=_("of the patches, to match slides")
    )
    fusion.add_argument(
        "--colour", default="macenko", choices=("macenko", "vahadane"), help=_("per-stain normalization")
    )
    fusion.add_argument(
        "--no-colour",
        action="append",
        default=[],
        metavar="STAIN",
        help=_("a stain left as it is (fluorescence)"),
    )
    fusion.add_argument(
        "--keep-amounts",
        action="append",
        default=[],
        metavar="STAIN",
        help=_("recolour only, keep the stain's amounts (IHC: the amount is the finding)"),
    )
    fusion.add_argument(
        "--backbone", default=None, help=_("a timm name per stain instead of the seed's branch")
    )
    superres = command.add_argument_group(
        _("--role superres (a generator; --data holds high-resolution images)")
    )
    superres.add_argument("--scale", type=int, choices=(4, 8), default=4)
    superres.add_argument(
        "--recipe",
        choices=("l1", "gan"),
        default="gan",
        help=_("gan: L1 first, then perceptual + adversarial"),
    )
    superres.add_argument("--width", type=int, default=48, help=_("feature maps of the generator's body"))
    superres.add_argument("--blocks", type=int, default=6, help=_("residual blocks of the generator's body"))
    command.add_argument(
        "--activate", action="store_true", help=_("make it the active model of its type and role")
    )
    command.add_argument("--json", action="store_true", help=_("print one JSON document"))
    command.set_defaults(handler=cmd_train)

    command = add("models", _("list, activate or evaluate registered models"))
    command.add_argument("action", choices=("list", "activate", "evaluate"))
    command.add_argument("--disease-type", default=None)
    command.add_argument("--version", type=int, default=None, help=_("default: the active one of --role"))
    command.add_argument("--role", choices=MODEL_ROLES, default="tile")
    command.add_argument("--data", type=Path, default=None)
    command.add_argument("--json", action="store_true", help=_("print one JSON document"))
    command.set_defaults(handler=cmd_models)
