"""One rule for a sample's class label, its ``.cls`` member, for both shard loaders (DALI reads
them in batches, webdataset one by one): 1 to MAX_DIGITS ASCII digits, with spaces or line ends
around them (synpat-gen writes the digits alone). A sign, another character or more digits is
refused, naming the shard and the member, by both."""

from __future__ import annotations

import torch
from synpat.core.errors import UserError
from synpat.train.shard_list import IMAGE_MEDIA

MAX_DIGITS = 9  # class ids 0 .. 999,999,999
_SPACE = b" \t\r\n"


class LabelError(ValueError):
    """A .cls member that breaks the rule."""


def parse_label(data: bytes) -> int:
    """A .cls member's bytes -> its class id; LabelError saying what it holds and what was expected."""
    digits = data.strip(_SPACE)
    if not (1 <= len(digits) <= MAX_DIGITS and digits.isdigit() and digits.isascii()):
        raise LabelError(f"the .cls holds {data[:24]!r}; expected a class id of 1 to {MAX_DIGITS} ASCII digits")
    return int(digits)


def decode_cls(key: str, data: bytes) -> int | None:
    """A webdataset decoder: a ``.cls`` member -> parse_label; None (not mine) for the others."""
    return parse_label(data) if key == ".cls" else None


def ascii_labels(cls: torch.Tensor) -> torch.Tensor:
    """cls: (B, L) uint8, each row a .cls padded with spaces -> (B,) int64 class ids, -1 where a row
    breaks parse_label's rule (the same rule, batched on the labels' device)."""
    c = cls.long()
    digit = (c >= 48) & (c <= 57)
    space = (c == 32) | (c == 9) | (c == 10) | (c == 13)
    count = digit.sum(1)
    runs = (digit & ~torch.nn.functional.pad(digit, (1, 0))[:, :-1]).sum(1)  # runs of digits
    ok = (digit | space).all(1) & (count >= 1) & (count <= MAX_DIGITS) & (runs == 1)
    after = digit.flip(1).cumsum(1).flip(1) - digit.long()  # digits to the right of each position
    value = torch.where(digit & ok[:, None], (c - 48) * torch.pow(10, after.clamp(max=MAX_DIGITS)), 0).sum(1)
    return torch.where(ok, value, -1)


def batch_labels(cls: torch.Tensor, urls: list[str], media: tuple[str, ...] = IMAGE_MEDIA) -> torch.Tensor:
    """ascii_labels of a DALI batch; UserError naming the first bad member of ``urls`` (samples of
    ``media`` and .cls members: shard_list.first_bad_sample) when a row breaks the rule."""
    labels = ascii_labels(cls)
    if bool((labels < 0).any()):
        from synpat.train.shard_list import first_bad_sample

        bad = first_bad_sample(urls, media)
        raise UserError(
            f"--data: {bad}" if bad else f"--data: a .cls breaks the label rule ({MAX_DIGITS} digits at most)"
        )
    return labels
