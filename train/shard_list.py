"""Shard lists for the loaders: expand ``--data``, find DALI indexes, refuse broken tars early.

``--data`` takes folders (their ``*.tar``), files, brace patterns (``shards/synpat-{000000..000099}.tar``)
and remote URLs (``https://...``, ``pipe:curl -s https://host/synpat-{000000..000099}.tar``; the
torch loader only), as one string separated by spaces (a ``pipe:`` command is taken whole) or as
a list; braces expand everywhere.
"""

from __future__ import annotations

from pathlib import Path

from braceexpand import braceexpand

from synpat.core.errors import UserError
from synpat.gen.shards import folder_shards

_TAR_MAGIC = b"ustar"


def is_remote(url: str) -> bool:
    return url.startswith("pipe:") or "://" in url


def expand_urls(data: str | list[str]) -> list[str]:
    """-> the shard URLs, in order; local ones checked to exist."""
    items = data.split() if isinstance(data, str) and not data.startswith("pipe:") else (
        [data] if isinstance(data, str) else list(data))
    urls: list[str] = []
    for item in items:
        if is_remote(item):
            urls.extend(braceexpand(item))
            continue
        if Path(item).is_dir():
            try:
                urls.extend(map(str, folder_shards(Path(item))))
            except UserError as err:
                raise UserError(f"--data {err}") from None
            continue
        for path in braceexpand(item):
            if not Path(path).is_file():
                raise UserError(f"--data: shard {path} does not exist")
            urls.append(path)
    if not urls:
        raise UserError("--data: no shards given")
    return urls


def index_path(tar: str) -> Path:
    """The DALI index synpat-gen writes beside a tar: ``x.tar`` -> ``x.idx``."""
    return Path(tar).with_suffix(".idx")


def index_samples(tar: str) -> int | None:
    """Samples listed in the tar's index, or None when it has none."""
    idx = index_path(tar)
    if not idx.is_file():
        return None
    header = idx.read_text().split("\n", 1)[0].split()
    if len(header) != 2 or not header[1].isdigit():
        raise UserError(f"{idx}: not a DALI webdataset index (expected a first line 'v1.2 N')")
    return int(header[1])


def check_tar(tar: str) -> None:
    """Refuse a local tar that is truncated (shorter than its index says) or not a tar at all."""
    path = Path(tar)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(512)
    if size < 1024 or head[257:262] != _TAR_MAGIC:
        raise UserError(f"{tar}: not a tar file (corrupt or truncated shard)")
    idx = index_path(tar)
    if idx.is_file():
        last = idx.read_text().rstrip("\n").rsplit("\n", 1)[-1].split()
        ends = [int(off) + int(n) for off, n in zip(last[1::4], last[2::4])]
        if ends and max(ends) > size:
            raise UserError(f"{tar}: truncated: {size} bytes, but its index needs {max(ends)}")
