"""Decide which programs a run uses, in a child process that can be killed.

A program with a runaway loop can stall the GL driver for minutes (nothing interrupts a
dispatch; a GPU may trip its watchdog). So the probe renders (Renderer.check: compile, render
probe images, look for NaN and constant output) run in a child process,
``python -m synpat.gen.checks``, which reads the job as JSON on stdin and answers one JSON line
per program; a program that gives no answer within its time limit is rejected as timed out, the
child is killed and a fresh one goes on with the next program. One deadline decides "too slow":
the child stops probing at --check-seconds, the parent kills it at --check-seconds plus the compile
allowance, and both reject the program as too slow. The child dies with its parent (Linux: parent
death signal) and ignores Ctrl-C, which the parent handles. (A plain subprocess, not
multiprocessing: it never re-imports the caller's script, so library users need no
``if __name__ == "__main__"`` guard.)

The child's command is ``CHECKER``; the tests put a stand-in there (tests/stall_checker.py) that
hangs on one program as a runaway loop does, so the timeout path is tested on any machine's speed.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass

from synpat.core.errors import UserError
from synpat.core.processes import die_with_parent

from .programs import Program
from .renderer import MAX_NAN
from .sampler import TIME_RANGE
from .sound_renderer import CHANNELS, DURATION, SAMPLE_RATE, SoundRenderer

STARTUP_SECONDS = 60.0  # a fresh child: interpreter and GL context
CHECKER = (sys.executable, "-m", "synpat.gen.checks")  # the child's command line


@dataclass(frozen=True)
class CheckSettings:
    width: int
    height: int
    backend: str = "auto"
    device: int | None = None
    time_limit: float = 30.0  # seconds for one program's probe renders
    compile_seconds: float = 10.0  # allowed on top of the limit before the child is killed
    max_nan: float = MAX_NAN  # largest fraction of NaN channel values in the probe images
    time_range: tuple[float, float] = TIME_RANGE  # the run's iTime range, which the probes sample
    kind: str = "image"  # image (width x height probe images) or sound (probe clips of the run's
    sample_rate: int = SAMPLE_RATE  # duration, sample rate and channels; width and height unused)
    duration: float = DURATION
    channels: int = CHANNELS

    def renderer(self):
        """The renderer that probes this run's programs (in the checker child)."""
        if self.kind == "sound":
            return SoundRenderer(
                self.sample_rate, self.duration, self.channels, backend=self.backend, device=self.device
            )
        from .renderer import Renderer

        return Renderer(self.width, self.height, backend=self.backend, device=self.device)


def _child() -> None:
    """The child's side: job on stdin; {"ready": true}, then {"reason": ...} per program, on stdout."""
    job = json.load(sys.stdin)
    settings = CheckSettings(**{**job["settings"], "time_range": tuple(job["settings"]["time_range"])})
    programs = [Program(**p) for p in job["programs"]]

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent handles it

    def say(obj) -> None:
        try:
            sys.stdout.write(json.dumps(obj) + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # the parent is gone: nobody to answer
            os._exit(1)

    try:
        renderer = settings.renderer()
    except UserError as e:
        say({"error": str(e)})
        return
    say({"ready": True})
    for p in programs:
        say({"reason": renderer.check(p, settings.time_limit, settings.max_nan, settings.time_range)})


class _Child:
    """A checker process and a thread that moves its output lines into a queue (a line is read
    whole or not at all: no select() on a buffered pipe)."""

    def __init__(self, settings: CheckSettings, programs: list[Program]):
        self.proc = subprocess.Popen(
            list(CHECKER), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent
        )
        job = {
            "settings": asdict(settings),
            "programs": [{"name": p.name, "path": p.path, "source": p.source} for p in programs],
        }
        self.proc.stdin.write(json.dumps(job))
        self.proc.stdin.close()
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)  # end of output: the child exited

    def answer(self, seconds: float) -> dict | None:
        """The child's next line as JSON; None when it gave none in time or died."""
        try:
            line = self.lines.get(timeout=seconds)
        except queue.Empty:
            return None
        return json.loads(line) if line else None

    def died(self) -> bool:
        try:
            self.proc.wait(timeout=1)  # its output ended: give the exit a moment to be seen
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
        self.reader.join()
        self.proc.stdout.close()


def too_slow(path: str, time_limit: float, seconds: float) -> str:
    """The reason a program the parent stopped is rejected: the same deadline as the child's own check."""
    return (
        f"{path}: too slow: no answer from the checker after {seconds:.0f} s "
        f"(--check-seconds {time_limit:g} and {seconds - time_limit:.0f} s to compile); it was stopped"
    )


def check_programs(programs: list[Program], settings: CheckSettings) -> list[str | None]:
    """-> per program, None if usable, else the one-line reason it is rejected."""
    reasons: list[str | None] = []
    deadline = settings.time_limit + settings.compile_seconds
    while len(reasons) < len(programs):
        child = _Child(settings, programs[len(reasons) :])
        try:
            first = child.answer(STARTUP_SECONDS)
            if first is None:
                raise UserError("the program checker could not start (no OpenGL context?); see the lines above")
            if "error" in first:
                raise UserError(first["error"])
            while len(reasons) < len(programs):
                answer = child.answer(deadline)
                if answer is not None:
                    reasons.append(answer["reason"])
                    continue
                p = programs[len(reasons)]
                reasons.append(
                    f"{p.path}: crashed the GL driver"
                    if child.died()
                    else too_slow(p.path, settings.time_limit, deadline)
                )
                break
        finally:
            child.stop()
    return reasons


def accept_programs(
    programs: list[Program], settings: CheckSettings
) -> tuple[list[Program], list[tuple[Program, str]]]:
    """Split programs into (accepted, [(rejected, reason)]); class id = position among the accepted."""
    reasons = check_programs(programs, settings)
    accepted = [p for p, r in zip(programs, reasons) if r is None]
    rejected = [(p, r) for p, r in zip(programs, reasons) if r is not None]
    return accepted, rejected


if __name__ == "__main__":
    _child()
