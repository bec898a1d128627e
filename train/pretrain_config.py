"""The pre-training settings: one dataclass holds every default; a config file (JSON or YAML), then
`--set key=value`, then `--key value` flags override it. A bad key or value is a UserError (one line, exit 2).

Defaults are the MAE recipe (He et al. 2021) as docs/design.md §3 states it: ViT-B/16, mask ratio 0.75,
normalised-pixel loss, AdamW(0.9, 0.95), weight decay 0.05, lr = blr * global batch / 256 with
blr 1.5e-4, 40 of 800 epochs of linear warm-up (5%) then cosine.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from synpat.core.errors import UserError
from synpat.core.settings import check_ranges, option, parse_settings, settings_parser
from synpat.gen.programs import find_programs
from synpat.gen.renderer import MAX_NAN
from synpat.gen.sampler import TIME_RANGE
from synpat.gen.source import CHECK_SECONDS, DURATION, SAMPLE_RATE, SourceSpec, parse_mix, parse_range
from synpat.train.deepspeed_configs import is_config_name
from synpat.train.mae import MODELS
from synpat.train.shard_list import is_remote
from synpat.train.vit_arch import parse_pair


@dataclass
class PretrainConfig:
    data: str = option(
        "", "WebDataset shards: a folder, a brace pattern 'shards/synpat-{000000..000099}.tar', or pipe:/URL shards"
    )
    stream: str = option("", "render live instead: shader folders/files, comma-separated (needs steps)")
    mix_data: str = option(
        "",
        "shards of the other kind (images with sound --data, or sounds with image --data) "
        "mixed into every batch: one pre-training on both, on spectrogram-shaped input",
    )
    sound_share: float = option(0.5, "with mix_data: the share of every batch that is sound clips (the rest images)")
    mel_bins: int = option(128, "sound input: mel bins of the log-mel spectrogram (frames follow the clip duration)")
    duration: float = option(DURATION, "stream of sound programs: seconds per clip (sound shards: their manifest's)")
    sample_rate: int = option(
        SAMPLE_RATE, "stream of sound programs: samples per second (sound shards: their manifest's)"
    )
    # the stream's source (synpat-gen's flags of the same names; the stream renders at img_size)
    time_range: str = option(f"{TIME_RANGE[0]:g},{TIME_RANGE[1]:g}", "stream: iTime range MIN,MAX")
    group: int = option(0, "stream: consecutive samples of one program; 0: synpat-gen's default for the program count")
    mix: str = option("", "stream: FAMILY=W,... share of each program family; empty: every program alike")
    max_tv: float = option(1.0, "stream: drop images whose total variation is above this (1 keeps every image)")
    min_std: float = option(
        0.0, "stream: drop images whose mean per-channel std (0..1) is below this (0 keeps every image)"
    )
    max_edge: float = option(1.0, "stream: drop images whose Canny edge density is above this (1 keeps every image)")
    filter_programs: bool = option(False, "stream: apply the filters to each program's probe images instead")
    check_seconds: float = option(
        CHECK_SECONDS, "stream: reject a program that cannot render 3 of its 8 probe images in this time"
    )
    max_nan: float = option(
        MAX_NAN, "stream: reject a program when more than this fraction of its probe images' channel values is NaN"
    )
    out: str = option("runs/pretrain", "output folder: checkpoints/, log.jsonl, tb/, recon/, encoder.safetensors")
    model: str = option("mae_vit_base_patch16", f"one of {'|'.join(MODELS)}")
    patch: str = option(
        "",
        "patch ROWSxCOLS in place of the model's square one, e.g. 128x2 on 128-mel spectrograms (full band, "
        "2 frames: the tokens synpat-finetune uses); empty: the model's",
    )
    img_size: int = option(224, "training image size (a multiple of the patch size)")
    mask_ratio: float = option(0.75, "fraction of patches masked")
    mask_block: int = option(
        1,
        "mask the patch grid in runs of this many columns (time, on spectrograms): 1 masks each patch on its "
        "own (MAE's); 8 on 128x2 tokens hides 160 ms at a time, so a masked frame cannot be copied from its neighbours",
    )
    norm_pix_loss: bool = option(True, "standardise each target patch by its own mean and variance")
    batch_size: int = option(64, "images per rank per micro-step")
    accum_steps: int = option(1, "micro-steps per optimiser step (global batch = batch_size * accum_steps * ranks)")
    epochs: int = option(800, "passes over the shards (ignored when steps > 0)")
    steps: int = option(0, "optimiser steps; > 0 overrides epochs (required with stream)")
    blr: float = option(1.5e-4, "base learning rate; lr = blr * global batch / 256")
    min_lr: float = option(0.0, "learning rate at the end of the cosine")
    warmup: float = option(0.05, "fraction of the steps spent in linear warm-up")
    weight_decay: float = option(0.05, "AdamW weight decay (not on norms, biases, tokens, position codes)")
    beta1: float = option(0.9, "AdamW beta1")
    beta2: float = option(0.95, "AdamW beta2")
    engine: str = option(
        "auto",
        "torch (DDP, torch.compile, autocast, fused AdamW) | deepspeed (ZeRO, offload) | "
        "auto (deepspeed when --deepspeed is given, else torch)",
    )
    precision: str = option(
        "auto", "auto (bf16 on a GPU, fp32 on CPU) | fp32 | bf16 | fp16; a named --deepspeed config's precision wins"
    )
    deepspeed: str = option(
        "",
        "DeepSpeed config: a bundled name (zero{0,1,2,3}_{fp32,bf16,fp16}) or a JSON path; "
        "it sets ZeRO stage, precision, clipping, buckets (default with --engine deepspeed: "
        "zero0 at --precision)",
    )
    compile: str = option("auto", "torch.compile the model: auto (on with the torch engine on a GPU) | on | off")
    loader: str = option("dali", "dali (the product path) | torch (the plain reference)")
    num_workers: int = option(2, "loader worker processes per rank")
    seed: int = option(0, "seed of the initialisation, the masks and the data order")
    threads: int = option(0, "torch CPU threads per rank (0 = torch's default)")
    log_every: int = option(20, "optimiser steps between log lines (log.jsonl, TensorBoard, progress)")
    save_every: int = option(1000, "optimiser steps between checkpoints (0 = only at the end)")
    keep_checkpoints: int = option(2, "checkpoints kept (older ones are deleted)")
    recon_every: int = option(1000, "optimiser steps between reconstruction pictures (0 = only at the end)")
    recon_images: int = option(8, "images in a reconstruction picture")
    resume: str = option("", "'auto' (the latest checkpoint in out/checkpoints, if any) or a checkpoint folder")
    overwrite: bool = option(False, "replace the run already in out (checkpoints, logs, pictures, encoder)")

    def stream_source(self) -> SourceSpec:
        """The stream's SourceSpec (UserError for a time_range or mix that does not parse)."""
        parsed = {}
        for name, parse in (("time_range", parse_range), ("mix", parse_mix)):
            try:
                parsed[name] = parse(getattr(self, name)) if getattr(self, name) else None
            except argparse.ArgumentTypeError as err:
                raise UserError(f"bad config value {name}={getattr(self, name)!r}: {err}") from None
        return SourceSpec(
            shaders=self.stream.split(","),
            size=(self.img_size, self.img_size),
            seed=self.seed,
            group=self.group or None,
            max_tv=self.max_tv if self.max_tv < 1 else None,
            min_std=self.min_std or None,
            max_edge=self.max_edge if self.max_edge < 1 else None,
            filter_programs=self.filter_programs,
            check_seconds=self.check_seconds,
            max_nan=self.max_nan,
            duration=self.duration,
            sample_rate=self.sample_rate,
            **parsed,
        )

    def patch_shape(self) -> tuple[int, int]:
        """(rows, cols) of the encoder's patches: --patch, else the model's square patch."""
        return parse_pair(self.patch, "patch") or MODELS[self.model].encoder.patch

    def global_batch(self, world_size: int) -> int:
        return self.batch_size * self.accum_steps * world_size

    def lr(self, world_size: int) -> float:
        return self.blr * self.global_batch(world_size) / 256

    @property
    def engine_name(self) -> str:
        """torch | deepspeed: the engine this run uses."""
        return self.engine if self.engine != "auto" else ("deepspeed" if self.deepspeed else "torch")

    def precision_on(self, device_type: str) -> str:
        """fp32 | bf16 | fp16: --precision, with auto = bf16 on a GPU and fp32 on CPU."""
        return self.precision if self.precision != "auto" else ("bf16" if device_type == "cuda" else "fp32")

    def compiles_on(self, device_type: str) -> bool:
        return self.compile == "on" or (
            self.compile == "auto" and self.engine_name == "torch" and device_type == "cuda"
        )


