"""The ``pathodesk`` command (API.md): one module per command group, each with a
``register(add)`` that declares its sub-commands; shared parts in ``common``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pathodesk.cli import (
    accounts,
    analysis,
    database,
    dataset,
    ihc,
    ingest,
    models,
    qc,
    registration,
    samples,
    sections,
    server,
    storage,
    superres,
    worker,
)
from pathodesk.cli.language import _, error_text, install
from pathodesk.errors import PathoDeskError

# the order of ``pathodesk --help``
COMMAND_GROUPS = (
    server,
    worker,
    accounts,
    ingest,
    qc,
    dataset,
    models,
    analysis,
    registration,
    ihc,
    sections,
    superres,
    storage,
    database,
    samples,
)


def build_parser() -> argparse.ArgumentParser:
    install()
    parser = argparse.ArgumentParser(prog="pathodesk", description=_("PathoDesk digital pathology platform"))
    parser.add_argument(
        "--data-dir", default=None, help=_("data directory (PATHODESK_DATA_DIR, default ./pathodesk-data)")
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.add_argument("--data-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return command

    for group in COMMAND_GROUPS:
        group.register(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except PathoDeskError as exc:
        print(f"pathodesk: {error_text(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
