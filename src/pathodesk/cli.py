"""The ``pathodesk`` command (API.md): serve, demo, create-admin, ingest, qc, train, models,
fetch-samples."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from tqdm import tqdm

from pathodesk.cli_analysis import add_analysis_commands
from pathodesk.cli_models import add_model_commands
from pathodesk.config import Settings
from pathodesk.errors import PathoDeskError

if TYPE_CHECKING:
    from pathodesk.db.session import Database

DEMO_ADMIN = ("admin", "Demo Administrator")
DEMO_EXPERT = ("expert", "Demo Pathologist")
DEMO_PASSWORD_DEFAULT = "pathodesk-demo-1"  # noqa: S105 - printed demo account, override by env


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {"data_dir": Path(args.data_dir)} if getattr(args, "data_dir", None) else {}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    settings.ensure_dirs()
    return settings


def open_database(settings: Settings) -> Database:
    """Migrated, with the shipped models registered: what every command expects to find."""
    from pathodesk.db.session import Database, migrate
    from pathodesk.ml.shipped import install_shipped_models

    url = settings.resolved_database_url()
    migrate(url)
    db = Database(url)
    install_shipped_models(db, settings)
    return db


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Repeat password: "):
            raise PathoDeskError("the passwords differ")
        return first
    raise PathoDeskError("give the password with --password-stdin or run in a terminal")


def cmd_create_admin(args: argparse.Namespace) -> int:
    from pathodesk.accounts import create_user
    from pathodesk.db.models import Role

    settings = _settings(args)
    password = _read_password(args)
    db = open_database(settings)
    with db.session() as session:
        user = create_user(
            session,
            account=args.account,
            name=args.name or args.account,
            password=password,
            role=Role.admin,
        )
        print(f"administrator {user.account!r} created")
    return 0


def _owner_id(session, account: str | None) -> int | None:  # type: ignore[no-untyped-def]
    from pathodesk.db.models import User

    if not account:
        return None
    user = session.scalar(select(User).where(User.account == account.lower()))
    if user is None:
        raise PathoDeskError(f"no account {account!r}")
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
        total=total,
        unit="B",
        unit_scale=True,
        desc="ingest",
        disable=not show_progress,
        file=sys.stderr,
    ) as bar:
        for path in files:
            if not path.is_file():
                bad.append({"path": str(path), "error": "not a file"})
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
                        {
                            "path": str(path),
                            "slide_id": result.slide.id,
                            "duplicate": result.duplicate,
                        }
                    )
            except PathoDeskError as exc:
                bad.append({"path": str(path), "error": exc.detail})
    db.dispose()
    return good, bad


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = _settings(args)
    good, bad = ingest_paths(
        settings,
        args.paths,
        patient=args.patient,
        exam=args.exam,
        disease_type=args.disease_type,
        owner=args.owner,
        show_progress=not args.json,
    )
    if args.json:
        print(json.dumps({"ingested": good, "failed": bad}))
    else:
        for item in good:
            note = " (already stored)" if item["duplicate"] else ""
            print(f"ok    {item['path']} -> slide {item['slide_id']}{note}")
        for failure in bad:
            print(f"FAIL  {failure['path']}: {failure['error']}", file=sys.stderr)
    return 1 if bad else 0


def cmd_qc(args: argparse.Namespace) -> int:
    """Quality control of slide files (issue 5): one JSON object, or a line per check."""
    import numpy as np
    from PIL import Image

    from pathodesk.qc.report import CHECKS, run_qc
    from pathodesk.sampledata import fetch_he_reference
    from pathodesk.slides import open_slide

    settings = Settings()
    reference_path = Path(args.reference) if args.reference else fetch_he_reference(settings.sample_dir)
    reference = np.asarray(Image.open(reference_path).convert("RGB"))
    results: dict[str, object] = {}
    with tqdm(total=len(args.slides) * len(CHECKS), desc="qc", file=sys.stderr, disable=args.json) as bar:
        for path in args.slides:
            reader = open_slide(Path(path))
            try:
                report = run_qc(reader, reference, progress=lambda _step: bar.update(1))
            finally:
                reader.close()
            results[str(path)] = report.as_json()
    if args.json:
        print(json.dumps(next(iter(results.values())) if len(results) == 1 else {"slides": results}))
    else:
        for path, result in results.items():
            assert isinstance(result, dict)
            print(f"{'PASS' if result['passed'] else 'FAIL'}  {path}")
            for name, check in result["checks"].items():
                print(f"  {'ok  ' if check['passed'] else 'FLAG'} {name:16s} {check['score']}")
    return 0 if all(isinstance(r, dict) and r["passed"] for r in results.values()) else 1


def cmd_fetch_samples(args: argparse.Namespace) -> int:
    from pathodesk.sampledata import ensure_samples

    settings = Settings()
    sample_dir = Path(args.sample_dir) if args.sample_dir else settings.sample_dir
    for path in ensure_samples(sample_dir):
        print(path)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from pathodesk.web.app import create_app

    settings = _settings(args)
    app = create_app(settings)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pathodesk.accounts import create_user
    from pathodesk.db.models import Role
    from pathodesk.sampledata import ensure_samples, shared_slides

    settings = _settings(args)
    password = os.environ.get("PATHODESK_DEMO_PASSWORD", DEMO_PASSWORD_DEFAULT)
    db = open_database(settings)
    with db.session() as session:
        for (account, name), role in ((DEMO_ADMIN, Role.admin), (DEMO_EXPERT, Role.expert)):
            create_user(
                session,
                account=account,
                name=name,
                password=password,
                role=role,
                update_existing=True,
            )
    db.dispose()
    samples = ensure_samples(settings.sample_dir)
    slides = samples + shared_slides(settings.shared_data_dir)
    good, bad = ingest_paths(
        settings,
        slides,
        patient="DEMO-PATIENT-1",
        exam="DEMO-EXAM-1",
        disease_type="lung",
        owner=DEMO_EXPERT[0],
    )
    print(f"demo: {len(good)} slides loaded, {len(bad)} could not be read")
    for item in bad:
        print(f"  skipped {item['path']}: {item['error']}")
    print(f"demo accounts: {DEMO_ADMIN[0]} / {password} (admin), {DEMO_EXPERT[0]} / {password} (expert)")
    print(f"open http://{args.host}:{args.port}")
    return cmd_serve(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pathodesk", description="PathoDesk digital pathology platform")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="data directory (PATHODESK_DATA_DIR, default ./pathodesk-data)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--data-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return command

    for name, help_text, handler in (
        ("serve", "serve the web platform", cmd_serve),
        ("demo", "load samples and serve", cmd_demo),
    ):
        command = add(name, help_text)
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=8000)
        command.set_defaults(handler=handler)

    command = add("create-admin", "create (or refuse to overwrite) an administrator")
    command.add_argument("--account", required=True)
    command.add_argument("--name", default=None)
    command.add_argument("--password-stdin", action="store_true")
    command.set_defaults(handler=cmd_create_admin)

    command = add("ingest", "ingest slide files")
    command.add_argument("paths", nargs="+", type=Path)
    command.add_argument("--patient", default="UNASSIGNED")
    command.add_argument("--exam", default="UNASSIGNED")
    command.add_argument("--disease-type", default="unclassified")
    command.add_argument("--owner", default=None, help="expert account that owns the case")
    command.add_argument("--json", action="store_true")
    command.set_defaults(handler=cmd_ingest)

    command = add("qc", "quality control of slide files (blur, colour, pen, exposure, tissue)")
    command.add_argument("slides", nargs="+", type=Path)
    command.add_argument("--json", action="store_true")
    command.add_argument(
        "--reference", default=None, help="H&E colour reference image (default: TIAToolbox's)"
    )
    command.set_defaults(handler=cmd_qc)

    add_model_commands(add, _settings)
    add_analysis_commands(add, _settings)

    command = add("fetch-samples", "download and prepare the sample slides")
    command.add_argument("--sample-dir", default=None)
    command.set_defaults(handler=cmd_fetch_samples)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except PathoDeskError as exc:
        print(f"pathodesk: {exc.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