# What a resumed run (--resume) may change: the budget (steps, epochs: a run extended), the schedules
# of log lines, pictures and checkpoints, how many checkpoints are kept, CPU threads, compilation,
# and where it is written. Every other setting decides what is trained (the samples and their order,
# the model, the optimiser, the masks) and must be the checkpoint's: see resume_settings.
RESUME_MAY_CHANGE = (
    "out",
    "steps",
    "epochs",
    "log_every",
    "save_every",
    "keep_checkpoints",
    "recon_every",
    "recon_images",
    "threads",
    "compile",
    "resume",
    "overwrite",
)
# Compared through what they decide, which a checkpoint records beside these settings (train/pretrain.py
# run_settings): the engine, its ZeRO stage and its precision.
RESUME_AS_RUN = ("engine", "precision", "deepspeed")


def resume_settings(cfg: PretrainConfig) -> dict:
    """The settings a checkpoint records and a resumed run must share (JSON-able): every field but
    RESUME_MAY_CHANGE and RESUME_AS_RUN, with the sample source as what it decides: --data and --mix-data
    as absolute paths (pipe:/URL shards as given), --stream as the programs it finds (their count and a
    sha256 of their names and sources: a moved folder is the same stream, a program added is not), the
    time range and family mix parsed."""
    skip = set(RESUME_MAY_CHANGE + RESUME_AS_RUN)
    values = {f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name not in skip}
    for name in ("data", "mix_data"):
        if values[name] and not is_remote(values[name]):
            values[name] = os.path.abspath(values[name])
    if cfg.stream:
        source = cfg.stream_source()
        programs = find_programs(source.shaders, cfg.seed)
        digest = hashlib.sha256("\n".join(f"{p.name} {p.hash}" for p in programs).encode()).hexdigest()[:16]
        values["stream"] = f"{len(programs)} programs sha256 {digest}"
        values["time_range"] = list(source.time_range)
        values["mix"] = dict(sorted(source.mix.items())) if source.mix is not None else None
    return values


