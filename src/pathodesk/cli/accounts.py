"""``pathodesk create-admin``: the first administrator, password from a terminal or stdin."""

from __future__ import annotations

import argparse
import getpass
import sys

from pathodesk.cli.common import AddCommand, open_database, settings_of
from pathodesk.cli.language import _
from pathodesk.errors import PathoDeskError


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if sys.stdin.isatty():
        first = getpass.getpass(_("Password: "))
        if first != getpass.getpass(_("Repeat password: ")):
            raise PathoDeskError("the passwords differ")
        return first
    raise PathoDeskError("give the password with --password-stdin or run in a terminal")


def cmd_create_admin(args: argparse.Namespace) -> int:
    from pathodesk.accounts import create_user
    from pathodesk.db.models import Role

    settings = settings_of(args)
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
        print(_("administrator %(account)r created") % {"account": user.account})
    return 0


def register(add: AddCommand) -> None:
    command = add("create-admin", _("create (or refuse to overwrite) an administrator"))
    command.add_argument("--account", required=True, help=_("the account name to log in with"))
    command.add_argument("--name", default=None, help=_("the name pages show (default: the account)"))
    command.add_argument(
        "--password-stdin", action="store_true", help=_("read the password from standard input")
    )
    command.set_defaults(handler=cmd_create_admin)
