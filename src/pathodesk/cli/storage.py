"""``pathodesk storage`` (API.md; SPEC E1, E4, E5): what is kept where against what the scans
would take at full resolution (``report``), the placement policy applied and its moves run
(``apply-policy``), the mirror brought in step and checked (``scrub``), one patient's images
gathered (``organize``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pathodesk.cli.common import AddCommand, emit, open_database, progress_bar, settings_of


def _size(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if number < 1024 or unit == "TB":
            return f"{number:.1f} {unit}" if unit != "B" else f"{int(number)} B"
        number /= 1024
    return ""


def _mirror_line(mirror: dict[str, object]) -> str:
    if not mirror["configured"]:
        return "not configured"
    scrubbed = mirror.get("last_scrub")
    if not isinstance(scrubbed, dict):
        return "never scrubbed"
    return (
        f"last scrub {scrubbed['finished_at']}: {scrubbed['mismatches']} damaged cop(ies),"
        f" {scrubbed['unrepairable']} with no good copy"
    )


def cmd_storage_report(args: argparse.Namespace) -> int:
    from pathodesk.storage.report import storage_report

    settings = settings_of(args)
    with open_database(settings).session() as session:
        report = storage_report(session, settings)
    lines = []
    for name, tier in report["tiers"].items():  # type: ignore[attr-defined]
        lines.append(
            f"{name:<9} {tier['slides']} slide(s), {_size(tier['bytes'])} kept"
            f" of {_size(tier['scan_bytes'])} scanned ({tier['low_resolution_files']} at low resolution)"
        )
    lines.append(f"temporary {_size(report['temporary']['bytes'])} of generated tiles")  # type: ignore[index]
    lines.append(f"mirror    {_mirror_line(report['mirror'])}")  # type: ignore[arg-type]
    lines.append(f"moves     {report['moves']['planned']} planned, {report['moves']['failed']} failed")  # type: ignore[index]
    lines.append(
        f"in all    {_size(report['bytes'])} kept of {_size(report['scan_bytes'])}:"
        f" {float(report['saved_fraction']):.1%} saved"  # type: ignore[arg-type]
    )
    emit(args, report, "\n".join(lines))
    return 0


def _advance(bar: tqdm[Any]) -> Callable[[int, int], None]:
    """A (done, total) callback that moves the bar."""

    def progress(done: int, total: int) -> None:
        bar.total, bar.n = total, done
        bar.refresh()

    return progress


def cmd_apply_policy(args: argparse.Namespace) -> int:
    from pathodesk.lifecycle.schedule import apply_policy, run_moves

    settings = settings_of(args)
    db = open_database(settings)
    plan = apply_policy(db, settings, dry_run=args.dry_run)
    routes = ", ".join(f"{route} {n}" for route, n in plan["routes"].items()) or "none"  # type: ignore[attr-defined]
    lines = [
        f"{plan['misplaced_files']} file(s) on the wrong tier ({_size(plan['bytes_to_move'])}): {routes}"
    ]
    if not args.dry_run:
        with progress_bar(args, "moving", unit="file") as bar:
            outcome = run_moves(db, settings, progress=_advance(bar))
        plan["outcome"] = outcome
        lines.append(
            f"moved {outcome.get('done', 0)}, failed {outcome.get('failed', 0)};"
            f" {_size(plan['generated_bytes_dropped'])} of discharged patients' generated images dropped"
        )
    emit(args, plan, "\n".join(lines))
    return 1 if plan.get("outcome", {}).get("failed") else 0  # type: ignore[attr-defined]


def cmd_scrub(args: argparse.Namespace) -> int:
    from pathodesk.storage.mirror import scrub, sync_mirror

    settings = settings_of(args)
    db = open_database(settings)
    with progress_bar(args, "checking", unit="file") as bar:
        synced = sync_mirror(db, settings)
        record = scrub(db, settings, _advance(bar))
    result = {
        "mirror_configured": settings.mirror is not None,
        "copied_to_mirror": synced["copied"],
        "files": record.files,
        "mismatches": record.mismatches,
        "repaired": record.repaired,
        "unrepairable": record.unrepairable,
        "details": record.details,
    }
    emit(
        args,
        result,
        f"{record.files} file(s) checked: {record.mismatches} damaged cop(ies), {record.repaired} repaired,"
        f" {record.unrepairable} with no good copy left",
    )
    return 1 if record.unrepairable else 0


def cmd_organize(args: argparse.Namespace) -> int:
    from pathodesk.lifecycle.organize import find_patient, organize_patient

    settings = settings_of(args)
    db = open_database(settings)
    manifest = organize_patient(db, settings, find_patient(db, args.patient, args.owner), Path(args.out))
    exams: list[dict[str, list[object]]] = manifest["exams"]  # type: ignore[assignment]
    count = sum(len(exam["slides"]) for exam in exams)
    emit(args, manifest, f"{count} image(s) of patient {args.patient} gathered in {args.out}")
    return 0


def register(add: AddCommand) -> None:
    command = add("storage", "what storage holds, per tier")
    actions = command.add_subparsers(dest="action", required=True)
    report = actions.add_parser("report", help="slides and bytes per tier, against full-resolution scans")
    report.add_argument("--data-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    report.add_argument("--json", action="store_true")
    report.set_defaults(handler=cmd_storage_report)
    apply = actions.add_parser(
        "apply-policy", help="move every file to the tier its patient's records give it"
    )
    apply.add_argument("--dry-run", action="store_true", help="only say what would move")
    scrub = actions.add_parser("scrub", help="copy new files to the mirror; check and repair both copies")
    organize = actions.add_parser("organize", help="every image of one patient in one folder (or a .zip)")
    organize.add_argument("--patient", required=True, help="the patient code")
    organize.add_argument("--owner", help="the account that registered the patient, when codes repeat")
    organize.add_argument("--out", required=True, help="a new folder, or a file ending in .zip")
    for parser, handler in ((apply, cmd_apply_policy), (scrub, cmd_scrub), (organize, cmd_organize)):
        parser.add_argument("--data-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        parser.add_argument("--json", action="store_true")
        parser.set_defaults(handler=handler)
