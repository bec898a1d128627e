"""synpat-gen: render GLSL programs (images, or sound programs as FLAC clips) into WebDataset shards.

synpat-gen --shaders shaders/ --out shards/ --count 100000 --size 224
synpat-gen --shaders bundled:sounds --out sound_shards/ --count 10000 --duration 10.24
"""

from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import fields

from synpat.core.errors import UserError
from synpat.core.settings import Parser, add_options

from .generate import GenConfig, generate, summary_line
from .programs import bundled_shaders_dir

STATS = ("stats", "max_tv", "min_std", "max_edge", "filter_programs", "mix")
COUNTS = ("count", "per_shader")
SOUND = ("duration", "sample_rate", "channels")  # sound programs' settings (a group of their own)


def build_parser() -> argparse.ArgumentParser:
    """One flag per GenConfig field (its default, shown as typed, and help come from there); --count and
    --per-shader exclude each other; the statistics and filters form a group of their own."""
    p = Parser(prog="synpat-gen", description=__doc__.split("\n\n")[0])
    add_options(p, GenConfig, [f.name for f in fields(GenConfig) if f.name not in STATS + COUNTS + SOUND])
    add_options(p.add_mutually_exclusive_group(), GenConfig, COUNTS)
    add_options(
        p.add_argument_group("statistics and filters (synpat.gen.stats: TV, entropies, Canny edge density)"),
        GenConfig,
        STATS,
    )
    add_options(
        p.add_argument_group("sound programs (a file defining mainSound: FLAC clips instead of images)"),
        GenConfig,
        SOUND,
    )
    return p


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's or `kill`'s stop): ends the run as Ctrl-C does."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        args = vars(build_parser().parse_args(argv))
        args["shaders"] = args["shaders"] or [str(bundled_shaders_dir())]
        summary = generate(GenConfig(**args))
    except UserError as e:
        print(f"synpat-gen: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(
            "synpat-gen: "
            + ("terminated" if isinstance(e, Terminated) else "interrupted")
            + "; complete shards are kept, --resume finishes the rest",
            file=sys.stderr,
        )
        return 143 if isinstance(e, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(summary_line(summary), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
