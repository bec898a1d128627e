"""The one progress printer for long jobs: done/total, rate, ETA and an optional note (a loss, scores)."""

from __future__ import annotations

import sys
import time


def format_seconds(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def format_rate(r: float) -> str:
    return f"{r:.2f}" if r < 10 else f"{r:.1f}" if r < 100 else f"{r:.0f}"


class Progress:
    """Call ``update(n, note)`` as work completes; prints at most every ``interval`` seconds (0: every
    update) to ``stream`` (stderr by default)."""

    def __init__(self, total: int, label: str, unit: str = "img", stream=None, interval: float | None = None):
        self.total, self.label, self.unit = total, label, unit
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval if interval is not None else (0.5 if self.tty else 10.0)
        self.done = 0
        self.start = self._last = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    @property
    def rate(self) -> float:
        return self.done / max(self.elapsed, 1e-9)

    def update(self, n: int, note: str = "") -> None:
        self.done += n
        now = time.perf_counter()
        if now - self._last >= self.interval or self.done >= self.total:
            self._last = now
            self._print(note)

    def _print(self, note: str) -> None:
        pct = 100.0 * self.done / max(self.total, 1)
        eta = (self.total - self.done) / self.rate if self.rate > 0 else 0.0
        line = (
            f"{self.label}: {self.done}/{self.total} {self.unit} ({pct:.0f}%) "
            f"{format_rate(self.rate)} {self.unit}/s ETA {format_seconds(eta)}" + (f" {note}" if note else "")
        )
        self.stream.write(("\r" + line + "\033[K") if self.tty else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
