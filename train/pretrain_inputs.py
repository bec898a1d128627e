"""Which input a pre-training run has and the loader that feeds it, decided from --data (its
manifest's kind), --mix-data and --stream: images (the MAE at img_size, 3 channels), sounds
(log-mel spectrograms, 1 channel, mel_bins x the frames of the clip duration) or a mix of both
(spectrogram-shaped, sound_share of every batch from sound shards, the rest images as luminance).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
from synpat.core.errors import UserError
from synpat.gen.programs import find_programs, run_kind
from synpat.train.input_kinds import (
    MAX_SAMPLES,
    ImageAsSpectrogram,
    ModelInput,
    SoundFormat,
    SpectrogramInput,
    Standardiser,
    data_kind,
    spectrogram_frames,
    usable_format,
)
from synpat.train.loaders import LoaderConfig, build_loader, build_stream
from synpat.train.pretrain_config import check_grid
from synpat.train.shard_list import expand_urls
from synpat.train.sound_loaders import MixLoader, SoundStreamLoader, build_sound_loader


@dataclass(frozen=True)
class InputPlan:
    """kind: image | sound | mix; fmt: the clips' format (None for images); size: the MAE's input
    (img_size, or (mel_bins, frames)); in_chans: 3 or 1."""

    kind: str
    fmt: SoundFormat | None
    size: int | tuple[int, int]
    in_chans: int

    def settings(self) -> dict:
        """What a checkpoint records of the input (nothing for images: older checkpoints match)."""
        return {} if self.kind == "image" else {"input": self.kind, "input_shape": list(self.size)}


def stream_kind(shaders: list[str], seed: int) -> str:
    """image | sound: the kind of input the stream's programs give (synpat.gen.programs.run_kind: a
    file that is neither, an empty one say, is left to the checks); UserError for both in one stream."""
    try:
        return run_kind(find_programs(shaders, seed))
    except UserError as e:
        raise UserError(f"--stream: {str(e).removeprefix('--shaders: ')} (or --mix-data with shards)") from None


def plan_input(cfg) -> InputPlan:
    """The input of the run `cfg` (a PretrainConfig) for its encoder's patch (cfg.patch_shape());
    UserError when the patches do not tile it."""
    patch = cfg.patch_shape()
    if cfg.stream:
        kind = stream_kind(cfg.stream.split(","), cfg.seed)
        fmt = SoundFormat(cfg.sample_rate, cfg.duration) if kind == "sound" else None
        if fmt is not None and not usable_format(fmt):  # before a model of that many frames is built
            raise UserError(
                f"--duration {cfg.duration:g} at --sample-rate {cfg.sample_rate}: expected clips of at least "
                f"one 25 ms frame and at most {MAX_SAMPLES:,} samples"
            )
    else:
        kind, fmt = data_kind(cfg.data)
        if cfg.mix_data:
            other, other_fmt = data_kind(cfg.mix_data)
            if other == kind:
                raise UserError(
                    f"--mix-data {cfg.mix_data}: {other} shards like --data's; mix sound shards with image shards"
                )
            kind, fmt = "mix", fmt or other_fmt
    if kind == "image":
        check_grid(cfg, (cfg.img_size, cfg.img_size), patch, "img_size")
        return InputPlan("image", None, cfg.img_size, 3)
    if cfg.norm_pix_loss and patch == (1, 1):  # one value per patch: its variance is NaN, and so the loss
        raise UserError(
            f"bad config value patch={cfg.patch!r}: a 1x1 patch of a spectrogram is one value, which "
            "norm_pix_loss cannot standardise; use a larger patch or --no-norm-pix-loss"
        )
    shape = (cfg.mel_bins, spectrogram_frames(fmt, patch[1]))
    check_grid(cfg, shape, patch, "mel_bins")
    return InputPlan(kind, fmt, shape, 1)


def sound_stream_loader(cfg: LoaderConfig) -> SoundStreamLoader:
    """The live stream of sound programs (cfg.source: its duration and sample rate)."""
    return SoundStreamLoader(cfg, build_stream(cfg))


def build_input_loader(plan: InputPlan, cfg, loader_cfg: LoaderConfig):
    """The loader of the run: its batches are what `model_input` takes."""
    if plan.kind == "image":
        return build_loader(loader_cfg)
    if cfg.stream:
        return sound_stream_loader(loader_cfg)
    if plan.kind == "sound":
        return build_sound_loader(loader_cfg, plan.fmt, expand_urls(cfg.data))
    sound_data, image_data = (cfg.data, cfg.mix_data) if data_kind(cfg.data)[0] == "sound" else (cfg.mix_data, cfg.data)
    clips = round(cfg.sound_share * cfg.batch_size)
    sounds = build_sound_loader(replace_batch(loader_cfg, clips, sound_data), plan.fmt, expand_urls(sound_data))
    images = build_loader(replace_batch(loader_cfg, cfg.batch_size - clips, image_data))
    return MixLoader(sounds, images)


def replace_batch(cfg: LoaderConfig, batch_size: int, data: str) -> LoaderConfig:
    return replace(cfg, batch_size=batch_size, data=data)


def model_input(plan: InputPlan, out: Path, rank: int, device: torch.device, dtype: torch.dtype) -> ModelInput:
    """Loader batch -> MAE input on device: see ModelInput."""
    standardise = Standardiser(out, rank)
    sound = SpectrogramInput(plan.fmt, *plan.size, standardise) if plan.kind != "image" else None
    image = ImageAsSpectrogram(*plan.size, standardise) if plan.kind == "mix" else None
    return ModelInput(plan.kind, device, dtype, sound, image)
