"""``pathodesk classify-sections GROUP``: a section group's lesion classified from all its
stains by the exam type's active fusion model (SPEC D4–D6; issue 16, item 5), run here
rather than queued: the same code as the browser's job, its result printed."""

from __future__ import annotations

import argparse

from pathodesk.cli.common import AddCommand, emit, open_database, settings_of
from pathodesk.cli.language import _


def cmd_classify_sections(args: argparse.Namespace) -> int:
    from pathodesk.analysis.section_classify_job import run_section_classification
    from pathodesk.jobs.context import JobContext

    settings = settings_of(args)
    params: dict[str, object] = {"group_id": args.group}
    if args.annotation is not None:
        params["annotation_id"] = args.annotation
    context = JobContext(0, None, params, None, open_database(settings), settings)
    result = run_section_classification(context)
    lines = []
    for lesion in result["lesions"]:  # type: ignore[attr-defined]
        name = lesion.get("name") or _("annotation %(id)s") % {"id": lesion["annotation_id"]}
        if not lesion.get("patches"):
            lines.append(_("%(name)s: no tissue inside the outline") % {"name": name})
            continue
        weights = ", ".join(f"{stain} {weight:.2f}" for stain, weight in lesion["stain_weights"].items())
        lines.append(
            _("%(name)s: %(label)s (%(probability).0f %%, %(patches)s patches); stain weights %(weights)s")
            % {
                "name": name,
                "label": lesion["label"],
                "probability": 100 * lesion["probabilities"][lesion["label"]],
                "patches": lesion["patches"],
                "weights": weights,
            }
        )
    emit(args, result, "\n".join(lines))
    return 0


def register(add: AddCommand) -> None:
    command = add("classify-sections", _("classify the lesion of a section group from all its stains"))
    command.add_argument("group", type=int, help=_("the section group's id"))
    command.add_argument(
        "--annotation", type=int, default=None, help=_("one outline of the reference (default: each)")
    )
    command.add_argument("--json", action="store_true", help=_("print one JSON document"))
    command.set_defaults(handler=cmd_classify_sections)
