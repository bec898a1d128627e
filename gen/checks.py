"""Decide which programs a run uses, in a child process that can be killed.

A program with a runaway loop can stall the GL driver for minutes (nothing interrupts a
dispatch; a GPU may trip its watchdog). So the probe renders (Renderer.check: compile, render
probe images, look for NaN and constant output) run in a child process,
``python -m synpat.gen.checks``, which reads the job as JSON on stdin and answers one JSON line
per program; a program that gives no answer within its time limit is rejected as timed out, the
child is killed and a fresh one goes on with the next program. (A plain subprocess, not
multiprocessing: it never re-imports the caller's script, so library users need no
``if __name__ == "__main__"`` guard.)
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
from dataclasses import asdict, dataclass

from synpat.core.errors import UserError
from .programs import Program
from .renderer import MAX_NAN
from .sampler import TIME_RANGE

STARTUP_SECONDS = 60.0    # a fresh child: interpreter and GL context


@dataclass(frozen=True)
class CheckSettings:
    width: int
    height: int
    backend: str = "auto"
    device: int | None = None
    time_limit: float = 30.0    # seconds for one program's probe renders
    compile_seconds: float = 10.0   # allowed on top of the limit before the child is killed
    max_nan: float = MAX_NAN    # largest fraction of NaN/Inf channel values in the probe images
    time_range: tuple[float, float] = TIME_RANGE   # the run's iTime range, which the probes sample


def _child() -> None:
    """The child's side: job on stdin; {"ready": true}, then {"reason": ...} per program, on stdout."""
    from .renderer import Renderer
    job = json.load(sys.stdin)
    settings = CheckSettings(**{**job["settings"], "time_range": tuple(job["settings"]["time_range"])})
    programs = [Program(**p) for p in job["programs"]]

    def say(obj) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    try:
        renderer = Renderer(settings.width, settings.height, backend=settings.backend, device=settings.device)
    except UserError as e:
        say({"error": str(e)})
        return
    say({"ready": True})
    for p in programs:
        say({"reason": renderer.check(p, settings.time_limit, settings.max_nan, settings.time_range)})


def _start(settings: CheckSettings, programs: list[Program]) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "synpat.gen.checks"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    job = {"settings": asdict(settings),
           "programs": [{"name": p.name, "path": p.path, "source": p.source} for p in programs]}
    proc.stdin.write(json.dumps(job))
    proc.stdin.close()
    return proc


def _answer(proc: subprocess.Popen, seconds: float) -> dict | None:
    """The child's next line as JSON; None when it gave none in time or died."""
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    line = proc.stdout.readline() if ready else ""
    return json.loads(line) if line else None


def check_programs(programs: list[Program], settings: CheckSettings) -> list[str | None]:
    """-> per program, None if usable, else the one-line reason it is rejected."""
    reasons: list[str | None] = []
    while len(reasons) < len(programs):
        proc = _start(settings, programs[len(reasons):])
        try:
            first = _answer(proc, STARTUP_SECONDS)
            if first is None:
                raise UserError("the program checker could not start (no OpenGL context?); see the lines above")
            if "error" in first:
                raise UserError(first["error"])
            while len(reasons) < len(programs):
                answer = _answer(proc, settings.time_limit + settings.compile_seconds)
                if answer is not None:
                    reasons.append(answer["reason"])
                    continue
                p = programs[len(reasons)]
                died = proc.poll() is not None
                reasons.append(f"{p.path}: crashed the GL driver" if died else
                               f"{p.path}: timed out: no image after {settings.time_limit + settings.compile_seconds:.0f} s "
                               "(--check-seconds)")
                break
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
    return reasons


def accept_programs(programs: list[Program], settings: CheckSettings) -> tuple[list[Program], list[tuple[Program, str]]]:
    """Split programs into (accepted, [(rejected, reason)]); class id = position among the accepted."""
    reasons = check_programs(programs, settings)
    accepted = [p for p, r in zip(programs, reasons) if r is None]
    rejected = [(p, r) for p, r in zip(programs, reasons) if r is not None]
    return accepted, rejected


if __name__ == "__main__":
    _child()
