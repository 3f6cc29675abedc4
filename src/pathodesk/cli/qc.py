"""``pathodesk qc``: quality control of slide files (SPEC E2; one JSON object, or a line per
check)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pathodesk.cli.common import AddCommand, emit, progress_bar
from pathodesk.config import Settings


def cmd_qc(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from pathodesk.qc.checks import CHECKS
    from pathodesk.qc.report import run_qc
    from pathodesk.sampledata import fetch_he_reference
    from pathodesk.slides import open_slide

    reference_path = Path(args.reference) if args.reference else fetch_he_reference(Settings().sample_dir)
    reference = np.asarray(Image.open(reference_path).convert("RGB"))
    results: dict[str, dict[str, object]] = {}
    with progress_bar(args, "qc", total=len(args.slides) * len(CHECKS)) as bar:
        for path in args.slides:
            reader = open_slide(Path(path))
            try:
                report = run_qc(reader, reference, progress=lambda _step: bar.update(1))
            finally:
                reader.close()
            results[str(path)] = report.as_json()
    lines = []
    for path, result in results.items():
        lines.append(f"{'PASS' if result['passed'] else 'FAIL'}  {path}")
        checks = result["checks"]
        assert isinstance(checks, dict)
        for name, check in checks.items():
            lines.append(f"  {'ok  ' if check['passed'] else 'FLAG'} {name:16s} {check['score']}")
    emit(args, next(iter(results.values())) if len(results) == 1 else {"slides": results}, "\n".join(lines))
    return 0 if all(r["passed"] for r in results.values()) else 1


def register(add: AddCommand) -> None:
    command = add("qc", "quality control of slide files (blur, colour, pen, exposure, tissue)")
    command.add_argument("slides", nargs="+", type=Path)
    command.add_argument("--json", action="store_true")
    command.add_argument(
        "--reference", default=None, help="H&E colour reference image (default: TIAToolbox's)"
    )
    command.set_defaults(handler=cmd_qc)
