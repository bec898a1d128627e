"""Command-line plumbing shared by the train/ tools: a user's mistake is one line on stderr and exit 2."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, NoReturn, Sequence

from synpat.gen.errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse that raises UserError instead of printing usage and exiting, so every CLI error is one line."""

    def error(self, message: str) -> NoReturn:
        raise UserError(message)


def run_cli(prog: str, body: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None) -> int:
    """Run `body(argv)`; a UserError becomes `prog: error: message` on stderr and exit status 2."""
    try:
        body(argv)
    except UserError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    return 0
