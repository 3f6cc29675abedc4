"""``pathodesk ingest``: slide files into a case, one by one; a bad file is reported and
skipped, good ones are kept (the same path in as an upload: ``pathodesk.ingest``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from tqdm import tqdm

from pathodesk.cli.common import AddCommand, open_database, settings_of
from pathodesk.cli.language import _, error_text
from pathodesk.config import Settings
from pathodesk.errors import PathoDeskError
from pathodesk.storage import STORE_DOWNSAMPLES


def _owner_id(session: Session, account: str | None) -> int | None:
    from pathodesk.db.models import User

    if not account:
        return None
    user = session.scalar(select(User).where(User.account == account.lower()))
    if user is None:
        raise PathoDeskError("no account %(account)r", account=account)
    return user.id


def ingest_paths(
    settings: Settings,
    paths: Sequence[Path],
    *,
    patient: str,
    exam: str,
    disease_type: str,
    owner: str | None,
    show_progress: bool = True,
    store_downsample: int | None = None,
) -> tuple[list[dict[str, object]], list[dict[str, str]]]:
    """Ingest files one by one; a bad file is reported and skipped, good ones are kept."""
    from pathodesk.audit import record
    from pathodesk.cases import get_or_create_exam
    from pathodesk.ingest import ingest_staged, stage_copy

    db = open_database(settings)
    good: list[dict[str, object]] = []
    bad: list[dict[str, str]] = []
    files = [Path(p) for p in paths]
    total = sum(p.stat().st_size for p in files if p.is_file())
    with tqdm(
        total=total, unit="B", unit_scale=True, desc=_("ingest"), disable=not show_progress, file=sys.stderr
    ) as bar:
        for path in files:
            if not path.is_file():
                bad.append({"path": str(path), "error": _("not a file")})
                continue
            try:
                staged = stage_copy(settings, path, progress=bar.update)
                with db.session() as session:
                    exam_row = get_or_create_exam(
                        session,
                        patient_code=patient,
                        pathology_id=exam,
                        disease_type=disease_type,
                        owner_id=_owner_id(session, owner),
                    )
                    result = ingest_staged(
                        session,
                        settings,
                        staged,
                        exam_id=exam_row.id,
                        user_id=exam_row.created_by_id,
                        store_downsample=store_downsample,
                        before_commit=lambda slide: record(
                            session,
                            actor_id=None,
                            actor_account="cli",
                            action="create",
                            record_type="slide",
                            record_id=slide.id,
                            exam_id=slide.exam_id,
                            sha256=slide.sha256,
                        ),
                    )
                    good.append(
                        {"path": str(path), "slide_id": result.slide.id, "duplicate": result.duplicate}
                    )
            except PathoDeskError as exc:
                bad.append({"path": str(path), "error": error_text(exc)})
    db.dispose()
    return good, bad


def cmd_ingest(args: argparse.Namespace) -> int:
    good, bad = ingest_paths(
        settings_of(args),
        args.paths,
        patient=args.patient,
        exam=args.exam,
        disease_type=args.disease_type,
        owner=args.owner,
        show_progress=not args.json,
        store_downsample=args.store_downsample,
    )
    if args.json:
        print(json.dumps({"ingested": good, "failed": bad}))
    else:
        for item in good:
            line = (
                _("already stored: %(path)s -> slide %(slide)s")
                if item["duplicate"]
                else _("ok: %(path)s -> slide %(slide)s")
            )
            print(line % {"path": item["path"], "slide": item["slide_id"]})
        for failure in bad:
            print(_("failed: %(path)s: %(error)s") % failure, file=sys.stderr)
    return 1 if bad else 0


def register(add: AddCommand) -> None:
    command = add("ingest", _("ingest slide files"))
    command.add_argument("paths", nargs="+", type=Path, help=_("slide files"))
    command.add_argument("--patient", default="UNASSIGNED", help=_("patient ID (created when new)"))
    command.add_argument(
        "--exam", default="UNASSIGNED", help=_("pathology ID of the exam (created when new)")
    )
    command.add_argument("--disease-type", default="unclassified", help=_("disease type of a new exam"))
    command.add_argument("--owner", default=None, help=_("expert account that owns the case"))
    command.add_argument(
        "--store-downsample",
        type=int,
        choices=STORE_DOWNSAMPLES,
        default=None,
        help=_(
            "keep only a pyramid at 1/N of the scan's resolution (8: 1/64 of the pixels); "
            "full magnification is then generated by super-resolution (default: the disease type's)"
        ),
    )
    command.add_argument("--json", action="store_true", help=_("print one JSON document"))
    command.set_defaults(handler=cmd_ingest)
