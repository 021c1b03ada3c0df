"""The ``spd`` command: ``spd run`` (``make run``), ``spd demo``, ``spd import``, ``spd events``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spd", description="Sales performance pipeline and dashboard.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="materialize a demo history if there is none, then start the UI and dashboard")
    demo = sub.add_parser("demo", help="materialize the demo history (skipped if it exists)")
    demo.add_argument("--days", type=int, default=90, help="days of history ending yesterday (default 90)")
    sub.add_parser(
        "import", help="split a multi-day orders export into the landing folder's daily files", add_help=False
    )
    sub.add_parser("why", help="key drivers of a KPI between two date ranges (see README)", add_help=False)
    sub.add_parser("withdraw", help="take days out of the materialized data (see README)", add_help=False)
    sub.add_parser("events", help="import or export the event calendar as events.csv", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "import":
        from .importer import main as import_main

        return import_main(rest)
    if args.command == "why":
        from .why import main as why_main

        return why_main(rest)
    if args.command == "withdraw":
        from .withdraw import main as withdraw_main

        return withdraw_main(rest)
    if args.command == "events":
        return events_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    from . import launcher

    if args.command == "demo":
        return launcher.ensure_demo_history(days=args.days)
    return launcher.run()


def events_main(argv: list[str]) -> int:
    """``spd events import FILE`` / ``spd events export FILE``: the calendar in the state store."""
    parser = argparse.ArgumentParser(prog="spd events", description=events_main.__doc__)
    parser.add_argument("action", choices=("import", "export"))
    parser.add_argument(
        "file", help="events.csv (columns: event_id, name, kind, start, end, scope_level, scope_value)"
    )
    args = parser.parse_args(argv)
    from .core.events import Calendar, EventError
    from .core.settings import SettingsError
    from .core.state_store import StateStore

    try:
        store = StateStore.from_env()
        calendar = Calendar(store)
        if args.action == "export":
            calendar.export_csv(args.file)
            print(f"spd: {calendar.table().height} event(s) written to {args.file}")
        else:
            print(f"spd: {calendar.import_csv(args.file)} event(s) added or changed from {args.file}")
    except (EventError, SettingsError, OSError) as err:
        print(f"spd events: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
