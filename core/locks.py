"""Writer locks: one process at a time writes a given range of items (e.g. shards) into a folder.

A lock is a regular file ``.{tool}.lock.{first}-{last}`` in the folder holding ``pid host``. It is
written under a private name and hard-linked into place (link fails when the name exists, on NFS and
Lustre too, unlike flock on a folder), so a lock file is never seen half-written. A lock whose range
overlaps ours is refused, unless its writer was on this host and is gone (killed): then it is stale
and taken over. The lock is removed when the writer ends.
"""

from __future__ import annotations

import os
import re
import socket
from contextlib import contextmanager
from pathlib import Path

from synpat.core.errors import UserError
from synpat.core.files import process_alive, remove_files_of_dead_writers


def _holder(path: Path) -> tuple[int, str] | None:
    """-> (pid, host) written in a lock file, or None when it is gone; UserError when it holds
    something else (no writer of ours made it)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise UserError(f"{path}: cannot read the lock file ({err.strerror})") from None
    try:
        pid, host = text.split()
        return int(pid), host
    except ValueError:
        raise UserError(
            f"{path}: the lock file holds {text[:40]!r}, expected 'pid host'; remove it if no writer is running"
        ) from None


def _conflict(folder: Path, tool: str, first: int, last: int) -> tuple[Path, int, str] | None:
    """A live lock in ``folder`` whose range overlaps [first, last]; stale ones found are removed."""
    pattern = re.compile(rf"\.{re.escape(tool)}\.lock\.(\d+)-(\d+)$")
    for path in folder.iterdir():
        m = pattern.match(path.name)
        if not m or int(m.group(2)) < first or int(m.group(1)) > last:
            continue
        holder = _holder(path)
        if holder is None:
            continue
        pid, host = holder
        if host == socket.gethostname() and not process_alive(pid):
            path.unlink(missing_ok=True)  # its writer was killed
            continue
        return path, pid, host
    return None


def is_lock_file(name: str, tool: str) -> bool:
    return name.startswith(f".{tool}.lock.")


@contextmanager
def writer_lock(folder: Path, tool: str, first: int, last: int, what: str):
    """Hold the lock on items first..last (inclusive) of ``folder`` while the body runs; UserError,
    one line naming the other writer, when a live one holds an overlapping range."""
    path = folder / f".{tool}.lock.{first}-{last}"
    remove_files_of_dead_writers(  # private lock files of killed writers of this host
        folder,
        f".{tool}.lock.new-*",
        re.compile(rf"\.{re.escape(tool)}\.lock\.new-(?P<pid>\d+)-{re.escape(socket.gethostname())}"),
    )
    private = folder / f".{tool}.lock.new-{os.getpid()}-{socket.gethostname()}"
    try:
        private.write_text(f"{os.getpid()} {socket.gethostname()}\n")
    except OSError as err:
        private.unlink(missing_ok=True)
        raise UserError(f"{private}: cannot create the lock file ({err.strerror})") from None
    try:
        _take(folder, tool, first, last, what, private, path)
    finally:
        private.unlink(missing_ok=True)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _take(folder: Path, tool: str, first: int, last: int, what: str, private: Path, path: Path) -> None:
    """Link ``private`` (already holding ``pid host``) to ``path`` unless a live overlapping lock exists."""
    for _ in range(3):
        conflict = _conflict(folder, tool, first, last)
        if conflict:
            other, pid, host = conflict
            raise UserError(
                f"{folder}: another {tool} (pid {pid} on {host}) is writing {what} there "
                f"(lock file {other.name}); wait for it to end, or remove the lock file if it is gone"
            )
        try:
            os.link(private, path)
            return
        except FileExistsError:
            continue  # a writer took it just now, or a stale lock was just removed: look again
        except OSError as err:
            raise UserError(f"{path}: cannot create the lock file ({err.strerror})") from None
    raise UserError(f"{folder}: cannot take the lock {path.name} (another {tool} keeps taking it)")
