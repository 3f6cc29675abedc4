"""``pathodesk database``: back up the database (``backup``), list the backups kept
(``backups``) and put one back (``restore``, which first backs up what it replaces)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pathodesk.cli.common import AddCommand, emit, local_minute, settings_of
from pathodesk.cli.language import _
from pathodesk.cli.storage import size_text
from pathodesk.errors import PathoDeskError


def cmd_backup(args: argparse.Namespace) -> int:
    from pathodesk.lifecycle.backups import upgrade_schema
    from pathodesk.storage.backups import backups_backend, take_backup

    settings = settings_of(args)
    upgrade_schema(settings)  # a database from an older version is backed up as it is first
    taken = take_backup(settings)
    where = backups_backend(settings).url
    text = _("database backed up: %(name)s (%(size)s) in %(where)s")
    values = {"name": taken.name, "size": size_text(taken.bytes), "where": where}
    emit(args, {**taken.as_json(), "medium": where}, text % values)
    return 0


def cmd_backups(args: argparse.Namespace) -> int:
    from pathodesk.storage.backups import backups_backend, list_backups

    settings = settings_of(args)
    found = list_backups(settings)
    where = backups_backend(settings).url
    lines = [_("%(count)s backup(s) in %(where)s, newest first:") % {"count": len(found), "where": where}]
    reasons = {
        "nightly": _("nightly"),
        "manual": _("by hand"),
        "before-restore": _("before a restore"),
        "before-upgrade": _("before an upgrade"),
    }
    lines += [
        f"{b.name}  {local_minute(b.taken_at)}  {reasons[b.reason]}  {size_text(b.bytes)}" for b in found
    ]
    emit(args, {"medium": where, "backups": [b.as_json() for b in found]}, "\n".join(lines))
    return 0


def _confirmed(args: argparse.Namespace) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise PathoDeskError("a restore replaces every record: confirm with --yes")
    prompt = _(
        "This replaces every record (outlines, sign-offs, accounts) by the backup's. Type restore to go on: "
    )
    return input(prompt).strip() == "restore"


def cmd_restore(args: argparse.Namespace) -> int:
    from pathodesk.lifecycle.restore import restore_database

    settings = settings_of(args)
    if not _confirmed(args):
        print(_("nothing restored"), file=sys.stderr)
        return 1
    outcome = restore_database(settings, args.backup)
    emit(args, outcome, "\n".join(_restore_lines(outcome)))
    return 0


def _restore_lines(outcome: dict[str, Any]) -> list[str]:
    """What the restore did, and what of the time since the backup needs a person."""
    lines = [
        _("restored %(backup)s; what it replaced is kept as %(undo_with)s") % outcome,
        _("every login ended: everyone logs in again"),
    ]
    if outcome["files_relocated"]:
        lines.append(
            _("%(files_relocated)s file(s) had moved tier since the backup: their slides find them") % outcome
        )
    if outcome["slides_on_mirror_only"]:
        text = _(
            "slides %(ids)s have their file on the mirror only: `pathodesk storage scrub` copies it back"
        )
        lines.append(text % {"ids": _ids(outcome["slides_on_mirror_only"])})
    if outcome["slides_missing"]:
        text = _("slides %(ids)s were deleted after the backup: their files are gone")
        lines.append(text % {"ids": _ids(outcome["slides_missing"])})
    if outcome["files_unreferenced"]:
        text = _(
            "%(count)s file(s) were stored after the backup and no slide points at them: ingest them again"
        )
        lines.append(text % {"count": len(outcome["files_unreferenced"])})
    return lines


def _ids(values: list[int]) -> str:
    return ", ".join(str(value) for value in values)


def register(add: AddCommand) -> None:
    command = add("database", _("back up the database, list its backups, restore one"))
    actions = command.add_subparsers(dest="action", required=True)
    backup = actions.add_parser("backup", help=_("a copy of the database now, on the backups medium"))
    backups = actions.add_parser("backups", help=_("the backups kept, newest first"))
    restore = actions.add_parser(
        "restore", help=_("replace the database by a backup (what it replaces is backed up first)")
    )
    restore.add_argument("backup", help=_("a backup's name (`pathodesk database backups`) or a backup file"))
    restore.add_argument("--yes", action="store_true", help=_("do not ask for confirmation"))
    for parser, handler in ((backup, cmd_backup), (backups, cmd_backups), (restore, cmd_restore)):
        parser.add_argument("--data-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        parser.add_argument("--json", action="store_true", help=_("print one JSON document"))
        parser.set_defaults(handler=handler)
