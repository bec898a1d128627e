"""Atomic writes: a file appears complete under its final name or not at all."""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

from synpat.core.errors import UserError


def temporary_name(path: Path, private: bool = False) -> Path:
    """The hidden name a file is written under before it is renamed to ``path``; ``private`` adds
    this host and process id, for a file that several processes (on several hosts) rewrite."""
    return path.with_name(f".{path.name}.{socket.gethostname()}-{os.getpid()}.tmp" if private else f".{path.name}.tmp")


def remove_dead_temporaries(path: Path) -> list[Path]:
    """Remove the private temporaries of ``path`` left by killed processes of this host (their
    writer is gone; other hosts' are left alone) -> the paths removed."""
    host = re.escape(socket.gethostname())
    return remove_files_of_dead_writers(
        path.parent, f".{path.name}.*.tmp", re.compile(rf"\.{re.escape(path.name)}\.{host}-(?P<pid>\d+)\.tmp")
    )


def remove_files_of_dead_writers(folder: Path, glob: str, name: re.Pattern) -> list[Path]:
    """Remove the files of ``folder`` matching ``glob`` whose whole name matches ``name``, a pattern
    naming this host and a ``pid`` group, when that process is gone -> the paths removed."""
    removed = []
    for path in folder.glob(glob):
        m = name.fullmatch(path.name)
        if m and not process_alive(int(m.group("pid"))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host exists (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_atomic(path: Path, data: bytes, private: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary name, fsync'd, then renamed into place.
    A path that cannot be written is a UserError naming it."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder, expected a file name to write")
    tmp = temporary_name(path, private)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only file system refuses the cleanup too; nothing was written there
        raise UserError(f"{path}: cannot write ({err.strerror})") from None


def write_json_atomic(path: Path, obj, private: bool = False) -> None:
    write_atomic(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode(), private)


def check_writable_folder(folder: Path, what: str) -> None:
    """Refuse, before any work, a folder that cannot be written: one that is a file, one under a
    file, or one in (or to be made in) a read-only or unwritable place. ``what`` names the option."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{what} {folder}: exists and is not a folder")
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"{what} {folder}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK) or os.statvfs(probe).f_flag & os.ST_RDONLY:
        raise UserError(f"{what} {folder}: cannot write in {probe}")
