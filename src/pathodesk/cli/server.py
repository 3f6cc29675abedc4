"""``pathodesk serve`` and ``pathodesk demo`` (the README's ``make demo``)."""

from __future__ import annotations

import argparse
import os

from pathodesk.cli.common import AddCommand, open_database, settings_of
from pathodesk.cli.language import _

DEMO_ADMIN = ("admin", "Demo Administrator")
DEMO_EXPERT = ("expert", "Demo Pathologist")
DEMO_PASSWORD_DEFAULT = "pathodesk-demo-1"  # noqa: S105 - printed demo account, override by env


def cmd_serve(args: argparse.Namespace) -> int:
    """One process, or ``--workers N`` processes sharing the port (issue 19): they share nothing
    but the database, the broker and storage, so each builds its app from the environment."""
    import uvicorn

    from pathodesk.web.app import create_app

    settings = settings_of(args)
    processes = getattr(args, "workers", 1)
    if processes > 1:
        os.environ["PATHODESK_DATA_DIR"] = str(settings.data_dir)
        uvicorn.run(
            "pathodesk.web.app:app_from_environment",
            factory=True,
            workers=processes,
            host=args.host,
            port=args.port,
            log_level="warning",
            access_log=False,
        )
        return 0
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pathodesk.accounts import create_user
    from pathodesk.cli.demo import load_demo
    from pathodesk.db.models import Role

    settings = settings_of(args)
    password = os.environ.get("PATHODESK_DEMO_PASSWORD", DEMO_PASSWORD_DEFAULT)
    db = open_database(settings)
    with db.session() as session:
        for (account, name), role in ((DEMO_ADMIN, Role.admin), (DEMO_EXPERT, Role.expert)):
            create_user(
                session, account=account, name=name, password=password, role=role, update_existing=True
            )
    db.dispose()
    load_demo(settings, owner=DEMO_EXPERT[0])
    print(
        _("demo accounts: %(admin)s / %(password)s (administrator), %(expert)s / %(password)s (expert)")
        % {"admin": DEMO_ADMIN[0], "expert": DEMO_EXPERT[0], "password": password}
    )
    print(_("open %(url)s") % {"url": f"http://{args.host}:{args.port}"})
    return cmd_serve(args)


def register(add: AddCommand) -> None:
    for name, help_text, handler in (
        ("serve", _("serve the web platform"), cmd_serve),
        ("demo", _("load samples and serve"), cmd_demo),
    ):
        command = add(name, help_text)
        command.add_argument("--host", default="127.0.0.1", help=_("address to listen on"))
        command.add_argument("--port", type=int, default=8000, help=_("port to listen on"))
        command.set_defaults(handler=handler)
        if name == "serve":
            command.add_argument(
                "--workers", type=int, default=1, help=_("server processes sharing the port")
            )
