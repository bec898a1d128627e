"""The one weights reader: tensors from `.safetensors` or torch checkpoints, and the JSON that
describes a weights file (`<stem>.json` beside it). Every failure is a UserError naming the file."""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from synpat.core.errors import UserError


def meta_path(weights: str | Path) -> Path:
    """The JSON that describes a weights file: `<stem>.json` beside it."""
    return Path(weights).with_suffix(".json")


def read_meta(weights: str | Path, required: Sequence[str] = ()) -> dict:
    """The JSON beside `weights` as a dict; {} when there is none and nothing is required."""
    path = meta_path(weights)
    if not path.is_file():
        if required:
            raise UserError(f"{path} not found: the weights need their JSON beside them")
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as err:
        raise UserError(f"{path}: not readable JSON ({err})") from None
    if not isinstance(meta, dict):
        raise UserError(f"{path}: expected a JSON object")
    missing = [key for key in required if key not in meta]
    if missing:
        raise UserError(f"{path} has no {'/'.join(repr(k) for k in missing)}: not a synpat model description")
    return meta


def read_tensors(path: str | Path, trust_pickle: bool = False) -> object:
    """A `.safetensors` file as a dict of tensors, anything else through `torch.load` on the CPU
    (tensors only unless `trust_pickle`)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path} not found")
    if path.suffix == ".safetensors":
        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise UserError(f"{path}: not a readable safetensors file ({err})") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust_pickle)
    except pickle.UnpicklingError as err:
        if "Weights only load failed" in str(err) and "GLOBAL" in str(err):
            raise UserError(
                f"{path} holds Python objects besides tensors; pass --trust-pickle if you trust its source"
            ) from None
        raise UserError(f"{path}: not a readable torch checkpoint ({str(err).splitlines()[0]})") from None
    except Exception as err:  # torch.load on a non-checkpoint fails in many ways (KeyError, EOFError, RuntimeError...)
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise UserError(f"{path}: not a readable torch checkpoint ({type(err).__name__}: {first})") from None


def read_weights(path: str | Path, required_meta: Sequence[str] = ()) -> tuple[dict[str, torch.Tensor], dict]:
    """A `.safetensors` file and its JSON -> (state dict, metadata)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} not found")
    meta = read_meta(path, required_meta)
    return read_tensors(path), meta