_POSITIVE = (
    "img_size",
    "mel_bins",
    "duration",
    "sample_rate",
    "batch_size",
    "accum_steps",
    "blr",
    "log_every",
    "keep_checkpoints",
    "recon_images",
    "mask_block",
)
_NON_NEGATIVE = (
    "epochs",
    "steps",
    "min_lr",
    "weight_decay",
    "num_workers",
    "threads",
    "save_every",
    "recon_every",
    "group",
)
_CHOICES = {
    "loader": ("torch", "dali"),
    "model": tuple(MODELS),
    "engine": ("auto", "torch", "deepspeed"),
    "precision": ("auto", "fp32", "bf16", "fp16"),
    "compile": ("auto", "on", "off"),
}


def validate(cfg: PretrainConfig) -> PretrainConfig:
    """Raise UserError for a value outside its range; return cfg."""

    def bad(name: str, why: str) -> UserError:
        return UserError(f"bad config value {name}={getattr(cfg, name)!r}: {why}")

    check_ranges(cfg, _POSITIVE, _NON_NEGATIVE)
    for name, choices in _CHOICES.items():
        if getattr(cfg, name) not in choices:
            raise bad(name, f"use one of {', '.join(choices)}")
    if not 0 < cfg.mask_ratio < 1:
        raise bad("mask_ratio", "must be in (0, 1)")
    shape = cfg.patch_shape()  # a --patch that does not parse: UserError
    # one spelling of each patch (' 128 X 2' is 128x2; the model's own is ''): config.json, checkpoints, resume
    cfg.patch = "" if shape == MODELS[cfg.model].encoder.patch else f"{shape[0]}x{shape[1]}"
    if not cfg.patch:  # the model's square patch: check the image size now (a --patch: once the input is known)
        check_grid(cfg, (cfg.img_size, cfg.img_size), shape, "img_size")
    peak = cfg.lr(1)  # the lowest peak, of one rank (more ranks scale it up)
    if cfg.min_lr > peak:
        raise bad("min_lr", f"must not exceed the peak learning rate blr x batch_size x accum_steps / 256 = {peak:g}")
    if not 0 <= cfg.warmup < 1:
        raise bad("warmup", "must be in [0, 1)")
    for name in ("beta1", "beta2"):
        if not 0 <= getattr(cfg, name) < 1:
            raise bad(name, "must be in [0, 1)")
    if bool(cfg.data) == bool(cfg.stream):
        raise UserError("give exactly one of --data SHARDS or --stream SHADERS")
    if cfg.mix_data and (
        cfg.stream or not 0 < cfg.sound_share < 1 or not 1 <= round(cfg.sound_share * cfg.batch_size) < cfg.batch_size
    ):
        raise UserError(
            "--mix-data mixes two shard sets (not a stream) with --sound-share in (0, 1) leaving "
            f"at least one clip and one image in each batch of {cfg.batch_size}"
        )
    if cfg.stream and cfg.steps == 0:
        raise UserError("--stream renders forever: give --steps N")
    if cfg.stream:
        cfg.stream_source().validate()
    if cfg.steps == 0 and cfg.epochs == 0:
        raise UserError("give --epochs N or --steps N (> 0)")
    if cfg.engine == "torch" and cfg.deepspeed:
        raise UserError("--deepspeed configures the DeepSpeed engine: drop it, or use --engine deepspeed")
    if cfg.deepspeed and not is_config_name(cfg.deepspeed) and not Path(cfg.deepspeed).is_file():
        raise bad("deepspeed", "neither a bundled config name (zero{0-3}_{fp32|bf16|fp16}) nor a JSON file")
    if cfg.resume and cfg.overwrite:
        raise UserError("--resume and --overwrite: give one of them, not both")
    if cfg.resume not in ("", "auto") and not Path(cfg.resume).is_dir():
        raise bad("resume", "use 'auto' or an existing checkpoint folder")
    return cfg


