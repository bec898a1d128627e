"""WebDataset shards: deterministic tar bytes, the DALI index beside them, image encoding.

A shard ``{prefix}-{n:06d}.tar`` holds samples ``{key}.{jpg|png|webp}``, ``{key}.cls`` (ASCII
class id) and ``{key}.json`` (program, hash, iTime, iSeed, iParams), key = the zero-padded global
sample index. Tar headers carry no time, owner or permissions of the machine, so the same samples
always give the same bytes. The index ``{prefix}-{n:06d}.idx`` is the format DALI's wds2idx
writes: ``v1.2 <samples>`` then one line per sample of ``ext offset size name`` per file, offset =
where the file's data starts in the tar.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image
from synpat.core.errors import UserError
from synpat.core.files import temporary_name, write_atomic

if TYPE_CHECKING:
    from .programs import Program
    from .sampler import Samples

FORMATS = ("jpg", "png", "webp")
MEDIA = FORMATS + ("flac",)  # a sample's main file: an image, or a sound program's clip
KEY_DIGITS = 9
INDEX_VERSION = "v1.2"
_BLOCK = 512


def shard_name(prefix: str, shard: int) -> str:
    return f"{prefix}-{shard:06d}"


def draw_meta(program: Program, cls: int, samples: Samples, row: int) -> dict:
    """The .json fields of every sample, image or clip: its program, class and draw (index, iTime,
    iSeed, iParams) at ``row`` of ``samples``; each kind adds its own after them."""
    return {
        "program": program.name,
        "family": program.family,
        "hash": program.hash,
        "class": cls,
        "index": int(samples.index[row]),
        "time": float(samples.time[row]),
        "seed": int(samples.seed[row]),
        "params": [float(x) for x in samples.params[row]],
    }


def sample_key(index: int) -> str:
    return f"{index:0{KEY_DIGITS}d}"


def encode_image(image: np.ndarray, fmt: str, quality: int) -> bytes:
    """image: (H, W, 3) uint8 -> the encoded file's bytes."""
    buf = io.BytesIO()
    pil = Image.fromarray(image, "RGB")
    if fmt == "jpg":
        pil.save(buf, "JPEG", quality=quality)
    elif fmt == "webp":
        pil.save(buf, "WEBP", quality=quality, method=4)
    else:
        pil.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def encode_images(images: np.ndarray, fmt: str, quality: int) -> list[bytes]:
    """images: (N, H, W, 3) uint8 -> N encoded files."""
    return [encode_image(im, fmt, quality) for im in images]


