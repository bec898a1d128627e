"""The HEAR API (https://hearbenchmark.com) for synpat audio encoders, and the embedder behind it.

    model = load_model("best.safetensors")           # or a synpat-transfer output; JSON beside it
    get_scene_embeddings(audio, model)      -> (n, d)
    get_timestamp_embeddings(audio, model)  -> (n, t, d), (n, t) timestamps in ms
audio: (n, samples) mono 16 kHz, float in [-1, 1] or integer PCM, on any device; results are
float32 on the CPU. `synpat.hear` is the same API under its short name.

A *column* is one patch column of the spectrogram: pw fbank frames (pw = the patch's width; 16 frames
read 25 ms + 15 x 10 ms = 175 ms of audio, the 2 of a full-band 128x2 patch 35 ms); its embedding is the mean of its patch tokens (all mel
rows) after the encoder. A timestamp is the centre of its column's audio, in ms from the clip's
start. Columns lie on a grid of one hop (default one column, 160 ms; `hop_ms` may divide it) that
holds the column starting at the clip's start, from its earliest centre >= 0 to its last centre
<= the clip's end (with a 160 ms hop: 87.5, 247.5, ... ms). When that last column ends before the
clip does (only a hop longer than half a column can leave that gap), one more column is added and
the grid is moved earlier until its centre is the clip's end (1.98 s: 60, 220, ..., 1980 ms). So
at every length the timestamps are evenly spaced, 0 <= t <= duration, the first column covers the
clip's start and the last its end; the audio a column reads outside the clip is zeros.

The encoder sees the columns in runs of at most the model's input width (its `frames`), the
shorter last run with the position code of its own first columns: a 1 s clip costs its 7 columns,
not a 10 s window. A finer hop runs the encoder once per offset (hop 40 ms: 4 runs of 160 ms columns,
shifted by 40 ms). The scene embedding is the mean of the clip's columns at one-column hop; both
go through the model's pooled-feature LayerNorm (fc_norm). Neither timm nor anything of
torch.compile is imported (see vit_plain).
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from synpat.audio.fbank import HOP, SAMPLE_RATE, WINDOW, FbankShape, log_mel_batch
from synpat.audio.vit_audio import checked_arch, load_encoder_state, positive, read_model_file, recorded_tokens
from synpat.audio.vit_plain import PlainAudioViT
from synpat.core.devices import torch_device
from synpat.core.errors import UserError
from synpat.train.vit_arch import ViTArch, with_patch
from synpat.train.weights import meta_path, read_meta

# Fbank statistics of AudioSet (as published with AST), used for models that carry none (transfer outputs).
AUDIOSET_MEAN, AUDIOSET_STD = -4.27, 4.57
HOP_KEY = "hear_hop_ms"  # the model JSON's timestamp hop, when load_model is given none
TOKENS_PER_CALL = 1 << 14  # patch tokens the encoder sees at once (bounds memory on long clips)
LOUD_FLOAT = 2.0  # float audio peaking above this is warned about (raw PCM values?)
TOO_LOUD = 1e15  # float audio peaking above this is refused: its float32 fbank would overflow (~3e16)
_warned: set[str] = set()  # warnings given once per process
_INTEGERS = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint16, torch.uint32, torch.uint64)


def column_grid(samples: int, hop: int, span: int) -> tuple[int, int]:
    """A clip of `samples` -> (columns t, zeros put before the clip) for columns reading `span` samples
    every `hop` <= span samples. The grid holds the column that starts at the clip's start; its
    columns are those whose centres lie in [0, samples]. When the last of them ends before the clip
    does, one more column is added and the grid moved earlier until its centre is the clip's end."""
    half = span // 2
    first = half % hop  # earliest centre >= 0 on the grid
    count = max(0, 1 + (samples - first) // hop)
    if count == 0 or first + (count - 1) * hop + half < samples:
        count += 1
        first = samples - (count - 1) * hop
    return count, half - first


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=4)


