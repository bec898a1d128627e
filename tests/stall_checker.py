"""Test stand-in for the program checker child (synpat.gen.checks.CHECKER) that hangs on one program,
as a runaway loop does, so the checker's timeout and kill paths are tested on any machine's speed.

    python tests/stall_checker.py NAME                  # the checker child, hanging on program NAME
    python tests/stall_checker.py NAME --gen ARGS...    # synpat-gen ARGS whose checker hangs on NAME
"""

import sys
import time
from pathlib import Path


def stalling(name: str) -> tuple[str, ...]:
    """The CHECKER command line of a child that hangs on program `name`."""
    return (sys.executable, str(Path(__file__).resolve()), name)


def main(argv: list[str]) -> int:
    name, rest = argv[0], argv[1:]
    from synpat.gen import checks

    if rest[:1] == ["--gen"]:
        checks.CHECKER = stalling(name)
        from synpat.gen.cli import main as gen_main

        return gen_main(rest[1:])
    from synpat.gen.renderer import Renderer

    check = Renderer.check

    def hang_on_name(self, program, *args):
        while program.name == name:
            time.sleep(3600)
        return check(self, program, *args)

    Renderer.check = hang_on_name
    checks._child()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
