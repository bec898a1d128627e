"""Shard lists for the loaders: expand ``--data``, find DALI indexes, refuse broken tars early.

``--data`` takes folders (their ``*.tar``), files, brace patterns (``shards/synpat-{000000..000099}.tar``)
and remote URLs (``https://...``, ``pipe:curl -s https://host/synpat-{000000..000099}.tar``; the
torch loader only), as one string separated by spaces (a ``pipe:`` command is taken whole) or as
a list; braces expand everywhere.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from braceexpand import braceexpand
from synpat.core.errors import UserError
from synpat.gen.shards import folder_shards

_TAR_MAGIC = b"ustar"
IMAGE_MEDIA = ("jpg", "png", "webp")  # the member a training sample's image is in
SOUND_MEDIA = ("flac",)  # ... its clip, in sound shards


def is_remote(url: str) -> bool:
    return url.startswith("pipe:") or "://" in url


def expand_urls(data: str | list[str]) -> list[str]:
    """-> the shard URLs, in order; local ones checked to exist."""
    items = (
        data.split()
        if isinstance(data, str) and not data.startswith("pipe:")
        else ([data] if isinstance(data, str) else list(data))
    )
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


def _key(member: str) -> str:
    """webdataset's sample key of a member name: the path up to the first dot of its file name."""
    folder, _, name = member.rpartition("/")
    return f"{folder}/{name.split('.', 1)[0]}" if folder else name.split(".", 1)[0]


def count_tar_samples(url: str) -> int:
    """Samples (distinct keys) in a shard of any source webdataset reads (file, pipe:, http://), read once."""
    from webdataset.gopen import gopen

    try:
        with gopen(url) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            return len({_key(m.name) for m in tar if m.isfile()})
    except (OSError, tarfile.TarError, ValueError) as err:
        raise UserError(f"--data: {url}: cannot count its samples ({err})") from None


def _why(err: BaseException | None) -> str:
    """Why a member does not decode, in one line (PIL's own message names only a memory buffer)."""
    from PIL import UnidentifiedImageError
    from synpat.train.labels import LabelError

    if isinstance(err, UnidentifiedImageError):
        return "not a readable image"
    if isinstance(err, LabelError):
        return str(err)
    if type(err).__module__ == "soundfile":  # libsndfile's reason; its message names only a memory buffer
        return f"not a readable FLAC clip ({str(err).rsplit(': ', 1)[-1].strip()})"
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}" if err else "unknown"


def shard_read_error(exn: Exception) -> str:
    """A webdataset reading or decoding error -> one line naming the shard and member where known."""
    from webdataset.autodecode import DecodingError

    if isinstance(exn, DecodingError):
        return f"{exn.url}: member {exn.key}.{exn.k}: cannot decode ({_why(exn.__cause__)})"
    text = " ".join(str(a) for a in exn.args if a is not None) or type(exn).__name__
    return f"reading the shards failed: {type(exn).__name__}: {text.splitlines()[0]}"


def first_bad_sample(urls: list[str], media: tuple[str, ...] = IMAGE_MEDIA) -> str | None:
    """The first member of the local shards that does not decode (an image PIL cannot read, a clip
    libsndfile cannot read, a .cls that breaks the label rule of train/labels.py) or the first sample
    without its ``media`` member (IMAGE_MEDIA, or SOUND_MEDIA for sound shards) or a .cls, as
    'TAR: member NAME: why', or None. Called after a loader failed."""
    from PIL import Image
    from synpat.train.labels import parse_label

    for url in urls:
        if is_remote(url):
            continue
        try:
            with tarfile.open(url, "r:") as tar:
                key, exts = None, set()
                for member in tar:
                    if not member.isfile():
                        continue
                    if _key(member.name) != key:
                        if key is not None and (missing := _missing_part(exts, media)):
                            return f"{url}: sample {key}: {missing}"
                        key, exts = _key(member.name), set()
                    data = tar.extractfile(member).read()
                    ext = member.name.rsplit(".", 1)[-1]
                    exts.add(ext)
                    try:
                        if ext in media and ext in IMAGE_MEDIA:
                            with Image.open(io.BytesIO(data)) as im:
                                im.load()
                        elif ext in media:
                            import soundfile

                            soundfile.read(io.BytesIO(data), dtype="int16")
                        elif ext == "cls":
                            parse_label(data)
                    except (OSError, ValueError, SyntaxError, RuntimeError) as err:  # RuntimeError: libsndfile's
                        return f"{url}: member {member.name}: cannot decode ({_why(err)})"
                if key is not None and (missing := _missing_part(exts, media)):
                    return f"{url}: sample {key}: {missing}"
        except (OSError, tarfile.TarError) as err:
            return f"{url}: not a readable tar ({err})"
    return None


def _missing_part(exts: set[str], media: tuple[str, ...] = IMAGE_MEDIA) -> str | None:
    """What a sample with members of these extensions lacks for training (its ``media`` member and
    its .cls), or None."""
    what = "an image" if media == IMAGE_MEDIA else "a clip"
    if "cls" not in exts:
        return f"no .cls member (a training sample needs {what} and its .cls; it has {', '.join(sorted(exts))})"
    if not exts & set(media):
        listed = ", ".join(f".{m}" for m in media[:-1]) + (" or " if len(media) > 1 else "") + f".{media[-1]}"
        return f"no {listed} member (a training sample needs {what} and its .cls; it has {', '.join(sorted(exts))})"
    return None
