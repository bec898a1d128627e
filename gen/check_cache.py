"""Program checks cached on disk by content, and one decision shared by all ranks.

gen/checks.py decides whether a program is usable by rendering probe images in a child process.
That costs ~0.1 s a program, so a set of 21,000 would be checked for most of an hour in every
process and on every rank, and a rank whose checks ran slower (timeouts) would reject a
different set: its class ids would silently differ from the other ranks'. Here:

  * A check result is stored under the program's content (sha256 of its source) in one JSON file
    per *check key*: synpat's version, the code that renders and judges (glsl.py, renderer.py,
    redraw.py, sampler.py, checks.py), the GL driver (GL_RENDERER, GL_VERSION) and the check settings (size, backend,
    time limits, NaN limit, iTime range; not the device index). Change any of them and the programs are checked again.
  * Entries are written once and never replaced (the first result stored wins, timeouts
    included), so the decision for a program list is a pure function of the cache: a second run,
    a resumed run and every rank read the same answer. Delete the cache folder to check again.
  * With several ranks only rank 0 checks (in chunks, storing each); the other ranks wait until
    the cache holds every program of the list and decide from it, never from their own checks.
    The ranks must share the cache folder (``SYNPAT_CACHE``, default ``~/.cache/synpat``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from synpat.core.errors import UserError
from synpat.core.files import write_json_atomic
from synpat.core.progress import Progress

from . import __version__
from .checks import CheckSettings, check_programs
from .programs import Program

CHUNK = 100  # programs a rank-0 check stores at a time (and shows progress above)
POLL_SECONDS = 2.0
WAIT_SECONDS = 1800.0  # a waiting rank gives up when the cache has not grown for this long
_PATH_TOKEN = "\0path\0"  # stands for the program's path in a stored reason


def cache_dir() -> Path:
    """SYNPAT_CACHE, else $XDG_CACHE_HOME/synpat, else ~/.cache/synpat."""
    if os.environ.get("SYNPAT_CACHE"):
        return Path(os.environ["SYNPAT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "synpat"


@lru_cache(maxsize=8)
def gl_identity(device: int | None) -> str:
    """'GL_RENDERER | GL_VERSION' of EGL device ``device``, asked of a child process (this
    process may not own a GL context, and a DataLoader parent should not)."""
    code = (
        "import sys; from synpat.gen.renderer import gl_context; "
        f"c = gl_context({device!r}); print(c.info['GL_RENDERER'] + ' | ' + c.info['GL_VERSION'])"
    )
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise UserError("the program checker could not open an OpenGL context (no answer in 120 s)") from None
    if proc.returncode != 0 or not proc.stdout.strip():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"the program checker could not open an OpenGL context: {last}")
    return proc.stdout.strip().splitlines()[-1]


def code_digest() -> str:
    """sha256 of the modules that wrap, render and judge a program."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(__version__.encode())
    for name in (
        "glsl.py",
        "renderer.py",
        "redraw.py",
        "sampler.py",
        "checks.py",
        "sound_glsl.py",
        "sound_renderer.py",
    ):
        h.update((here / name).read_bytes())
    return h.hexdigest()


