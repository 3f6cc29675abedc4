"""``pathodesk storage`` (API.md; SPEC E1, E4, E5): what is kept where against what the scans
would take at full resolution (``report``), the placement policy applied and its moves run
(``apply-policy``), the mirror brought in step and checked (``scrub``), one patient's images
gathered (``organize``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pathodesk.cli.common import AddCommand, emit, local_minute, open_database, progress_bar, settings_of
from pathodesk.cli.language import _, cli_locale


def size_text(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if number < 1024 or unit == "TB":
            return f"{number:.1f} {unit}" if unit != "B" else f"{int(number)} B"
        number /= 1024
    return ""


def _mirror_line(mirror: dict[str, object]) -> str:
    if not mirror["configured"]:
        return _("not configured")
    scrubbed = mirror.get("last_scrub")
    if not isinstance(scrubbed, dict):
        return _("never scrubbed")
    return (
        _("last scrub %(finished_at)s: %(mismatches)s damaged cop(ies), %(unrepairable)s with no good copy")
        % scrubbed
    )


def _backups_line(backups: dict[str, Any]) -> str:
    if "error" in backups:
        return _("cannot be listed: %(error)s") % backups
    if not backups["newest"]:
        return _("none yet: the database has never been backed up")
    line = _("%(count)s kept (%(size)s), newest %(when)s") % {
        "count": backups["count"],
        "size": size_text(backups["bytes"]),
        "when": local_minute(datetime.fromisoformat(backups["newest"]["taken_at"])),
    }
    if backups["beside_database"]:
        line += "; " + _("on the database's own disk: set PATHODESK_BACKUPS or a mirror")
    return line


def cmd_storage_report(args: argparse.Namespace) -> int:
    from pathodesk.storage.report import storage_report
    from pathodesk.web.vocabulary import term

    settings = settings_of(args)
    with open_database(settings).session() as session:
        report = storage_report(session, settings)
    lines = []
    for name, tier in report["tiers"].items():  # type: ignore[attr-defined]
        line = _("%(slides)s slide(s), %(bytes)s kept of %(scan_bytes)s scanned (%(low)s at low resolution)")
        values = {"bytes": size_text(tier["bytes"]), "scan_bytes": size_text(tier["scan_bytes"])}
        shown = term(cli_locale(), "tier", "long_term" if name == "long" else name)
        lines.append(f"{shown:<9} " + line % {**tier, **values, "low": tier["low_resolution_files"]})
    temporary = size_text(report["temporary"]["bytes"])  # type: ignore[index]
    lines.append(_("temporary %(bytes)s of generated tiles") % {"bytes": temporary})
    lines.append(_("mirror    %(state)s") % {"state": _mirror_line(report["mirror"])})  # type: ignore[arg-type]
    lines.append(_("moves     %(planned)s planned, %(failed)s failed") % report["moves"])
    lines.append(_("backups   %(state)s") % {"state": _backups_line(report["database_backups"])})  # type: ignore[arg-type]
    lines.append(
        _("in all    %(bytes)s kept of %(scan_bytes)s: %(saved).1f %% saved")
        % {
            "bytes": size_text(report["bytes"]),
            "scan_bytes": size_text(report["scan_bytes"]),
            "saved": 100 * float(report["saved_fraction"]),  # type: ignore[arg-type]
        }
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
    routes = ", ".join(f"{route} {n}" for route, n in plan["routes"].items()) or _("none")  # type: ignore[attr-defined]
    lines = [
        _("%(count)s file(s) on the wrong tier (%(bytes)s): %(routes)s")
        % {"count": plan["misplaced_files"], "bytes": size_text(plan["bytes_to_move"]), "routes": routes}
    ]
    if not args.dry_run:
        with progress_bar(args, _("moving"), unit="file") as bar:
            outcome = run_moves(db, settings, progress=_advance(bar))
        plan["outcome"] = outcome
        lines.append(
            _("moved %(done)s, failed %(failed)s; %(bytes)s of discharged patients' generated images dropped")
            % {
                "done": outcome.get("done", 0),
                "failed": outcome.get("failed", 0),
                "bytes": size_text(plan["generated_bytes_dropped"]),
            }
        )
    emit(args, plan, "\n".join(lines))
    return 1 if plan.get("outcome", {}).get("failed") else 0  # type: ignore[attr-defined]


def cmd_scrub(args: argparse.Namespace) -> int:
    from pathodesk.storage.mirror import scrub, sync_mirror

    settings = settings_of(args)
    db = open_database(settings)
    with progress_bar(args, _("checking"), unit="file") as bar:
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
        _(
            "%(files)s file(s) checked: %(mismatches)s damaged cop(ies), %(repaired)s repaired,"
            " %(unrepairable)s with no good copy left"
        )
        % {
            "files": record.files,
            "mismatches": record.mismatches,
            "repaired": record.repaired,
            "unrepairable": record.unrepairable,
        },
    )
    return 1 if record.unrepairable else 0


def cmd_organize(args: argparse.Namespace) -> int:
    from pathodesk.lifecycle.organize import find_patient, organize_patient

    settings = settings_of(args)
    db = open_database(settings)
    manifest = organize_patient(db, settings, find_patient(db, args.patient, args.owner), Path(args.out))
    exams: list[dict[str, list[object]]] = manifest["exams"]  # type: ignore[assignment]
    count = sum(len(exam["slides"]) for exam in exams)
    gathered = _("%(count)s image(s) of patient %(patient)s gathered in %(out)s")
    emit(args, manifest, gathered % {"count": count, "patient": args.patient, "out": args.out})
    return 0


def register(add: AddCommand) -> None:
    command = add("storage", _("what storage holds, per tier"))
    actions = command.add_subparsers(dest="action", required=True)
    report = actions.add_parser("report", help=_("slides and bytes per tier, against full-resolution scans"))
    report.add_argument("--data-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    report.add_argument("--json", action="store_true", help=_("print one JSON document"))
    report.set_defaults(handler=cmd_storage_report)
    apply = actions.add_parser(
        "apply-policy", help=_("move every file to the tier its patient's records give it")
    )
    apply.add_argument("--dry-run", action="store_true", help=_("only say what would move"))
    scrub = actions.add_parser("scrub", help=_("copy new files to the mirror; check and repair both copies"))
    organize = actions.add_parser("organize", help=_("every image of one patient in one folder (or a .zip)"))
    organize.add_argument("--patient", required=True, help=_("the patient code"))
    organize.add_argument("--owner", help=_("the account that registered the patient, when codes repeat"))
    organize.add_argument("--out", required=True, help=_("a new folder, or a file ending in .zip"))
    for parser, handler in ((apply, cmd_apply_policy), (scrub, cmd_scrub), (organize, cmd_organize)):
        parser.add_argument("--data-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        parser.add_argument("--json", action="store_true", help=_("print one JSON document"))
        parser.set_defaults(handler=handler)
