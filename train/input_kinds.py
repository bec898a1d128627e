"""What the MAE is fed: images (B, 3, S, S) as before, or log-mel spectrograms (B, 1, mel, frames)
computed from waves on the training device, or both in one batch (the `mix` of sounds and images).

The kind of a shard set is read from its folder's manifest.json (`"kind": "sound"` with
`sample_rate`, `duration`, `channels`; `"image"` or no kind is an image set). A sound set's
spectrogram has `mel_bins` rows and the frames its clips' duration gives (25 ms / 10 ms Kaldi
frames at 16 kHz, rounded to the nearest multiple of the patch size, as synpat-finetune rounds
a task's median clip; the missing frames are zero samples at the end).

Inputs are standardised per kind with one mean and std taken from the first global batch (all
ranks together) and kept in OUT/input_norm.json, so a resumed run uses the same numbers and the
exported encoder carries them (`norm_mean`/`norm_std`, what the HEAR API reads).

An image in a spectrogram-shaped batch (the mix) is its luminance (ITU-R BT.601 weights of the
augmented RGB crop, undoing the ImageNet normalisation), resized bilinearly (antialiased) to
mel x frames: the crop's height becomes the mel axis and its width the time axis, stretched, with
its own standardisation (the image statistics of the first batch), so both kinds enter the
encoder with mean 0 and std 1.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from synpat.core.errors import UserError
from synpat.core.files import write_json_atomic
from synpat.gen.sound_renderer import MAX_SAMPLES_PER_CLIP
from synpat.train.batched_fbank import SAMPLE_RATE, BatchedFbank, frames_in, samples_for
from synpat.train.image_aug import MEAN, STD
from synpat.train.shard_list import is_remote

KINDS = ("image", "sound")
MAX_SAMPLES = MAX_SAMPLES_PER_CLIP  # the longest clip synpat-gen renders, in samples
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601
NORM_FILE = "input_norm.json"


@dataclass(frozen=True)
class SoundFormat:
    """What every clip of a sound source holds: rate (Hz), seconds, channels."""

    sample_rate: int
    duration: float
    channels: int = 1

    @property
    def samples(self) -> int:
        return int(round(self.duration * self.sample_rate))

    @property
    def samples_16k(self) -> int:
        """Samples of a clip once at 16 kHz (the fbank's rate)."""
        return int(round(self.duration * SAMPLE_RATE))


def _folders(data: str) -> list[Path]:
    """The folders of a --data value's local items (a folder, or the folder of a shard file or brace
    pattern), in order, each once; remote shards have none."""
    items = [data] if data.startswith("pipe:") else data.split()
    folders = [Path(i) if Path(i).is_dir() else Path(i).parent for i in items if i and not is_remote(i)]
    return list(dict.fromkeys(folders))


def manifest_of(folder: Path) -> tuple[Path, dict] | None:
    """The manifest.json of a shard folder; None for a folder without one."""
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: unreadable manifest ({err})") from None
    if not isinstance(doc, dict):
        raise UserError(f"{path}: expected a JSON object")
    return path, doc


def folder_kind(folder: Path) -> tuple[str, SoundFormat | None]:
    """-> ('image', None) or ('sound', its SoundFormat) for a shard folder, from its manifest (none:
    images)."""
    found = manifest_of(folder)
    if found is None:
        return "image", None
    path, doc = found
    kind = doc.get("kind", "image")
    if kind not in KINDS:
        raise UserError(f"{path}: \"kind\" is {kind!r}, expected one of {', '.join(KINDS)}")
    if kind == "image":
        return "image", None
    try:
        fmt = SoundFormat(int(doc["sample_rate"]), float(doc["duration"]), int(doc.get("channels", 1)))
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(
            f"{path}: a sound manifest needs sample_rate (int), duration (seconds) and channels "
            f"(int) ({type(err).__name__}: {err})"
        ) from None
    if not usable_format(fmt):
        raise UserError(
            f"{path}: sample_rate {fmt.sample_rate}, duration {fmt.duration}, channels {fmt.channels}: "
            f"expected positive values and clips of at least one 25 ms frame and at most {MAX_SAMPLES:,} samples"
        )
    return "sound", fmt


def usable_format(fmt: SoundFormat) -> bool:
    """Clips of at least one 25 ms fbank frame and at most MAX_SAMPLES samples, at a positive rate."""
    return fmt.sample_rate > 0 and fmt.channels > 0 and frames_in(fmt.samples_16k) >= 1 and fmt.samples <= MAX_SAMPLES


def _described(kind: str, fmt: SoundFormat | None) -> str:
    if fmt is None:
        return "images"
    channels = "mono" if fmt.channels == 1 else f"{fmt.channels} channels"
    return f"{fmt.duration:g} s clips at {fmt.sample_rate} Hz ({channels})"


def data_kind(data: str) -> tuple[str, SoundFormat | None]:
    """-> ('image', None) or ('sound', its SoundFormat) for a --data value, from the manifests of its
    folders, which must agree (remote shards: images); UserError naming two that differ."""
    found = [(folder, folder_kind(folder)) for folder in _folders(data or "")]
    if not found:
        return "image", None
    first, kind = found[0]
    for folder, other in found[1:]:
        if other != kind:
            raise UserError(
                f"--data: {first} holds {_described(*kind)} but {folder} holds {_described(*other)}; one --data "
                "takes shards of one kind and format (--mix-data adds images to sound shards)"
            )
    return kind


def spectrogram_frames(fmt: SoundFormat, patch: int) -> int:
    """Frames of the spectrogram for clips of this format: their Kaldi frame count rounded to the
    nearest multiple of the patch size (at least one patch)."""
    return max(patch, round(frames_in(fmt.samples_16k) / patch) * patch)


class Standardiser:
    """One mean and std per kind, fixed from the first batch (over all ranks) or from OUT/input_norm.json."""

    def __init__(self, out: Path, rank: int):
        self.path, self.rank = out / NORM_FILE, rank
        self.stats: dict[str, tuple[float, float]] = {}
        if self.path.is_file():
            doc = json.loads(self.path.read_text())
            self.stats = {k: (float(v["mean"]), float(v["std"])) for k, v in doc.items()}

    def __call__(self, kind: str, x: torch.Tensor) -> torch.Tensor:
        if kind not in self.stats:
            self.stats[kind] = self._measure(x)
            if self.rank == 0:
                write_json_atomic(self.path, {k: {"mean": m, "std": s} for k, (m, s) in self.stats.items()})
        mean, std = self.stats[kind]
        return (x - mean) / std

    @staticmethod
    def _measure(x: torch.Tensor) -> tuple[float, float]:
        """Mean and std of x over every rank's batch (all ranks get the same numbers)."""
        sums = torch.stack(
            [x.double().sum(), x.double().pow(2).sum(), torch.tensor(x.numel(), dtype=torch.float64, device=x.device)]
        )
        if dist.is_initialized():
            dist.all_reduce(sums)
        total, squares, n = sums.tolist()
        mean = total / n
        std = max((squares / n - mean * mean) * n / max(n - 1, 1), 0.0) ** 0.5
        return mean, max(std, 1e-6)


class SpectrogramInput(torch.nn.Module):
    """waves (B, C, S) float in [-1, 1] at fmt.sample_rate -> (B, 1, mel_bins, frames) standardised log-mel.

    Channels are averaged (mono), other rates resampled to 16 kHz, the clip zero-padded or cut to
    the samples of `frames` frames, then the batched Kaldi fbank."""

    def __init__(self, fmt: SoundFormat, mel_bins: int, frames: int, standardise: Standardiser):
        super().__init__()
        self.fmt, self.mel_bins, self.frames, self.standardise = fmt, mel_bins, frames, standardise
        self.fbank = BatchedFbank(mel_bins)

    def spectrogram(self, waves: torch.Tensor) -> torch.Tensor:
        """waves (B, C, S) -> raw log-mel (B, 1, mel_bins, frames) float32."""
        mono = waves.float().mean(dim=1)  # (B, S)
        if self.fmt.sample_rate != SAMPLE_RATE:
            import torchaudio.functional as AF

            mono = AF.resample(mono, self.fmt.sample_rate, SAMPLE_RATE)
        need = samples_for(self.frames)
        mono = F.pad(mono, (0, need - mono.shape[1])) if mono.shape[1] < need else mono[:, :need]
        return self.fbank(mono)[:, None]

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        return self.standardise("sound", self.spectrogram(waves))


class ImageAsSpectrogram(torch.nn.Module):
    """imgs (B, 3, S, S) ImageNet-normalised -> (B, 1, mel_bins, frames) standardised luminance."""

    def __init__(self, mel_bins: int, frames: int, standardise: Standardiser):
        super().__init__()
        self.shape, self.standardise = (mel_bins, frames), standardise
        self.register_buffer("weights", (torch.tensor(LUMA) * torch.tensor(STD))[None, :, None, None], persistent=False)
        self.offset = float((torch.tensor(LUMA) * torch.tensor(MEAN)).sum())

    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        luma = (imgs.float() * self.weights).sum(dim=1, keepdim=True) + self.offset  # (B, 1, S, S) in [0, 1]
        luma = F.interpolate(luma, size=self.shape, mode="bilinear", align_corners=False, antialias=True)
        return self.standardise("image", luma)


class ModelInput:
    """A loader batch -> the MAE's input on `device` in `dtype`: images as they are, waves through
    SpectrogramInput, a mix `(waves, imgs)` as both, sounds first, in one batch."""

    def __init__(
        self,
        kind: str,
        device: torch.device,
        dtype: torch.dtype,
        sound: SpectrogramInput | None = None,
        image: ImageAsSpectrogram | None = None,
    ):
        self.kind, self.device, self.dtype = kind, device, dtype
        self.sound = sound.to(device) if sound is not None else None
        self.image = image.to(device) if image is not None else None

    def __call__(self, batch) -> torch.Tensor:
        if self.kind == "image":
            return batch.to(self.device, self.dtype, non_blocking=True)
        if self.kind == "sound":
            return self.sound(batch.to(self.device, non_blocking=True)).to(self.dtype)
        waves, imgs = batch
        parts = [self.sound(waves.to(self.device, non_blocking=True))] if len(waves) else []
        parts += [self.image(imgs.to(self.device, non_blocking=True))] if len(imgs) else []
        return torch.cat(parts).to(self.dtype)

    def norm(self, kind: str = "sound") -> tuple[float, float] | None:
        """The (mean, std) this run standardises `kind` ('sound' | 'image') with, once known."""
        part = self.sound if kind == "sound" else self.image
        return part.standardise.stats.get(kind) if part is not None else None
