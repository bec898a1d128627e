"""synpat-programs: write a procedural program set as .glsl files (they render unchanged through --shaders DIR).

synpat-programs --n 1000 --seed 0 --out programs/
synpat-programs --n 1000 --sound --out sound_programs/     (procedural-sound:N, gen/sound_grammar.py)
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from synpat.core.errors import UserError
from synpat.core.files import check_writable_folder, write_atomic
from synpat.core.locks import is_lock_file, writer_lock
from synpat.core.progress import Progress
from synpat.core.settings import option, parse_settings, run_cli, settings_parser

from .grammar import MAX_PROGRAMS
from .programs import SUFFIXES, procedural_programs, procedural_sound_programs
from .sampler import check_seed

TOOL = "synpat-programs"


def write_programs(n: int, seed: int, out: Path, sound: bool = False, overwrite: bool = False) -> int:
    """Write programs proc{seed}_00000.glsl ... (``sound``: the sound grammar's sound{seed}_00000.glsl
    ...) into ``out``, which must be empty or new (``overwrite``: its program files, which --shaders
    would read with the new ones, are removed first); -> the number written."""
    if not 1 <= n <= MAX_PROGRAMS:
        raise UserError(f"--n: expected 1..{MAX_PROGRAMS}, got {n}")
    check_seed(seed, "--seed")
    check_writable_folder(out, "--out")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {out}: cannot create ({e.strerror})") from None
    with writer_lock(out, TOOL, 0, MAX_PROGRAMS, "programs"):  # a second run at once is refused, named
        if any(not is_lock_file(p.name, TOOL) for p in out.iterdir()):
            if not overwrite:
                raise UserError(f"--out {out}: folder is not empty; pass --overwrite to replace the programs in it")
            for old in (p for p in out.rglob("*") if p.suffix in SUFFIXES and p.is_file()):
                old.unlink()
        progress = Progress(n, "synpat-programs", unit="programs")
        for program in (procedural_sound_programs if sound else procedural_programs)(n, seed):
            write_atomic(out / f"{program.name}.glsl", program.source.encode())
            progress.update(1)
        progress.close()
    return n


@dataclass
class ProgramsSettings:
    n: int = option(0, f"number of programs, 1..{MAX_PROGRAMS}")
    seed: int = option(0, "the set's seed (procedural:N@SEED)")
    out: str = option("", "folder for the .glsl files (empty or new)")
    sound: bool = option(False, "sound programs (procedural-sound:N) instead of images")
    overwrite: bool = option(False, "remove the .glsl/.frag programs already in --out first")


def validate(cfg: ProgramsSettings) -> ProgramsSettings:
    """The range of --n is write_programs' to check (library callers get it too)."""
    if not cfg.out:
        raise UserError("no output folder: give --out DIR")
    return cfg


def _main(argv: Sequence[str] | None) -> None:
    parser = settings_parser(ProgramsSettings, "synpat-programs", __doc__.split("\n\n")[0])
    cfg = validate(parse_settings(ProgramsSettings, argv, parser))
    write_programs(cfg.n, cfg.seed, Path(cfg.out), cfg.sound, cfg.overwrite)
    print(f"synpat-programs: wrote {cfg.n} programs (seed {cfg.seed}) -> {cfg.out}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return run_cli("synpat-programs", _main, argv)


if __name__ == "__main__":
    sys.exit(main())