def _header(name: str, size: int) -> bytes:
    """The reference header (tarfile's), which member_header reproduces byte for byte."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(format=tarfile.USTAR_FORMAT)


_TEMPLATE = bytearray(_header("", 0))
_TEMPLATE[148:156] = b" " * 8  # the checksum field counts as spaces
_TEMPLATE_SUM = sum(_TEMPLATE) - sum(_TEMPLATE[124:136])  # without the size field


def member_header(name: str, size: int) -> bytes:
    """The USTAR header of a member ``name`` (ASCII, < 100 bytes) of ``size`` bytes, from a template:
    the same bytes as tarfile writes, at a few microseconds instead of ~37."""
    raw = name.encode("ascii")
    if len(raw) >= 100:
        return _header(name, size)
    header = bytearray(_TEMPLATE)
    header[: len(raw)] = raw
    size_field = b"%011o\0" % size
    header[124:136] = size_field
    checksum = _TEMPLATE_SUM + sum(raw) + sum(size_field)
    header[148:156] = b"%06o\0 " % checksum
    return bytes(header)


def sample_members(key: str, files: dict[str, bytes]) -> tuple[bytes, list[tuple[str, int, int, str]]]:
    """One sample's tar members -> (their bytes, [(ext, data offset within those bytes, size, name)]).
    Built in the encode workers; tar_parts joins them in order."""
    parts, fields, offset = [], [], 0
    for ext, data in files.items():
        name = f"{key}.{ext}"
        parts += [member_header(name, len(data)), data, b"\0" * (-len(data) % _BLOCK)]
        fields.append((ext, offset + _BLOCK, len(data), name))
        offset += _BLOCK + len(data) + (-len(data) % _BLOCK)
    return b"".join(parts), fields


def tar_parts(members: list[tuple[bytes, list[tuple[str, int, int, str]]]]) -> tuple[bytes, str]:
    """sample_members results, in order -> (the tar's bytes, its DALI index text)."""
    lines = [f"{INDEX_VERSION} {len(members)}"]
    offset = 0
    for data, fields in members:
        lines.append(" ".join(f"{ext} {offset + start} {size} {name}" for ext, start, size, name in fields))
        offset += len(data)
    return b"".join([data for data, _ in members] + [b"\0" * (2 * _BLOCK)]), "\n".join(lines) + "\n"


def tar_bytes(samples: list[tuple[str, dict[str, bytes]]]) -> tuple[bytes, str]:
    """samples: [(key, {ext: data})] -> (the tar's bytes, its DALI index text)."""
    return tar_parts([sample_members(key, files) for key, files in samples])


def sample_files(image: bytes, fmt: str, cls: int, meta: dict) -> dict[str, bytes]:
    return {fmt: image, "cls": str(cls).encode(), "json": json.dumps(meta, sort_keys=True).encode()}


def write_shard(
    out_dir: Path, name: str, samples: list[tuple[str, dict[str, bytes]]] | None = None, members: list | None = None
) -> int:
    """Write ``name``.idx then ``name``.tar, each atomically (the tar last: its presence means done),
    from samples [(key, {ext: data})] or ready sample_members; -> tar bytes. A shard without samples
    (the filters dropped them all) is no tar: readers would refuse a tar without members, so only
    its index is written, ``v1.2 0``, which marks it done (shard_done)."""
    data, index = tar_parts(members) if members is not None else tar_bytes(samples)
    write_atomic(out_dir / f"{name}.idx", index.encode())
    if index == EMPTY_INDEX:
        return 0
    write_atomic(out_dir / f"{name}.tar", data)
    return len(data)


EMPTY_INDEX = f"{INDEX_VERSION} 0\n"  # the index of a shard whose samples the filters all dropped


def shard_done(out_dir: Path, name: str, present: set[str] | None = None) -> bool:
    """Whether shard ``name`` is written: its tar, or an empty shard's index alone (write_shard).
    ``present``: the folder's file names, when the caller listed it already."""
    present = set(os.listdir(out_dir)) if present is None else present
    if f"{name}.tar" in present:
        return True
    if f"{name}.idx" not in present:
        return False
    try:
        return (out_dir / f"{name}.idx").read_text() == EMPTY_INDEX
    except (OSError, UnicodeDecodeError):
        return False


def _index_entries(index_text: str) -> list[tuple[str, int, int]]:
    """A DALI index's text -> [(member name, data offset, size)] in tar order; ValueError if malformed."""
    lines = index_text.splitlines()
    version, count = lines[0].split()
    if version != INDEX_VERSION or int(count) != len(lines) - 1:
        raise ValueError("bad header")
    entries = []
    for line in lines[1:]:
        fields = line.split()
        if not fields or len(fields) % 4:
            raise ValueError("bad line")
        entries += [(fields[i + 3], int(fields[i + 1]), int(fields[i + 2])) for i in range(0, len(fields), 4)]
    return entries


def damaged_shard_reason(tar: Path, idx: Path) -> str | None:
    """None when ``tar`` is a finished shard (its size and members, in order, match its ``idx``);
    else why not: a tar cut short, grown, emptied or overwritten, or no readable index."""
    try:
        entries = _index_entries(idx.read_text())
    except FileNotFoundError:
        return "no .idx beside it"
    except (OSError, UnicodeDecodeError, ValueError, IndexError):
        return "unreadable .idx"
    end = max((off + size + (-size % _BLOCK) for _, off, size in entries), default=0)
    size = tar.stat().st_size
    if size != end + 2 * _BLOCK:
        return f"{size} bytes, its .idx says {end + 2 * _BLOCK}"
    try:
        with tarfile.open(tar, "r:") as f:
            members = [(m.name, m.offset_data, m.size) for m in f.getmembers()]
    except (OSError, tarfile.TarError) as e:
        return f"not a readable tar ({e})"
    if members != entries:
        return "members differ from its .idx"
    return None


def folder_shards(folder: Path) -> list[Path]:
    """The ``*.tar`` shards of a folder, sorted; UserError when it has none."""
    found = sorted(Path(folder).glob("*.tar"))
    if not found:
        raise UserError(f"{folder}: no .tar shards in this folder")
    return found


def shard_files(out_dir: Path, name: str) -> list[Path]:
    """Every file a shard may leave: the tar, its index and their temporary names."""
    paths = [out_dir / f"{name}.tar", out_dir / f"{name}.idx"]
    return paths + [temporary_name(p) for p in paths]


@contextmanager
def naming_sample(path: Path, key: str) -> Iterator[None]:
    """Decode sample ``key`` of shard ``path`` inside: a ValueError, a file that cannot be read,
    becomes a UserError naming the shard, the sample and why."""
    try:
        yield
    except ValueError as e:
        raise UserError(f"{path}: sample {key}: {e}") from None


def shard_samples(path: Path, keys: bool = False) -> Iterator[tuple]:
    """(encoded image or FLAC clip, its json) for each sample of a synpat shard, in order, with
    ``keys`` (sample key, encoded file, json); a shard that cannot be read is a UserError naming it.
    A sample's files are consecutive: key.jpg, key.cls, key.json."""
    try:
        with tarfile.open(path) as tar:
            current, files = None, {}
            for member in tar:
                if not member.isfile():
                    continue
                key, _, ext = member.name.partition(".")
                if key != current:
                    current, files = key, {}
                files[ext] = tar.extractfile(member).read()
                image = next((files[f] for f in MEDIA if f in files), None)
                if image is None or "json" not in files:
                    continue
                meta = json.loads(files.pop("json"))
                yield (key, image, meta) if keys else (image, meta)
    except (tarfile.TarError, KeyError, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{path}: not a readable synpat shard ({first})") from None
