"""Atomic writes: a file appears complete under its final name or not at all."""

from __future__ import annotations

import json
import os
from pathlib import Path

from synpat.core.errors import UserError


def temporary_name(path: Path, private: bool = False) -> Path:
    """The hidden name a file is written under before it is renamed to ``path``; ``private`` adds
    this process's id, for a file that several processes rewrite."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp" if private else f".{path.name}.tmp")


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
        tmp.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write ({err.strerror})") from None


def write_json_atomic(path: Path, obj, private: bool = False) -> None:
    write_atomic(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode(), private)
