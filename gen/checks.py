"""Decide which programs a run uses, in a child process that can be killed.

A program with a runaway loop can stall the GL driver for minutes (nothing interrupts a
dispatch; a GPU may trip its watchdog). So the probe renders (Renderer.check: compile, render
a few images, look for NaN and constant output) run in a spawned child; a program that gives no
answer within its time limit is rejected as timed out, the child is killed and a fresh one goes
on with the next program.
"""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass

from .errors import UserError
from .programs import Program

STARTUP_SECONDS = 60.0    # a fresh child: interpreter and GL context


@dataclass(frozen=True)
class CheckSettings:
    width: int
    height: int
    backend: str = "auto"
    device: int | None = None
    time_limit: float = 30.0    # seconds for one program's probe renders
    compile_seconds: float = 10.0   # allowed on top of the limit before the child is killed


def _child(settings: CheckSettings, programs: list[Program], conn) -> None:
    from .renderer import Renderer
    try:
        renderer = Renderer(settings.width, settings.height, backend=settings.backend, device=settings.device)
    except UserError as e:
        conn.send(("error", str(e)))
        return
    conn.send(("ready", None))
    for i, p in enumerate(programs):
        conn.send((i, renderer.check(p, settings.time_limit)))
    conn.close()


def check_programs(programs: list[Program], settings: CheckSettings) -> list[str | None]:
    """-> per program, None if usable, else the one-line reason it is rejected."""
    ctx = mp.get_context("spawn")
    reasons: list[str | None] = []
    while len(reasons) < len(programs):
        rest = programs[len(reasons):]
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(settings, rest, child), daemon=True)
        proc.start()
        child.close()
        waiting_for_start = True
        while len(reasons) < len(programs):
            limit = STARTUP_SECONDS if waiting_for_start else settings.time_limit + settings.compile_seconds
            if not parent.poll(limit):
                if waiting_for_start:
                    proc.kill()
                    raise RuntimeError("the program checker did not start (no OpenGL context?)")
                p = programs[len(reasons)]
                reasons.append(f"{p.path}: timed out: no image after {limit:.0f} s (--check-seconds)")
                break
            try:
                tag, reason = parent.recv()
            except EOFError:   # the child died (a driver crash on this program)
                if waiting_for_start:
                    raise RuntimeError("the program checker died while opening an OpenGL context") from None
                reasons.append(f"{programs[len(reasons)].path}: crashed the GL driver")
                break
            if tag == "error":
                proc.kill()
                raise UserError(reason)
            if tag == "ready":
                waiting_for_start = False
            else:
                reasons.append(reason)
        proc.kill()
        proc.join()
        parent.close()
    return reasons


def accept_programs(programs: list[Program], settings: CheckSettings) -> tuple[list[Program], list[tuple[Program, str]]]:
    """Split programs into (accepted, [(rejected, reason)]); class id = position among the accepted."""
    reasons = check_programs(programs, settings)
    accepted = [p for p, r in zip(programs, reasons) if r is None]
    rejected = [(p, r) for p, r in zip(programs, reasons) if r is not None]
    return accepted, rejected
