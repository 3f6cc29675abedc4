"""``pathodesk storage report`` (API.md; SPEC E1, E4): what is kept where, against what the
scans would take at full resolution."""

from __future__ import annotations

import argparse

from pathodesk.cli.common import AddCommand, emit, open_database, settings_of


def _size(value: object) -> str:
    number = float(value)  # type: ignore[arg-type]
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if number < 1024 or unit == "TB":
            return f"{number:.1f} {unit}" if unit != "B" else f"{int(number)} B"
        number /= 1024
    return ""


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
    lines.append(
        f"in all    {_size(report['bytes'])} kept of {_size(report['scan_bytes'])}:"
        f" {float(report['saved_fraction']):.1%} saved"  # type: ignore[arg-type]
    )
    emit(args, report, "\n".join(lines))
    return 0


def register(add: AddCommand) -> None:
    command = add("storage", "what storage holds, per tier")
    actions = command.add_subparsers(dest="action", required=True)
    report = actions.add_parser("report", help="slides and bytes per tier, against full-resolution scans")
    report.add_argument("--data-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    report.add_argument("--json", action="store_true")
    report.set_defaults(handler=cmd_storage_report)
