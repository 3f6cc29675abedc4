"""``pathodesk qc``: quality control of slide files (SPEC E2; one JSON object, or a line per
check)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pathodesk.cli.common import AddCommand, emit, progress_bar, settings_of
from pathodesk.cli.language import _, cli_locale


def cmd_qc(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from pathodesk.qc.checks import CHECKS
    from pathodesk.qc.colour_reference import current_references, histograms, image_histogram
    from pathodesk.qc.report import run_qc
    from pathodesk.slides import open_slide
    from pathodesk.stain.kind import STAINS
    from pathodesk.web.vocabulary import term

    references: dict[str, np.ndarray | None]
    if args.reference:  # the one standard for every stain
        given = image_histogram(np.asarray(Image.open(args.reference).convert("RGB")))
        references = dict.fromkeys(STAINS, given)
    else:
        references = histograms(current_references(settings_of(args)))
    results: dict[str, dict[str, object]] = {}
    with progress_bar(args, _("quality control"), total=len(args.slides) * len(CHECKS)) as bar:
        for path in args.slides:
            reader = open_slide(Path(path))
            try:
                report = run_qc(reader, references, progress=lambda _step: bar.update(1))
            finally:
                reader.close()
            results[str(path)] = report.as_json()
    lines = []
    for path, result in results.items():
        lines.append(f"{_('passed') if result['passed'] else _('failed')}: {path}")
        lines.append(f"  {_('stain')}: {term(cli_locale(), 'stain', str(result['stain']))}")
        checks = result["checks"]
        assert isinstance(checks, dict)
        for name, check in checks.items():
            score = "—" if check["score"] is None else check["score"]  # not measurable on this slide
            lines.append(f"  {_verdict(check)}: {term(cli_locale(), 'qc', name)} {score}")
    emit(args, next(iter(results.values())) if len(results) == 1 else {"slides": results}, "\n".join(lines))
    return 0 if all(r["passed"] for r in results.values()) else 1


def _verdict(check: dict[str, object]) -> str:
    if check.get("applies") is False:  # fluorescence, or an IHC slide without an IHC reference
        return _("not applicable")
    return _("ok") if check["passed"] else _("flagged")


def register(add: AddCommand) -> None:
    command = add("qc", _("quality control of slide files (blur, colour, pen, exposure, tissue)"))
    command.add_argument("slides", nargs="+", type=Path, help=_("slide files"))
    command.add_argument("--json", action="store_true", help=_("print one JSON document"))
    command.add_argument(
        "--reference",
        default=None,
        help=_(
            "colour reference image for every slide (default: the lab's reference slide of the slide's"
            " stain; for H&E without one, TIAToolbox's H&E tile)"
        ),
    )
    command.set_defaults(handler=cmd_qc)