def longest_mask_block(rows: int, cols: int) -> int:
    """The longest --mask-block a rows x cols patch grid takes: a row (a run ends with its row), less one on a
    one-row grid (one run over the whole row would give every input the same mask)."""
    return cols if rows > 1 else cols - 1


def check_grid(cfg: PretrainConfig, size: tuple[int, int], patch: tuple[int, int], field: str) -> None:
    """UserError unless patches of `patch` (rows, cols) tile an input of `size`, cfg.mask_ratio masks at
    least one of them and leaves at least one visible, and cfg.mask_block's runs fit a row (less than a whole
    row on a one-row grid, where one run would give every input the same mask); `field` is the setting that
    gave `size`."""
    if size[0] % patch[0] or size[1] % patch[1]:
        raise UserError(
            f"bad config value {field}={getattr(cfg, field)!r}: the input {size[0]}x{size[1]} is not a multiple "
            f"of the patch {patch[0]}x{patch[1]}"
        )
    patches = (size[0] // patch[0]) * (size[1] // patch[1])
    if not 1 <= int(patches * (1 - cfg.mask_ratio)) < patches:
        raise UserError(
            f"bad config value mask_ratio={cfg.mask_ratio!r}: must mask at least one of the {patches} patches "
            "and leave at least one visible (the loss is over the masked ones)"
        )
    rows, cols = size[0] // patch[0], size[1] // patch[1]
    longest = longest_mask_block(rows, cols)
    if cfg.mask_block > longest:
        why = "has one row: runs that long give every input the same mask" if rows == 1 else "ends a run with its row"
        raise UserError(
            f"bad config value mask_block={cfg.mask_block}: the {rows}x{cols} patch grid {why}; use at most {longest}"
        )


def parse_config(argv: Sequence[str] | None, prog: str = "pretrain") -> PretrainConfig:
    """Defaults <- config file <- --set <- flags; validated."""
    parser = settings_parser(
        PretrainConfig,
        prog,
        "Pre-train an MAE on synthetic-pattern shards or a live stream (torch engine or DeepSpeed).",
    )
    parser.add_argument("--local_rank", "--local-rank", type=int, help="set by launchers; LOCAL_RANK is used")
    return validate(parse_settings(PretrainConfig, argv, parser))
