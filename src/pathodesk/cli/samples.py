"""``pathodesk fetch-samples``: download and prepare the sample slides (``make samples``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pathodesk.cli.common import AddCommand
from pathodesk.cli.language import _
from pathodesk.config import Settings


def cmd_fetch_samples(args: argparse.Namespace) -> int:
    from pathodesk.sampledata import ensure_samples

    sample_dir = Path(args.sample_dir) if args.sample_dir else Settings().sample_dir
    for path in ensure_samples(sample_dir):
        print(path)
    return 0


def register(add: AddCommand) -> None:
    command = add("fetch-samples", _("download and prepare the sample slides"))
    command.add_argument("--sample-dir", default=None, help=_("where to keep them (default: ./sample-data)"))
    command.set_defaults(handler=cmd_fetch_samples)