def check_key(settings: CheckSettings, identity: str) -> str:
    """The key of a cache file: renderer identity, code and the settings that decide a result."""
    fields = {k: v for k, v in asdict(settings).items() if k != "device"}
    text = json.dumps({"identity": identity, "code": code_digest(), "settings": fields}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def content_key(program: Program) -> str:
    return hashlib.sha256(program.source.encode()).hexdigest()


class CheckCache:
    """One cache file: {content key: stored reason or None}, for one check key."""

    def __init__(self, root: Path, key: str):
        self.path = Path(root) / "checks" / f"{key}.json"
        probe = self.path.parent
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():  # SYNPAT_CACHE (or a folder above it) is a file
            raise UserError(
                f"{probe}: the program check cache (SYNPAT_CACHE, {root}) needs a folder here, "
                "and this is a file; point SYNPAT_CACHE at a folder"
            )

    def unwritable(self) -> str | None:
        """Why the cache cannot be written (a read-only folder or file system), or None."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644))
        except OSError as err:
            return err.strerror or type(err).__name__
        return None

    def read(self) -> dict[str, str | None]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise UserError(f"{self.path}: unreadable program check cache ({e}); delete it to check again") from None

    @contextmanager
    def _lock(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def add(self, results: dict[str, str | None]) -> dict[str, str | None]:
        """Store results for keys not stored yet (first result wins); -> the whole cache after."""
        with self._lock():
            entries = self.read()
            fresh = {k: v for k, v in results.items() if k not in entries}
            if fresh:
                entries.update(fresh)
                write_json_atomic(self.path, entries)
            return entries


def _store(program: Program, reason: str | None) -> str | None:
    return None if reason is None else reason.replace(program.path, _PATH_TOKEN)


def _load(program: Program, stored: str | None) -> str | None:
    return None if stored is None else stored.replace(_PATH_TOKEN, program.path)


def _decide(programs: list[Program], entries: dict) -> tuple[list[Program], list[tuple[Program, str]]]:
    reasons = [_load(p, entries[content_key(p)]) for p in programs]
    return (
        [p for p, r in zip(programs, reasons) if r is None],
        [(p, r) for p, r in zip(programs, reasons) if r is not None],
    )


def _missing(programs: list[Program], entries: dict) -> list[Program]:
    seen, out = set(), []
    for p in programs:
        key = content_key(p)
        if key not in entries and key not in seen:
            seen.add(key)
            out.append(p)
    return out


def accept_cached(
    programs: list[Program],
    settings: CheckSettings,
    rank: int = 0,
    world_size: int = 1,
    root: Path | None = None,
    identity: str | None = None,
    check=check_programs,
    wait_seconds: float = WAIT_SECONDS,
    label: str = "checks",
):
    """accept_programs with the on-disk cache and one decision for all ranks.

    -> (accepted, [(rejected, reason)]), the same on every rank; class id = position in accepted.
    ``check`` is gen/checks.py's check_programs (a parameter so tests can count its calls);
    ``identity`` defaults to the GL driver's (gl_identity).
    """
    cache = CheckCache(root or cache_dir(), check_key(settings, identity or gl_identity(settings.device)))
    entries = cache.read()
    todo = _missing(programs, entries)
    unwritable = cache.unwritable() if todo else None
    if unwritable and rank > 0:
        raise UserError(
            f"{cache.path.parent}: cannot write the program check cache ({unwritable}); ranks > 0 "
            "wait for rank 0's checks there: SYNPAT_CACHE must name a folder all ranks can write"
        )
    if unwritable:
        print(
            f"synpat {label}: warning: cannot write the program check cache {cache.path.parent} ({unwritable}); "
            "checking without caching",
            file=sys.stderr,
        )
    if todo and rank == 0:
        progress = Progress(len(todo), f"synpat {label}", unit="programs") if len(todo) > CHUNK else None
        for i in range(0, len(todo), CHUNK):
            chunk = todo[i : i + CHUNK]
            reasons = check(chunk, settings)
            results = {content_key(p): _store(p, r) for p, r in zip(chunk, reasons)}
            entries = {**results, **entries} if unwritable else cache.add(results)
            if progress:
                progress.update(len(chunk))
        if progress:
            progress.close()
    elif todo:
        entries = _wait_for(cache, programs, rank, wait_seconds)
    return _decide(programs, entries)


def _wait_for(cache: CheckCache, programs: list[Program], rank: int, wait_seconds: float) -> dict:
    """Rank > 0: poll the cache until it holds every program (rank 0 fills it)."""
    print(f"synpat checks[{rank}]: waiting for rank 0 to check the programs ({cache.path})", file=sys.stderr)
    last, since = -1, time.monotonic()
    while True:
        entries = cache.read()
        left = len(_missing(programs, entries))
        if left == 0:
            return entries
        if left != last:
            last, since = left, time.monotonic()
        elif time.monotonic() - since > wait_seconds:
            raise UserError(
                f"{cache.path}: rank {rank} waited {wait_seconds:.0f} s for rank 0's program checks "
                f"({left} of {len(programs)} programs missing); the ranks must share the cache "
                "folder (SYNPAT_CACHE)"
            )
        time.sleep(POLL_SECONDS)
