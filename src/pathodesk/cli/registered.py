"""A registered model on the command line: one row per model (``models list``, ``train``),
and a finished training run written into the registry."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from pathodesk.cli.common import emit, open_database, settings_of
from pathodesk.cli.language import _
from pathodesk.db.models import TrainedModel


def model_row(model: TrainedModel) -> dict[str, object]:
    metrics = model.metrics or {}
    return {
        "disease_type": model.disease_type,
        "role": model.role,
        "version": model.version,
        "arch": model.arch,
        "labels": model.labels,
        "active": model.active,
        "source": model.source,
        "test_accuracy": metrics.get("accuracy"),
        "test_balanced_accuracy": metrics.get("balanced_accuracy"),
        "created_at": model.created_at.isoformat(),
    }


def describe(row: dict[str, object]) -> str:
    accuracy = row.get("test_accuracy")
    return _("%(model)s%(active)s  test accuracy %(accuracy)s  balanced %(balanced)s  [%(source)s]") % {
        "model": f"{row['disease_type']} {row['role']} v{row['version']} ({row['arch']})",
        "active": " " + _("ACTIVE") if row["active"] else "",
        "accuracy": accuracy if accuracy is not None else "—",
        "balanced": row.get("test_balanced_accuracy", "—"),
        "source": row["source"],
    }


def register_run(args: argparse.Namespace, role: str, save: Callable[[Path], dict[str, object]]) -> int:
    """``save`` writes the run into a new folder of the registry (card returned); the folder is
    registered for ``--disease-type`` (``--activate``) and gone whatever happens."""
    from pathodesk.ml import registry

    settings = settings_of(args)
    db = open_database(settings)
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".run-", dir=settings.models_dir) as folder:
        card = save(Path(folder))
        with db.session() as session:
            model = registry.register(
                session, settings, Path(folder), args.disease_type, role=role, activate=args.activate
            )
            row = model_row(model)
    emit(args, {**row, "card": card}, describe(row))
    return 0
