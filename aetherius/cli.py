"""`aetherius <command>`: every role and tool of one image.

Each command lives in its own module under `aetherius/commands/` and exposes
`register(subparsers) -> None`, adding a parser whose `func(args) -> int` runs it.
Commands are discovered, so adding one never touches this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from aetherius import commands
from schemas.settings import SettingsError


class CliError(Exception):
    """Bad input from the user: printed as one line on stderr, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aetherius", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"aetherius.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CliError, SettingsError) as exc:  # bad input or bad configuration: one line, exit 2
        print(f"aetherius {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    # `python -m aetherius.cli`: run the imported module's main, so the CliError that commands raise (imported
    # from aetherius.cli) is the class main() catches, not a second copy defined in __main__.
    from aetherius.cli import main as _main

    sys.exit(_main())