class AudioEmbedder(torch.nn.Module):
    """An audio ViT encoder with the HEAR attributes; `hop_frames` fbank frames between timestamps.
    The spectrogram is float32; the encoder runs in its own dtype (model.half() works), results are float32."""

    sample_rate = SAMPLE_RATE

    def __init__(self, arch: ViTArch, shape: FbankShape, norm: tuple[float, float], hop_frames: int | None = None):
        super().__init__()
        self.shape, self.norm_mean, self.norm_std = shape, norm[0], norm[1]
        self.column = arch.patch[1]  # fbank frames of one patch column
        self.hop_frames = hop_frames or self.column
        self.encoder = PlainAudioViT(arch, (shape.mel_bins, shape.frames))
        self.scene_embedding_size = self.timestamp_embedding_size = arch.embed_dim

    def __repr__(self) -> str:  # one line where HEAR's tools print the model
        arch = self.encoder
        return (
            f"AudioEmbedder(ViT {self.timestamp_embedding_size}d x {len(arch.blocks)} blocks, patch {arch.patch_embed.proj.kernel_size[0]}x{self.column}, "
            f"input {self.shape.mel_bins}x{self.shape.frames}, timestamps every {self.hop_frames * 1000 * HOP // SAMPLE_RATE} ms, "
            f"on {arch.cls_token.device})"
        )

    @property
    def span(self) -> int:
        """Samples one column reads: 400 + (pw - 1) x 160."""
        return WINDOW + (self.column - 1) * HOP

    def _runs(self, spec: torch.Tensor) -> torch.Tensor:
        """spec: (n, c * pw, mel) normalised -> (n, c, d) column embeddings before fc_norm, the columns
        encoded in runs of the model's width (the last run shorter)."""
        n, length, mel = spec.shape
        columns, width = length // self.column, self.encoder.cols
        x = spec.transpose(1, 2)[:, None]  # (n, 1, mel, c * pw)
        full, rest = divmod(columns, width)
        out = []
        if full:
            windows = x[..., : full * width * self.column].reshape(n, 1, mel, full, width * self.column)
            windows = windows.permute(0, 3, 1, 2, 4).reshape(n * full, 1, mel, width * self.column)
            out.append(self._encode(windows).reshape(n, full * width, -1))
        if rest:
            out.append(self._encode(x[..., full * width * self.column :]))
        return torch.cat(out, dim=1)

    def _encode(self, windows: torch.Tensor) -> torch.Tensor:
        """windows: (B, 1, mel, c * pw) -> (B, c, d), a few windows per encoder call."""
        per_call = max(1, TOKENS_PER_CALL // (self.encoder.rows * windows.shape[-1] // self.column))
        dtype = self.encoder.cls_token.dtype  # the model's own (a user may have cast it with .half())
        return torch.cat(
            [self.encoder.patch_tokens(chunk.to(dtype)).float().mean(dim=1) for chunk in windows.split(per_call)]
        )

    def _fc_norm(self, columns: torch.Tensor) -> torch.Tensor:
        """columns: (..., d) float32 -> the encoder's fc_norm of them in its own dtype, float32 on the CPU."""
        return self.encoder.fc_norm(columns.to(self.encoder.cls_token.dtype)).float().cpu()

    def _columns(self, audio: torch.Tensor, hop_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """audio: (n, samples) on the model's device -> (columns (n, t, d) before fc_norm, centres (t,) in ms)."""
        n, samples = audio.shape
        hop = hop_frames * HOP
        count, lead = column_grid(samples, hop, self.span)
        frames = (count - 1) * hop_frames + self.column
        padded = torch.nn.functional.pad(audio, (lead, WINDOW + (frames - 1) * HOP - lead - samples))
        spec = (log_mel_batch(padded, self.shape.mel_bins) - self.norm_mean) / self.norm_std  # (n, frames, mel)
        offsets = self.column // hop_frames  # encoder runs, each on columns one column apart
        columns = audio.new_empty(n, count, self.encoder.fc_norm.normalized_shape[0])
        for offset in range(min(offsets, count)):
            runs = len(range(offset, count, offsets))
            start = offset * hop_frames
            columns[:, offset::offsets] = self._runs(spec[:, start : start + runs * self.column])
        centres = (self.span // 2 - lead + hop * torch.arange(count, dtype=torch.float64)) * 1000 / SAMPLE_RATE
        return columns, centres.float()

    @torch.no_grad()
    def timestamp_embeddings(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """audio: (n, samples) -> (embeddings (n, t, d), timestamps (n, t) in ms, each its column's centre)."""
        self.eval()
        columns, centres = self._columns(self._on_device(audio), self.hop_frames)
        return self._fc_norm(columns), centres[None].repeat(audio.shape[0], 1)

    @torch.no_grad()
    def scene_embeddings(self, audio: torch.Tensor) -> torch.Tensor:
        """audio: (n, samples) -> (n, d): fc_norm of the mean of the clip's columns at one-column hop."""
        self.eval()
        columns, _ = self._columns(self._on_device(audio), self.column)
        return self._fc_norm(columns.mean(dim=1))

    def _on_device(self, audio: torch.Tensor) -> torch.Tensor:
        return audio.to(self.encoder.cls_token.device)

    def timestamp_count(self, samples: int) -> int:
        """Timestamps of a clip of `samples`."""
        return column_grid(samples, self.hop_frames * HOP, self.span)[0]


def check_hop(hop_ms: float, patch: int, source: str) -> int:
    """hop_ms -> fbank frames; UserError unless a multiple of 10 ms that divides the patch column."""
    column_ms = patch * 1000 * HOP // SAMPLE_RATE
    frame_ms = 1000 * HOP // SAMPLE_RATE
    allowed = [frames * frame_ms for frames in range(1, patch + 1) if patch % frames == 0]
    number = isinstance(hop_ms, numbers.Real) and not isinstance(hop_ms, (bool, np.bool_)) and math.isfinite(hop_ms)
    frames = hop_ms / frame_ms if number else None  # numpy numbers too (np.int64 is no int); not NaN/inf
    if frames is None or frames != int(frames) or int(frames) * frame_ms not in allowed:
        raise UserError(
            f"{source} {hop_ms!r}: expected a hop in ms that divides the {column_ms} ms patch column "
            f"in whole {frame_ms} ms frames: {', '.join(map(str, allowed))}"
        )
    return int(frames)


def model_description(path: str | Path, meta: dict) -> tuple[ViTArch, FbankShape, tuple[float, float]]:
    """A model JSON's "arch", "input_shape" and "norm_mean"/"norm_std" (AudioSet's when absent), each
    checked: UserError naming the JSON, the field and what was expected."""
    where = meta_path(path)
    arch = checked_arch(where, meta["arch"])
    tokens = recorded_tokens(where, meta.get("patch_stride"))
    if tokens:
        (patch, stride), (rows, cols) = tokens, tokens[0]
        if patch != stride:
            kind = "overlapping tokens" if stride[0] < rows or stride[1] < cols else "tokens with gaps between them"
            raise UserError(
                f"{where}: fine-tuned with {kind} (patch {rows}x{cols}, stride {stride[0]}x{stride[1]}); the HEAR "
                "embedder runs patches that tile the spectrogram (stride = patch)"
            )
        arch = with_patch(arch, patch)
    value = meta["input_shape"]
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(positive(v) for v in value)
        and value[0] >= arch.patch[0]
        and value[1] >= arch.patch[1]
    ):
        raise UserError(
            f"{where}: input_shape {value!r}: expected [mel_bins, frames], whole numbers of at least "
            f"one {arch.patch[0]}x{arch.patch[1]} patch"
        )
    norm = tuple(meta.get(k, default) for k, default in (("norm_mean", AUDIOSET_MEAN), ("norm_std", AUDIOSET_STD)))
    if not (
        isinstance(norm[0], (int, float))
        and not isinstance(norm[0], bool)
        and math.isfinite(norm[0])
        and positive(norm[1], (int, float))
    ):
        raise UserError(f"{where}: norm_mean {norm[0]!r}, norm_std {norm[1]!r}: expected finite numbers, norm_std > 0")
    return arch, FbankShape(*value), (float(norm[0]), float(norm[1]))


def load_embedder(path: str | Path, device: str | torch.device = "cpu", hop_ms: float | None = None) -> AudioEmbedder:
    """A transferred or fine-tuned `.safetensors` (+ JSON) as an AudioEmbedder on `device`, timestamps
    every `hop_ms` (else the JSON's "hear_hop_ms", else one patch column)."""
    device = torch_device(str(device))  # a device this machine lacks is refused before any reading
    if device.type == "meta":
        raise UserError("device meta: it holds no weights; load the model on the cpu or a cuda device")
    if Path(path).suffix == ".json":
        raise UserError(f"{path}: the model's description; pass its weights, the .safetensors beside it")
    meta = read_meta(path) if Path(path).is_file() else {}
    if "arch" not in meta and "img_size" in meta:  # a pre-training export (encoder.json) names the image size
        raise UserError(
            f"{path}: an image encoder (its JSON names img_size, no input_shape); make an audio encoder "
            "of it first: synpat-transfer FILE --out audio.safetensors"
        )
    state, meta = read_model_file(path)
    arch, shape, norm = model_description(path, meta)
    if hop_ms is not None:
        hop_frames = check_hop(hop_ms, arch.patch[1], "hop_ms")
    elif meta.get(HOP_KEY) is not None:
        hop_frames = check_hop(meta[HOP_KEY], arch.patch[1], f"{meta_path(path)}: {HOP_KEY}")
    else:
        hop_frames = None
    model = AudioEmbedder(arch, shape, norm, hop_frames)
    try:
        load_encoder_state(model.encoder, state)
    except UserError as err:  # the JSON's arch or patch_stride describes other weights
        raise UserError(f"{path}: {err} (the model {meta_path(path)} describes)") from None
    own = model.encoder.state_dict().keys()
    unused = sorted(
        k
        for k in state
        if ("fc_norm." + k[5:] if k.startswith("norm.") else k) not in own
        and k != "pos_embed"
        and not k.startswith("head.")
    )
    if unused:  # the JSON describes a smaller model than the weights hold (fewer blocks, no qkv bias)
        raise UserError(
            f"{path}: {len(unused)} tensors the model of {meta_path(path)} has no place for, e.g. "
            f"{unused[:3]}: does its arch match the weights?"
        )
    try:
        return model.to(device).eval()
    except RuntimeError as err:
        raise UserError(f"device {device}: cannot hold the model ({str(err).splitlines()[0]})") from None


def load_model(model_file_path: str = "", device: str = "cpu", hop_ms: float | None = None) -> AudioEmbedder:
    """Load a `.safetensors` audio encoder with its JSON; has sample_rate, scene_embedding_size,
    timestamp_embedding_size. `hop_ms`: ms between timestamps, a divisor of the patch column
    (10, 20, 40, 80 or 160 for 16 frames; 10 or 20 for 2); default: the JSON's "hear_hop_ms", else one column)."""
    if not model_file_path:
        raise UserError(
            "load_model: synpat.hear has no default model; pass the .safetensors of an audio encoder "
            "(synpat-transfer or synpat-finetune output), e.g. hear-validator synpat.hear --model FILE"
        )
    if not isinstance(model_file_path, (str, os.PathLike)):
        raise UserError(f"load_model: model_file_path {model_file_path!r}: expected the path of a .safetensors file")
    return load_embedder(model_file_path, device, hop_ms)


def _integer_scale(audio: torch.Tensor) -> torch.Tensor:
    """Integer PCM -> float32 in [-1, 1): signed by 2^(bits-1), unsigned centred on 2^(bits-1)."""
    bits = audio.element_size() * 8
    wide = audio.double()
    if audio.dtype in (torch.uint8, torch.uint16, torch.uint32, torch.uint64):
        wide = wide - 2.0 ** (bits - 1)
    if bits > 16 and wide.numel() and float(wide.abs().max()) <= 2**15:
        _warn_once(
            f"narrow {audio.dtype}",
            f"audio: {str(audio.dtype).removeprefix('torch.')} PCM whose samples all "
            f"fit in 16 bits (at most {-20 * (bits - 16) * math.log10(2):.0f} dBFS after scaling by 2^{bits - 1}): "
            "if they are 16-bit values, pass audio.astype(numpy.int16) or float samples in [-1, 1]",
        )
    return (wide / 2.0 ** (bits - 1)).float()


def audio_batch(audio) -> torch.Tensor:
    """(n, samples) tensor or array of 16 kHz audio -> (n, samples) float32 on its device.

    Float is taken as is (warned once when it peaks above 2: raw PCM values in a float array?);
    integer PCM of any width is scaled by its type's range (8-bit and other unsigned PCM centred on
    2^(bits-1)). Arrays of any byte order, read-only ones, and sparse or grad-tracking tensors are
    taken. UserError (one line) for bool, complex or other dtypes, ragged lists, another shape, the
    meta device, NaN/Inf samples, float peaks above 1e15 (their spectrogram would overflow), or clips
    shorter than one 25 ms fbank window (0 samples included)."""
    if not isinstance(audio, torch.Tensor):
        try:
            array = np.asarray(audio)
        except ValueError as err:  # ragged nested lists
            raise UserError(f"audio: not an (n, samples) array ({str(err).splitlines()[0]})") from None
        if array.dtype.kind not in "biuf":
            raise UserError(
                f"audio: dtype {array.dtype} is not audio; expected float samples in [-1, 1] or integer PCM"
            )
        wanted = (
            np.dtype(np.float64) if array.dtype.kind == "f" and array.itemsize > 8 else array.dtype.newbyteorder("=")
        )
        audio = torch.from_numpy(np.require(array, wanted, ["C", "W"]))  # torch takes native-order, writable arrays
    not_audio = UserError(
        f"audio: dtype {str(audio.dtype).removeprefix('torch.')} is not audio; "
        "expected float samples in [-1, 1] or integer PCM"
    )
    if audio.dtype == torch.bool or audio.is_complex() or not (audio.is_floating_point() or audio.dtype in _INTEGERS):
        raise not_audio
    if audio.device.type == "meta":
        raise UserError(
            "audio: the tensor is on the meta device, which holds no samples; pass it on the cpu or a cuda device"
        )
    if audio.ndim != 2:
        raise UserError(
            f"audio: expected a batch (n, samples), got shape {tuple(audio.shape)}"
            + ("; add the batch dimension: audio[None]" if audio.ndim == 1 else "")
        )
    if audio.shape[1] < WINDOW:
        raise UserError(
            f"audio: clips of {audio.shape[1]} samples ({1000 * audio.shape[1] / SAMPLE_RATE:g} ms) are "
            f"shorter than one 25 ms fbank window ({WINDOW} samples at {SAMPLE_RATE} Hz); nothing to embed"
            + ("; is it (samples, n)? pass audio.T" if audio.shape[0] >= WINDOW else "")
        )
    audio = audio.detach()
    if audio.layout != torch.strided:
        audio = audio.to_dense()
    if not audio.is_floating_point():
        return _integer_scale(audio)
    try:
        wide = audio if audio.dtype == torch.float64 else audio.float()  # checked before float32 could overflow
    except (NotImplementedError, RuntimeError):  # packed float4 pairs and other floats torch cannot widen
        raise not_audio from None
    bad = int((~torch.isfinite(wide)).sum())
    if bad:
        raise UserError(f"audio: {bad} of its {wide.numel()} samples are NaN or Inf")
    peak = max(-float(wide.min()), float(wide.max())) if wide.numel() else 0.0  # no copy of the batch
    if peak > TOO_LOUD:
        raise UserError(
            f"audio: float samples peak at {peak:g}, above {TOO_LOUD:g}, where the float32 spectrogram "
            "overflows; scale them to [-1, 1] (divide by the PCM's full scale)"
        )
    if peak > LOUD_FLOAT:
        _warn_once(
            "loud float",
            f"audio: float samples peak at {peak:g}, far outside [-1, 1]: raw PCM values? "
            "Divide by the PCM's full scale (32768 for 16-bit); embedding them as they are",
        )
    return wide.float()


def _check_model(model) -> None:
    if not isinstance(model, AudioEmbedder):
        raise UserError(
            f"model: got {type(model).__name__}, expected what synpat.hear.load_model(FILE) returns "
            "(get_*_embeddings(audio, model))"
        )


def get_scene_embeddings(audio: torch.Tensor, model: AudioEmbedder) -> torch.Tensor:
    """(n, samples) 16 kHz audio (float, or integer PCM) -> (n, model.scene_embedding_size) float32 on the CPU."""
    _check_model(model)
    audio = audio_batch(audio)
    if len(audio) == 0:
        return torch.zeros(0, model.scene_embedding_size)
    return model.scene_embeddings(audio)


def get_timestamp_embeddings(audio: torch.Tensor, model: AudioEmbedder) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, samples) 16 kHz audio (float, or integer PCM) -> (embeddings (n, t, model.timestamp_embedding_size),
    timestamps (n, t) in ms, the centre of each embedding's column), float32 on the CPU."""
    _check_model(model)
    audio = audio_batch(audio)
    if len(audio) == 0:
        count = model.timestamp_count(audio.shape[1])
        return torch.zeros(0, count, model.timestamp_embedding_size), torch.zeros(0, count)
    return model.timestamp_embeddings(audio)
