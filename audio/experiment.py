"""Does pre-training on patterns help on my task? (`synpat-experiment`)

One command from programs to an audio score, pre-trained against scratch with the same fine-tuning
budget, folds and seeds:

    synpat-experiment --data esc50:tasks/pitch --out runs/exp --pretrain-steps 1000

Stages, each written to OUT and skipped when a re-run finds it finished (a killed experiment
re-runs only what is unfinished; pre-training resumes from its last checkpoint):
  1. render   --clips sound clips of --sound-shaders into OUT/sound_shards (the default arm, sounds), or
              --images images of --shaders into OUT/shards and OUT/contact.png (images and mix arms)
  2. pretrain an MAE for the budget (steps, epochs, or minutes turned into steps by a timed
              calibration run) into OUT/pretrain (train/pretrain.py, its own process)
  3. transfer the encoder to a 1-channel audio ViT for the task's spectrogram shape
  4. finetune it with k-fold cross-validation (OUT/finetune/pretrained), and 5. the same ViT from
              --init none (OUT/finetune/scratch); 6. optionally a linear probe of both (OUT/probe/*)
  7. baseline log-mel statistics + logistic regression (ESC-50 layout), for scale
  8. report   OUT/report.json, OUT/report.md and OUT/scores.png (score per fold and condition)

`--pretrain-on images,sounds,mix` (default: sounds) runs one pre-training arm per kind, each with the same budget
(steps x batch) and the same fine-tuning, against the same scratch and log-mel baseline:
  images  the images school: RGB MAE at --img-size on the rendered images, transferred (above);
  sounds  the MAE on log-mel spectrograms of sound clips (--sound-data shards, or --clips clips of
          --sound-shaders, as long as the task's input up to --sound-seconds, rendered into
          OUT/sound_shards), 1 channel, mel x frames, patched like the fine-tuning tokens (--sound-patch)
          and masked in runs of 8 tokens (--sound-mask-block);
  mix     both in one pre-training: --sound-share of every batch sound clips, the rest images as
          spectrogram-shaped luminance (train/input_kinds.py says how).
Every arm's encoder goes through synpat-transfer to the task's input shape (a sound encoder keeps its
weights; only its position grid follows the shape), so every arm fine-tunes the same ViT on the same input.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from synpat.audio.baseline import logmel_logreg
from synpat.audio.clip_sets import load_task
from synpat.audio.finetune import fold_plan, input_shape, task_folds, typical_clip
from synpat.audio.finetune import run as run_finetune
from synpat.audio.finetune_config import FinetuneConfig
from synpat.audio.finetune_config import validate as finetune_validate
from synpat.audio.score_plot import render_scores, write_png
from synpat.audio.stage_reuse import (
    StageRecords,
    baseline_key,
    finetune_key,
    pretrain_key,
    render_key,
    shard_folder_key,
    sound_render_key,
    task_fingerprint,
    transfer_key,
)
from synpat.audio.transfer import transfer_file
from synpat.core.errors import UserError
from synpat.core.files import write_atomic, write_json_atomic
from synpat.core.processes import die_with_parent
from synpat.core.progress import format_seconds
from synpat.core.settings import check_ranges, option, parse_settings, read_config_file, run_cli, settings_parser
from synpat.gen import contact
from synpat.gen.generate import GenConfig, generate
from synpat.gen.programs import bundled_shaders_dir, find_programs, run_kind
from synpat.train.batched_fbank import SAMPLE_RATE, frames_in, samples_for
from synpat.train.input_kinds import folder_kind
from synpat.train.mae import MODELS
from synpat.train.pretrain_config import PretrainConfig, longest_mask_block
from synpat.train.vit_arch import VIT_SIZES, parse_pair

PROG = "synpat-experiment"
ARMS = ("images", "sounds", "mix")


@dataclass
class ExperimentConfig:
    data: str = option("", "audio task: esc50:ROOT | speechcommands:ROOT | folder:ROOT | csv:FILE")
    out: str = option("", "experiment folder (every stage's output, report.json, report.md, scores.png)")
    shaders: str = option("bundled", "programs to render: 'bundled' or folders/files, comma-separated")
    images: int = option(20000, "images rendered for pre-training")
    img_size: int = option(64, "image size for rendering and pre-training")
    model: str = option("mae_vit_tiny_patch16", f"MAE: {'|'.join(MODELS)}; scratch uses the same encoder shape")
    pretrain_steps: int = option(1000, "pre-training budget in optimiser steps (0: use epochs or minutes)")
    pretrain_epochs: int = option(0, "pre-training budget in passes over the images (with pretrain_steps 0)")
    pretrain_minutes: float = option(0.0, "pre-training budget in minutes (with steps and epochs 0)")
    pretrain_batch: int = option(64, "pre-training batch size")
    pretrain_blr: float = option(1.5e-3, "pre-training base lr (lr = blr * batch / 256)")
    pretrain_config: str = option(
        "",
        "a synpat-pretrain config file for everything else (each of its values is "
        "kept; one that contradicts the experiment's own settings is refused)",
    )
    finetune_config: str = option(
        "", "a synpat-finetune config file, applied to both conditions alike (as --pretrain-config)"
    )
    finetune_epochs: int = option(30, "fine-tuning epochs per fold (both conditions)")
    finetune_min_steps: int = option(
        1000, "fine-tuning optimiser steps per fold at least: a small task's epochs are stretched to them (0 = off)"
    )
    finetune_batch: int = option(32, "fine-tuning batch size (both conditions)")
    finetune_blr: float = option(5e-3, "fine-tuning base lr (both conditions)")
    finetune_patch: str = option(
        "",
        "fine-tuning patch MELxFRAMES ('' = full-band 2-frame tokens, mel_bins x 2; "
        "'square' = the encoder's square patch); a pre-trained embedding is resampled",
    )
    finetune_stride: str = option(
        "", "fine-tuning patch stride MELxFRAMES, below the patch for overlap ('' = the patch)"
    )
    mel_bins: int = option(128, "spectrogram mel bins")
    frames: int = option(0, "spectrogram frames (0 = the median clip, rounded to the patch size)")
    folds: int = option(0, "cross-validation folds (0 = the task's own, else 5)")
    test_folds: str = option("", "folds to hold out, e.g. '1,3' (default: every fold)")
    probe: bool = option(False, "also linear-probe both encoders")
    baseline: bool = option(True, "also score log-mel + logistic regression (ESC-50 layout only)")
    seed: int = option(0, "one seed for rendering, pre-training, folds and fine-tuning")
    sweep: str = option(
        "",
        "pre-train one encoder per image set instead (bundled, family:NAME, procedural:N, tv:low, "
        "tv:high or a path of image programs; comma-separated; every set pre-trains on images: --shaders, "
        "--sound-data and a --pretrain-on of mix or several arms are refused) "
        "and tabulate transfer against image statistics",
    )
    threads: int = option(0, "torch CPU threads (0 = torch's default)")
    pretrain_on: str = option(
        "sounds",
        "pre-training arms, comma-separated: images | sounds | mix (both kinds in "
        "one pre-training); each gets the same budget and fine-tuning",
    )
    sound_data: str = option(
        "",
        "sound shards (synpat-gen of sound programs) for the sounds and mix arms "
        "(default: render --clips of --sound-shaders into OUT/sound_shards)",
    )
    sound_shaders: str = option(
        "procedural-sound:1000",
        "sound programs to render for the sounds and mix arms (folders/files or procedural-sound:N, "
        "comma-separated) when no --sound-data",
    )
    clips: int = option(20000, "sound clips rendered for pre-training")
    sound_seconds: float = option(
        1.0,
        "the longest sound clip rendered for pre-training: clips are as long as the task's input up to this "
        "(0 = no limit); the transfer extends the encoder's time positions to the task's frames",
    )
    sound_share: float = option(0.5, "mix arm: the share of every pre-training batch that is sound clips")
    sound_patch: str = option(
        "tokens",
        "sounds and mix arms: the MAE's patch MELxFRAMES on spectrograms ('' = the model's square patch; "
        "'tokens' = the fine-tuning tokens, so transfer keeps the patch embedding as trained)",
    )
    sound_mask_block: int = option(
        8,
        "sounds and mix arms: the MAE masks its patch grid in runs of this many columns (synpat-pretrain "
        "--mask-block; 8 of the 2-frame tokens hide 160 ms at a time; 1 = each patch on its own)",
    )

    def sound_mae_patch(self) -> str:
        """The sounds and mix arms' --patch for synpat-pretrain: '' (the model's own) or MELxFRAMES, spelt one
        way (' 128 X 2' is 128x2, 16x16 on a patch-16 model is ''): the pretrain stage's key holds it."""
        patch = parse_pair(token_patch(self) if self.sound_patch == "tokens" else self.sound_patch, "sound_patch")
        return "" if patch is None or patch == MODELS[self.model].encoder.patch else f"{patch[0]}x{patch[1]}"


def validate(cfg: ExperimentConfig) -> ExperimentConfig:
    check_ranges(
        cfg,
        (
            "images",
            "img_size",
            "pretrain_batch",
            "pretrain_blr",
            "finetune_epochs",
            "finetune_batch",
            "finetune_blr",
            "mel_bins",
            "sound_mask_block",
        ),
        (
            "pretrain_steps",
            "pretrain_epochs",
            "pretrain_minutes",
            "frames",
            "folds",
            "threads",
            "sound_seconds",
            "finetune_min_steps",
        ),
    )
    if cfg.probe and cfg.finetune_batch < 2:
        raise UserError(
            f"bad config value finetune_batch={cfg.finetune_batch}: the --probe's BatchNorm needs batches of 2 "
            "clips or more"
        )
    if not cfg.data:
        raise UserError("no audio task: give --data LAYOUT:PATH")
    if not cfg.out:
        raise UserError("no experiment folder: give --out DIR")
    if cfg.model not in MODELS:
        raise UserError(f"bad config value model={cfg.model!r}: use one of {', '.join(MODELS)}")
    if cfg.img_size % MODELS[cfg.model].encoder.patch_size:
        raise UserError(f"bad config value img_size={cfg.img_size}: must be a multiple of the patch size")
    if cfg.sweep and cfg.shaders != ExperimentConfig.shaders:  # each set names its own programs
        raise UserError(
            f"--shaders {cfg.shaders}: a sweep renders each set's own programs; leave --shaders out and add each "
            f"folder or file as a set of its own (--sweep {cfg.sweep},PATH)"
        )
    if cfg.sweep and cfg.sound_data:
        raise UserError(
            f"--sound-data {cfg.sound_data}: a sweep pre-trains every set on its images; leave --sound-data out, "
            "or run synpat-experiment without --sweep to pre-train on the clips"
        )
    if cfg.sweep and pretrain_arms(cfg) not in (["images"], pretrain_arms(ExperimentConfig())):
        raise UserError(
            f"--pretrain-on {cfg.pretrain_on}: a sweep pre-trains every set on its images; leave --pretrain-on out, "
            "or run synpat-experiment without --sweep for the sounds and mix arms"
        )
    budgets = [name for name in ("pretrain_steps", "pretrain_epochs", "pretrain_minutes") if getattr(cfg, name)]
    if len(budgets) != 1:
        raise UserError(
            "give exactly one pre-training budget: --pretrain-steps, --pretrain-epochs or "
            f"--pretrain-minutes (got {', '.join(budgets) or 'none'}; set the others to 0)"
        )
    arms = pretrain_arms(cfg)
    if any(arm != "images" for arm in arms) and not (cfg.sound_data or cfg.sound_shaders):
        raise UserError(
            "--pretrain-on sounds/mix needs sound clips: give --sound-data SHARDS or --sound-shaders PROGRAMS"
        )
    if cfg.sound_data and not Path(cfg.sound_data).is_dir():
        raise UserError(f"--sound-data {cfg.sound_data}: not a folder of sound shards")
    if cfg.sound_data and any(arm != "images" for arm in arms):
        sound_shard_folder(Path(cfg.sound_data))
    if "mix" in arms and not 0 < cfg.sound_share < 1:
        raise UserError(f"bad config value sound_share={cfg.sound_share}: must be in (0, 1)")
    patch = parse_pair(token_patch(cfg), "finetune_patch")
    parse_pair(cfg.finetune_stride, "finetune_stride")
    if patch and patch[0] > cfg.mel_bins:
        raise UserError(
            f"bad config value finetune_patch={cfg.finetune_patch!r}: taller than the {cfg.mel_bins} mel bins "
            f"(use {cfg.mel_bins}x{patch[1]})"
        )
    try:
        sound_patch = parse_pair(cfg.sound_mae_patch(), "sound_patch")
    except UserError:
        raise UserError(
            f"bad config value sound_patch={cfg.sound_patch!r}: expected '' (the model's patch), 'tokens' (the "
            "fine-tuning tokens) or MELxFRAMES of positive numbers, e.g. '128x2'"
        ) from None
    if sound_patch and cfg.mel_bins % sound_patch[0]:
        raise UserError(
            f"bad config value sound_patch={cfg.sound_patch!r}: its {sound_patch[0]} rows do not divide the "
            f"{cfg.mel_bins} mel bins"
        )
    for name in ("pretrain_config", "finetune_config"):
        if getattr(cfg, name) and not Path(getattr(cfg, name)).is_file():
            raise UserError(f"--{name.replace('_', '-')} {getattr(cfg, name)}: file not found")
    return cfg


def pretrain_arms(cfg: ExperimentConfig) -> list[str]:
    """The --pretrain-on arms, in the order given, each once."""
    arms = list(dict.fromkeys(a.strip() for a in cfg.pretrain_on.split(",") if a.strip()))
    bad = [a for a in arms if a not in ARMS]
    if bad or not arms:
        raise UserError(
            f"bad config value pretrain_on={cfg.pretrain_on!r}: use one or more of {', '.join(ARMS)}, comma-separated"
        )
    return arms


@dataclass(frozen=True)
class Arm:
    """Where one pre-training arm's stages write: the images arm keeps the single-arm layout."""

    kind: str  # images | sounds | mix
    label: str  # its condition in the report

    @property
    def suffix(self) -> str:
        return "" if self.kind == "images" else f"_{self.kind}"

    def pretrain_folder(self, out: Path) -> Path:
        return out / f"pretrain{self.suffix}"

    def transferred(self, out: Path) -> Path:
        return out / f"transferred{self.suffix}.safetensors"

    @property
    def finetune_name(self) -> str:
        return f"pretrained{self.suffix}"

    @property
    def pretrain_stage(self) -> str:
        """The name of its pre-training stage (its record, and its key in Stages.keys)."""
        return "pretrain" if self.kind == "images" else f"pretrain {self.kind}"

    @property
    def transfer_stage(self) -> str:
        return "transfer" if self.kind == "images" else f"transfer {self.kind}"


IMAGES_ARM = Arm("images", "pre-trained")  # the single-arm experiment's (and each --sweep set's)


def arms_of(cfg: ExperimentConfig) -> list[Arm]:
    kinds = pretrain_arms(cfg)
    return [Arm(k, "pre-trained" if kinds == ["images"] else f"pre-trained on {k}") for k in kinds]


def token_patch(cfg: ExperimentConfig) -> str:
    """The fine-tuning patch as synpat-finetune takes it: '' -> 'MELx2' (full-band tokens 2 frames wide, the
    keyword transformer's layout: a 1 s clip gets 48 tokens, as many as 16x16 patches give, each one 20 ms of the
    whole spectrum), 'square' -> '' (the encoder's own patch), else as given."""
    return {"": f"{cfg.mel_bins}x2", "square": ""}.get(cfg.finetune_patch, cfg.finetune_patch)


def frame_unit(cfg: ExperimentConfig) -> int:
    """The input's frames are a multiple of this, so that every arm's encoder tiles it when transferred: the
    least common multiple of the patch widths pre-trained (the model's square patch on images, --sound-patch's
    columns on the sounds and mix arms)."""
    arms = pretrain_arms(cfg)
    sound = parse_pair(cfg.sound_mae_patch(), "sound_patch") or MODELS[cfg.model].encoder.patch
    widths = [MODELS[cfg.model].encoder.patch[1]] * ("images" in arms) + [sound[1]] * (arms != ["images"])
    return math.lcm(*widths)


def sound_shard_folder(folder: Path) -> None:
    """UserError, one line, unless ``folder`` holds .tar shards and a manifest.json of kind sound (synpat-gen
    with sound programs writes both): the pre-training would otherwise fail (or read images) minutes later."""
    if not any(folder.glob("*.tar")):
        raise UserError(
            f"--sound-data {folder}: no .tar shards in this folder; expected sound shards as synpat-gen writes them"
        )
    if folder_kind(folder)[0] != "sound":
        found = "a manifest.json of image shards" if (folder / "manifest.json").is_file() else "no manifest.json"
        raise UserError(
            f"--sound-data {folder}: {found}; expected sound shards with their manifest (kind \"sound\"), as "
            "synpat-gen writes them from sound programs"
        )


def finetune_epochs(cfg: ExperimentConfig) -> str:
    """'30 epochs (at least 1000 steps)': the fine-tuning schedule as the budget and stage lines print it."""
    return f"{cfg.finetune_epochs} epochs" + (
        f" (at least {cfg.finetune_min_steps} steps)" if cfg.finetune_min_steps else ""
    )


def held_out_folds(cfg: ExperimentConfig) -> int | str:
    """How many folds each condition is tested on: the --test-folds named, else --folds, else 'every'."""
    return len([f for f in cfg.test_folds.split(",") if f.strip()]) or (cfg.folds or "every")


def runs_baseline(cfg: ExperimentConfig) -> bool:
    """Whether the log-mel + logistic-regression baseline runs: --baseline on an ESC-50-layout task."""
    return cfg.baseline and cfg.data.partition(":")[0] == "esc50"


def budget_line(cfg: ExperimentConfig) -> str:
    """The compute this experiment will spend, in the units that set it (printed at the start)."""
    kinds = pretrain_arms(cfg)
    seen = "images" if kinds == ["images"] else "inputs"
    if cfg.pretrain_steps:
        pre = f"{cfg.pretrain_steps} steps x batch {cfg.pretrain_batch} ({cfg.pretrain_steps * cfg.pretrain_batch} {seen} seen)"
    else:
        pre = f"{cfg.pretrain_epochs} epochs" if cfg.pretrain_epochs else f"{cfg.pretrain_minutes:g} minutes"
    folds = held_out_folds(cfg)
    conditions = len(kinds) + 1  # the pre-trained arms and scratch
    arms = f"{conditions} conditions" + (f" + {conditions} linear probes" if cfg.probe else "")
    patch = token_patch(cfg) or "the encoder's square patch"
    on_sounds = any(arm != "images" for arm in kinds)
    renders = [f"{cfg.images} images {cfg.img_size}px"] if kinds != ["sounds"] else []
    if on_sounds and not cfg.sound_data:
        longest = f"at most {cfg.sound_seconds:g} s" if cfg.sound_seconds else "as long as the task's input"
        renders.append(f"{cfg.clips} sound clips ({longest}) of {cfg.sound_shaders}")
    render = f"render {' and '.join(renders)}; " if renders else ""
    masking = [f"{cfg.sound_mae_patch()} patches on spectrograms"] if cfg.sound_mae_patch() else []
    masking += [f"masked in runs of {cfg.sound_mask_block}"] if cfg.sound_mask_block != 1 else []
    sound_patch = f" ({', '.join(masking)})" if on_sounds and masking else ""
    return (
        f"budget: {render}pre-train {cfg.model}{sound_patch} on {', '.join(kinds)} for {pre}; fine-tune "
        f"{finetune_epochs(cfg)} x {folds} test fold(s) x {arms} (batch {cfg.finetune_batch}, blr "
        f"{cfg.finetune_blr:g}, patch {patch})"
    )


class Stages:
    """Prints one progress line per stage and keeps the figures the report needs."""

    def __init__(self, out: Path, total: int):
        self.out, self.total, self.done, self.began = out, total, 0, time.perf_counter()
        self.records = StageRecords(out)  # which finished stages a re-run may reuse (audio/stage_reuse.py)
        self.keys: dict[str, str] = {}  # each stage's key, which the stages after it include in theirs

    def start(self, name: str, what: str) -> float:
        self.done += 1
        elapsed = time.perf_counter() - self.began
        print(f"{PROG}: stage {self.done}/{self.total} {name}: {what} (elapsed {format_seconds(elapsed)})", flush=True)
        return time.perf_counter()

    def skip(self, name: str, why: str) -> None:
        self.done += 1
        print(f"{PROG}: stage {self.done}/{self.total} {name}: {why}, skipped", flush=True)


def shader_sources(cfg: ExperimentConfig) -> list[str]:
    return [str(bundled_shaders_dir())] if cfg.shaders == "bundled" else [s for s in cfg.shaders.split(",") if s]


def render(cfg: ExperimentConfig, out: Path, stages: Stages) -> dict:
    """Stage 1: shards (resumed when a previous run stopped) and the contact sheet of the programs used."""
    shards = out / "shards"
    manifest = shards / "manifest.json"
    done = json.loads(manifest.read_text()).get("shards", {}) if manifest.is_file() else {}
    finished = bool(done) and len(done.get("complete", [])) == done.get("total")
    key = stages.keys["render"] = render_key(cfg, find_programs(shader_sources(cfg), cfg.seed))
    if finished and (out / "contact.png").is_file() and stages.records.reusable("render", key):
        stages.skip("render", f"{shards} is complete and its inputs are unchanged")
        return json.loads(manifest.read_text())
    if stages.records.stale("render", key):
        shutil.rmtree(shards, ignore_errors=True)
    stages.start("render", f"{cfg.images} images {cfg.img_size}x{cfg.img_size} into {shards}")
    generate(
        GenConfig(
            shaders=shader_sources(cfg),
            out=str(shards),
            count=cfg.images,
            size=(cfg.img_size, cfg.img_size),
            seed=cfg.seed,
            shard_size=min(2000, cfg.images),
            resume=shards.exists(),
            workers=max(1, os.cpu_count() or 1),
        )
    )
    if contact.main([str(shards), "--out", str(out / "contact.png"), "--per-program", "8"]) != 0:
        raise UserError(f"{shards}: the contact sheet could not be made")
    stages.records.finished("render", key)
    return json.loads(manifest.read_text())


def clip_seconds(shape: tuple[int, int]) -> float:
    """Seconds of a clip whose fbank has exactly the input's frames (as the task's clips are cut to)."""
    return samples_for(shape[1]) / SAMPLE_RATE


def sound_clip_frames(cfg: ExperimentConfig, shape: tuple[int, int]) -> int:
    """Frames of the rendered sound clips: the task's input frames (shape[1]), or at most --sound-seconds
    worth of them rounded down to the frame unit (so that the sound MAE's patches tile them)."""
    unit = frame_unit(cfg)
    return min(shape[1], max(unit, asked_frames(cfg, shape) // unit * unit))


def asked_frames(cfg: ExperimentConfig, shape: tuple[int, int]) -> int:
    """Frames of --sound-seconds, at most the task's input frames shape[1] (0 = no limit; a length past the
    input's is no limit either, however large: seconds x 16 kHz may not be a number)."""
    return frames_in(round(min(cfg.sound_seconds or math.inf, clip_seconds(shape)) * SAMPLE_RATE))


def check_sound_clips(cfg: ExperimentConfig, shape: tuple[int, int]) -> None:
    """UserError, before anything is rendered, when the sound clips to render (sound_clip_frames of the
    task's input `shape`) are shorter than --sound-seconds can make them or give the sound MAE too few patches
    to mask its mask_ratio of them and leave one visible (pre-training would refuse them after the render)."""
    frames = sound_clip_frames(cfg, shape)
    patch = parse_pair(cfg.sound_mae_patch(), "sound_patch") or MODELS[cfg.model].encoder.patch
    patches = (cfg.mel_bins // patch[0]) * (frames // patch[1])
    ratio = pretrain_settings(cfg, Path(), Path(), cfg.pretrain_steps, cfg.pretrain_epochs).get(
        "mask_ratio", PretrainConfig.mask_ratio
    )
    asked = asked_frames(cfg, shape)
    said = f"bad config value sound_seconds={cfg.sound_seconds:g}: sound clips of {frames} frames"
    if frames > asked:
        raise UserError(
            f"{said} ({clip_seconds((shape[0], frames)):g} s) are the shortest the {patch[0]}x{patch[1]} "
            "patches tile: give --sound-seconds of at least that"
        )
    if not 1 <= int(patches * (1 - ratio)) < patches:
        raise UserError(
            f"{said} (the task's input has {shape[1]}) give {patches} {patch[0]}x{patch[1]} patches, too few for "
            f"the MAE to mask {ratio:g} of them and leave one visible: give longer clips"
        )
    columns = frames // patch[1]
    longest = longest_mask_block(cfg.mel_bins // patch[0], columns)
    if cfg.sound_mask_block > longest:
        raise UserError(
            f"bad config value sound_mask_block={cfg.sound_mask_block}: the sound clips of {frames} frames give "
            f"{columns} columns of {patch[0]}x{patch[1]} patches; use at most {longest}"
        )


def sound_programs(cfg: ExperimentConfig) -> list:
    """The --sound-shaders programs (synpat.gen.programs.Program); UserError naming --sound-shaders."""
    try:
        programs = find_programs([s for s in cfg.sound_shaders.split(",") if s], cfg.seed)
        kind = run_kind(programs)
    except UserError as err:
        said = str(err)
        raise UserError(
            "--sound-shaders" + said.removeprefix("--shaders")
            if said.startswith("--shaders")
            else f"--sound-shaders {said}"
        ) from None
    if kind != "sound":
        raise UserError(
            f"--sound-shaders {cfg.sound_shaders}: image programs (mainImage); give sound programs (mainSound), "
            "e.g. procedural-sound:1000 or bundled:sounds"
        )
    return programs


def render_sounds(
    cfg: ExperimentConfig, out: Path, stages: Stages, shape: tuple[int, int], programs: list | None
) -> Path:
    """The sound shards of the sounds and mix arms: --sound-data, or --clips clips of --sound-shaders
    (`programs`, as sound_programs found them; sound_clip_frames long) rendered into OUT/sound_shards (resumed
    when a previous run stopped, rendered again when their inputs changed). Its key is stages.keys["render sounds"]."""
    if cfg.sound_data:
        stages.keys["render sounds"] = shard_folder_key(Path(cfg.sound_data))
        stages.skip("render sounds", f"--sound-data {cfg.sound_data} given")
        return Path(cfg.sound_data)
    shards = out / "sound_shards"
    seconds = clip_seconds((shape[0], sound_clip_frames(cfg, shape)))
    key = stages.keys["render sounds"] = sound_render_key(cfg, programs, seconds)
    manifest = shards / "manifest.json"
    done = json.loads(manifest.read_text()).get("shards", {}) if manifest.is_file() else {}
    finished = bool(done) and len(done.get("complete", [])) == done.get("total")
    if finished and stages.records.reusable("render sounds", key):
        stages.skip("render sounds", f"{shards} is complete and its inputs are unchanged")
        return shards
    if stages.records.stale("render sounds", key):
        shutil.rmtree(shards, ignore_errors=True)
        done = {}
    resumed = f" (resumed: {len(done['complete'])} of {done['total']} shards there)" if done.get("complete") else ""
    stages.start("render sounds", f"{cfg.clips} clips of {seconds:g} s into {shards}{resumed}")
    generate(
        GenConfig(
            shaders=[s for s in cfg.sound_shaders.split(",") if s],
            out=str(shards),
            count=cfg.clips,
            seed=cfg.seed,
            shard_size=min(2000, cfg.clips),
            resume=shards.exists(),
            workers=max(1, os.cpu_count() or 1),
            duration=seconds,
            sample_rate=SAMPLE_RATE,
        )
    )
    stages.records.finished("render sounds", key)
    return shards


# What the experiment's pre-training does unless the --pretrain-config file says otherwise.
PRETRAIN_RECIPE = {"loader": "torch", "num_workers": 1, "warmup": 0.1, "save_every": 100, "recon_every": 250}


# The synpat-experiment flag that sets each setting it decides for the pre-training and fine-tuning stages.
PRETRAIN_FLAGS = {
    "model": "--model",
    "img_size": "--img-size",
    "batch_size": "--pretrain-batch",
    "blr": "--pretrain-blr",
    "steps": "--pretrain-steps",
    "epochs": "--pretrain-epochs",
    "mel_bins": "--mel-bins",
    "patch": "--sound-patch",
    "mask_block": "--sound-mask-block",
    "sound_share": "--sound-share",
    "seed": "--seed",
    "threads": "--threads",
}
FINETUNE_FLAGS = {
    "data": "--data",
    "model": "--model",
    "mel_bins": "--mel-bins",
    "frames": "--frames",
    "epochs": "--finetune-epochs",
    "min_steps": "--finetune-min-steps",
    "batch_size": "--finetune-batch",
    "blr": "--finetune-blr",
    "folds": "--folds",
    "test_folds": "--test-folds",
    "seed": "--seed",
    "threads": "--threads",
    "patch": "--finetune-patch",
    "stride": "--finetune-stride",
}


def owned_values(
    what: str, file: str, values: dict, owned: dict, per_stage: Sequence[str], flags: dict[str, str]
) -> None:
    """UserError when the config ``file`` sets one of the settings the experiment decides to another
    value (naming the experiment's flag for it from ``flags``), or one it sets for each of its stages
    (output folders and the like)."""
    for key in per_stage:
        if key in values:
            raise UserError(f"{what} {file}: {key} is set by the experiment for each stage: leave it out of the file")
    for key, value in owned.items():
        if key in values and values[key] != value:
            flag = f"set it with {flags[key]}" if key in flags else "the experiment decides it"
            raise UserError(
                f"{what} {file}: {key}={values[key]!r}, but the experiment sets it to {value!r} "
                f"({flag}, or leave it out of the file)"
            )


def pretrain_settings(
    cfg: ExperimentConfig,
    shards: Path,
    out: Path,
    steps: int,
    epochs: int,
    arm: str = "images",
    sound_shards: Path | None = None,
) -> dict:
    """Every pre-training setting the experiment passes: its recipe, then the --pretrain-config file's
    values (each one kept), then what the experiment decides (shards, budget, model, size, batch, lr, seed)."""
    data = {"data": str(shards)} if arm == "images" else {"data": str(sound_shards), "mel_bins": cfg.mel_bins}
    if arm != "images" and cfg.sound_mae_patch():
        data["patch"] = cfg.sound_mae_patch()
    if arm != "images" and cfg.sound_mask_block != 1:
        data["mask_block"] = cfg.sound_mask_block
    if arm == "mix":
        data.update(mix_data=str(shards), sound_share=cfg.sound_share)
    owned = {
        **data,
        "stream": "",
        "out": str(out),
        "model": cfg.model,
        "img_size": cfg.img_size,
        "batch_size": cfg.pretrain_batch,
        "blr": cfg.pretrain_blr,
        "seed": cfg.seed,
        "resume": "auto",
        "overwrite": False,
        "threads": cfg.threads,
    }
    owned.update({"steps": steps} if steps else {"steps": 0, "epochs": epochs})
    values = read_config_file(PretrainConfig, cfg.pretrain_config) if cfg.pretrain_config else {}
    if cfg.pretrain_config:
        sound = {"patch": cfg.sound_mae_patch(), "mask_block": cfg.sound_mask_block} if arm != "images" else {}
        owned_values(
            "--pretrain-config",
            cfg.pretrain_config,
            values,
            {**sound, **{k: v for k, v in owned.items() if k != "out"}},  # a sound arm's, passed or not
            ("out",),
            PRETRAIN_FLAGS,
        )
    return {**PRETRAIN_RECIPE, **values, **owned}


def pretrain_argv(
    cfg: ExperimentConfig,
    shards: Path,
    out: Path,
    steps: int,
    epochs: int,
    arm: str = "images",
    sound_shards: Path | None = None,
) -> list[str]:
    """`python -m synpat.train.pretrain --set KEY=VALUE ...` for pretrain_settings (one arm: images from
    `shards`, sounds from `sound_shards`, or both)."""
    argv = [sys.executable, "-m", "synpat.train.pretrain"]
    for key, value in pretrain_settings(cfg, shards, out, steps, epochs, arm, sound_shards).items():
        argv += ["--set", f"{key}={value}"]
    return argv


def run_child(argv: list[str], what: str) -> None:
    """Run a stage in its own process (the process group of training lives there); its output streams
    through, and it dies with this process (a killed experiment leaves no pre-training running on)."""
    result = subprocess.run(argv, env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=die_with_parent)
    if result.returncode != 0:
        raise UserError(f"{what} failed (exit status {result.returncode}; its message is above)")


# not part of a timing: paths, threads, how a run starts and ends, and what the calibration run sets itself
RATE_FREE = (
    *("data", "mix_data", "out", "threads", "resume", "overwrite", "steps", "epochs"),
    *("log_every", "save_every", "recon_every"),
)


def kept_timing(record: Path) -> dict:
    """OUT/calibration.json as calibrated_steps wrote it; {} (time again) when there is none or it is damaged
    (not JSON, or no positive rate and whole steps), as a damaged stage record is no record."""
    try:
        kept = json.loads(record.read_text())
    except (OSError, ValueError):  # missing, truncated, not UTF-8
        return {}
    if not isinstance(kept, dict):
        return {}
    rate, steps = kept.get("img_per_s"), kept.get("steps")
    numbers = type(rate) in (int, float) and type(steps) is int  # not a bool, not a string
    return kept if numbers and math.isfinite(rate) and rate > 0 and steps > 0 else {}


def calibrated_steps(
    cfg: ExperimentConfig,
    out: Path,
    arm: str = "images",
    sound_shards: Path | None = None,
    shards: Path | None = None,
) -> int:
    """--pretrain-minutes -> steps: time 30 steps in OUT/calibration on `shards` (default OUT/shards), then
    steps = minutes x measured inputs/s / the inputs of a step (batch x accum_steps), the rate measured on the
    first arm (every arm then gets those steps).
    OUT/calibration.json keeps the rate with the pre-training settings it was measured with (less the
    paths and --threads, which a re-run may change): other minutes reuse the rate, other settings are
    timed again. A record from before it kept them is used for the minutes it was made for."""
    record = out / "calibration.json"
    folder = out / "calibration"
    settings = pretrain_settings(cfg, shards or out / "shards", folder, 30, 0, arm, sound_shards)
    measured_on = json.loads(json.dumps({k: v for k, v in settings.items() if k not in RATE_FREE}))
    if record.is_dir():  # refused before the calibration run, not after it
        raise UserError(f"{record}: is a folder, expected the timing of --pretrain-minutes (delete it)")
    kept = kept_timing(record)
    same = kept.get("measured_on") == measured_on
    if (same or "measured_on" not in kept) and kept.get("minutes") == cfg.pretrain_minutes:
        return kept["steps"]  # as timed before (a record from before the settings were kept: for its minutes)
    if same:
        rate = kept["img_per_s"]
    else:
        shutil.rmtree(folder, ignore_errors=True)  # a calibration run of other settings is not resumed
        argv = pretrain_argv(cfg, shards or out / "shards", folder, 30, 0, arm, sound_shards)
        run_child(
            argv + ["--log-every", "10", "--save-every", "0", "--recon-every", "0"], "the pre-training calibration run"
        )
        rows = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines() if line.strip()]
        rate = statistics.median(r["img_per_s"] for r in rows[1:] or rows)  # the first window includes start-up
    per_step = cfg.pretrain_batch * settings.get("accum_steps", PretrainConfig.accum_steps)  # inputs a step trains
    steps = max(1, int(cfg.pretrain_minutes * 60 * rate / per_step))
    write_json_atomic(
        record, {"minutes": cfg.pretrain_minutes, "img_per_s": rate, "steps": steps, "measured_on": measured_on}
    )
    return steps


def pretrain(
    cfg: ExperimentConfig, out: Path, stages: Stages, arm: Arm | None = None, sound_shards: Path | None = None
) -> dict:
    """Stage 2: an arm's MAE (the images arm by default), resumed from its last checkpoint when a
    previous run stopped."""
    arm = arm or IMAGES_ARM
    folder = arm.pretrain_folder(out)
    first = pretrain_arms(cfg)[0]
    steps = calibrated_steps(cfg, out, first, sound_shards) if cfg.pretrain_minutes else cfg.pretrain_steps
    meta = folder / "encoder.json"
    name = arm.pretrain_stage
    sounds = stages.keys.get("render sounds") if arm.kind != "images" else None
    key = stages.keys[name] = pretrain_key(cfg, stages.keys.get("render"), arm.kind, steps, sounds)
    if (
        meta.is_file()
        and json.loads(meta.read_text()).get("steps") == (steps or None)
        and not cfg.pretrain_epochs
        and stages.records.reusable(name, key)
    ):
        stages.skip(name, f"{folder} holds the encoder after {steps} steps and its inputs are unchanged")
        return json.loads(meta.read_text())
    if stages.records.stale(name, key):  # not to be resumed: its checkpoints come from other inputs
        shutil.rmtree(folder, ignore_errors=True)
    budget = f"{steps} steps" if steps else f"{cfg.pretrain_epochs} epochs"
    what = (
        f"{cfg.img_size}px images"
        if arm.kind == "images"
        else ("log-mel spectrograms" + (f" and images ({cfg.sound_share:g} sound)" if arm.kind == "mix" else ""))
    )
    stages.start(name, f"{cfg.model} on {what} for {budget}, batch {cfg.pretrain_batch}")
    run_child(
        pretrain_argv(cfg, out / "shards", folder, steps, cfg.pretrain_epochs, arm.kind, sound_shards),
        f"pre-training ({arm.kind})",
    )
    stages.records.finished(name, key)
    return json.loads(meta.read_text())


def finetune_config(cfg: ExperimentConfig, init: str, out: Path, shape: tuple[int, int], probe: bool) -> FinetuneConfig:
    """The one fine-tuning recipe both conditions share: the --finetune-config file's values (each one
    kept), then what the experiment decides (data, encoder, input shape, budget, folds, seed)."""
    values = read_config_file(FinetuneConfig, cfg.finetune_config) if cfg.finetune_config else {}
    owned = {
        "data": cfg.data,
        "model": encoder_size(cfg.model),
        "mel_bins": shape[0],
        "frames": shape[1],
        "epochs": cfg.finetune_epochs,
        "min_steps": cfg.finetune_min_steps,
        "batch_size": cfg.finetune_batch,
        "blr": cfg.finetune_blr,
        "folds": cfg.folds,
        "test_folds": cfg.test_folds,
        "seed": cfg.seed,
        "threads": cfg.threads,
        "patch": token_patch(cfg),
        "stride": cfg.finetune_stride,
    }
    if cfg.finetune_config:
        owned_values(
            "--finetune-config", cfg.finetune_config, values, owned, ("init", "out", "linear_probe"), FINETUNE_FLAGS
        )
    return FinetuneConfig(**{**values, **owned, "init": init, "out": str(out), "linear_probe": probe})


def encoder_size(mae_model: str) -> str:
    """The audio ViT preset (VIT_SIZES) of an MAE model's encoder."""
    encoder = MODELS[mae_model].encoder
    return next(name for name, arch in VIT_SIZES.items() if arch == encoder)


def finetune(
    cfg: ExperimentConfig, out: Path, stages: Stages, name: str, init: str, shape: tuple[int, int], probe: bool
) -> dict:
    """Stages 4-6: one condition's cross-validated scores (results.json), re-used when already there."""
    folder = out / ("probe" if probe else "finetune") / name
    results = folder / "results.json"
    what = "linear probe" if probe else "fine-tune"
    recipe = finetune_config(cfg, init, folder, shape, probe)
    key = finetune_key(stages.keys[init] if init != "none" else "none", stages.keys["data"], recipe)
    if results.is_file() and stages.records.reusable(f"{what} {name}", key):
        stages.skip(f"{what} {name}", f"{results} exists and its inputs are unchanged")
        return json.loads(results.read_text())
    stages.start(f"{what} {name}", f"{finetune_epochs(cfg)} per fold from {init}")
    result = run_finetune(recipe)
    stages.records.finished(f"{what} {name}", key)
    return result


def baseline(cfg: ExperimentConfig, out: Path, stages: Stages) -> dict | None:
    """Stage 7: log-mel + logistic regression on the same folds (ESC-50 layout only)."""
    record = out / "baseline.json"
    layout, _, root = cfg.data.partition(":")
    if not runs_baseline(cfg):
        stages.skip("baseline", "off" if not cfg.baseline else f"not an ESC-50 layout ({layout})")
        return None
    key = baseline_key(cfg, stages.keys["data"])
    if record.is_file() and stages.records.reusable("baseline", key):
        stages.skip("baseline", f"{record} exists and its inputs are unchanged")
        return json.loads(record.read_text())
    stages.start("baseline", "log-mel statistics + logistic regression")
    result = logmel_logreg(root, folds=cfg.folds or None, seed=cfg.seed)
    write_json_atomic(record, result)
    stages.records.finished("baseline", key)
    return result


def fold_scores(results: dict, metric: str) -> dict[str, float]:
    return {r["name"]: r[metric] for r in results["rounds"]}


def spread(values: list[float]) -> dict:
    return {
        "per_fold": values,
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def report(cfg: ExperimentConfig, out: Path, parts: dict, seconds: float) -> dict:
    """Stage 8: report.json, report.md, scores.png: every arm beside scratch and the baseline."""
    arms = parts["arms"]  # label -> {"kind", "pretrain": encoder.json, "finetune": results, "probe": results}
    first = next(iter(arms.values()))["finetune"]
    metric = "mAP" if first["data"]["multilabel"] else "accuracy"
    conditions: list[tuple[str, dict]] = []
    if parts.get("baseline"):
        b = parts["baseline"]
        conditions.append(("log-mel + LR", {f"fold{i + 1}": v for i, v in enumerate(b["per_fold"])}))
    conditions += [("scratch", fold_scores(parts["scratch"], metric))]
    conditions += [(label, fold_scores(arm["finetune"], metric)) for label, arm in arms.items()]
    if parts.get("probe_scratch"):
        conditions += [("probe scratch", fold_scores(parts["probe_scratch"], metric))]
        conditions += [(f"probe {label}", fold_scores(arm["probe"], metric)) for label, arm in arms.items()]
    tested = list(fold_scores(first, metric))
    summary = {name: spread([scores[f] for f in tested if f in scores]) for name, scores in conditions}
    gains = {
        label: spread([p - s for p, s in zip(summary[label]["per_fold"], summary["scratch"]["per_fold"])])
        for label in arms
    }
    classes = len(first["data"]["classes"])
    doc = {
        "config": asdict(cfg),
        "task": {
            "spec": cfg.data,
            "clips": first["data"]["used"],
            "classes": classes,
            "protocol": first["protocol"],
            "folds": tested,
            "metric": metric,
        },
        "programs": {
            "count": len(parts["render"].get("programs", [])),
            "names": [p["name"] if isinstance(p, dict) else p for p in parts["render"].get("programs", [])],
        },
        "pretrain": {
            k: next(iter(arms.values()))["pretrain"].get(k) for k in ("mae_model", "steps", "images", "img_size")
        },
        "pretrain_arms": {
            label: {
                "kind": arm["kind"],
                **{
                    k: arm["pretrain"].get(k)
                    for k in ("steps", "images", "img_size", "input_shape", "norm_mean", "norm_std")
                },
            }
            for label, arm in arms.items()
        },
        "finetune_recipe": {
            k: first["config"][k]
            for k in (
                "epochs",
                "min_steps",
                "batch_size",
                "blr",
                "layer_decay",
                "mel_bins",
                "frames",
                "freq_mask",
                "time_mask",
                "mixup",
                "patchout",
                "drop_path",
                "val_fraction",
                "val_split",
            )
        },
        "conditions": summary,
        "gain": next(iter(gains.values())),
        "gains": gains,
        "seconds": round(seconds, 1),
        "reused": parts.get("reused", []),  # stages whose outputs an earlier run made with the same inputs
    }
    write_json_atomic(out / "report.json", doc)
    title = f"{Path(cfg.data.partition(':')[2]).name}: {metric} per held-out fold"
    write_png(
        out / "scores.png",
        render_scores(
            [(n, summary[n]["per_fold"]) for n, _ in conditions],
            title,
            chance=1 / classes if metric == "accuracy" else None,
            metric=metric,
        ),
    )
    budget = doc["pretrain"]
    lines = [
        f"# synpat experiment: {cfg.data}",
        "",
        f"{doc['task']['clips']} clips, {classes} classes, {doc['task']['protocol']}; {metric} on each held-out fold.",
        f"Pre-training ({'every arm alike: ' if len(arms) > 1 else ''}{budget['mae_model']}, {budget['steps']} steps, "
        f"{budget['images']} inputs seen):",
    ]
    for label, arm in arms.items():
        if arm["kind"] == "images":
            lines.append(
                f"- {label}: {cfg.images} images {cfg.img_size}px of {doc['programs']['count']} programs "
                "(contact.png), RGB, transferred to 1 channel."
            )
        else:
            lines.append(
                f"- {label}: log-mel {'x'.join(map(str, arm['pretrain']['input_shape']))} of sound clips "
                f"({cfg.sound_data or 'sound_shards'})"
                + (
                    f", {cfg.sound_share:g} of each batch; the rest images as luminance at that shape"
                    if arm["kind"] == "mix"
                    else ""
                )
                + "."
            )
    lines += [
        "Fine-tuning (every condition alike): "
        + ", ".join(f"{k} {v}" for k, v in doc["finetune_recipe"].items())
        + ".",
        "",
        f"| condition | mean ± std | {' | '.join(tested)} |",
        "|---|---|" + "---|" * len(tested),
    ]
    for name, s in summary.items():
        lines.append(
            f"| {name} | {s['mean']:.3f} ± {s['std']:.3f} | " + " | ".join(f"{v:.3f}" for v in s["per_fold"]) + " |"
        )
    lines.append("")
    for label, g in gains.items():
        n = len(g["per_fold"])
        lines.append(
            f"{label[0].upper() + label[1:]} minus scratch: {g['mean']:+.3f} ± {g['std']:.3f} over {n} folds "
            f"({sum(v > 0 for v in g['per_fold'])} of {n} folds better)."
        )
    lines += ["", "![scores](scores.png)", "", f"Total time {format_seconds(seconds)}."]
    if doc["reused"]:
        lines.append(
            f"Reused from an earlier run with the same inputs (data, settings, code): {', '.join(doc['reused'])}."
        )
    write_atomic(out / "report.md", ("\n".join(lines) + "\n").encode())
    return doc


# Settings an experiment.json lacks when written before they existed, with the value those experiments ran
# with (not today's default): --sound-seconds came with the cap, before it the clips were the task's length;
# before --finetune-min-steps every fold trained for its epochs however few steps they made.
RECORDED_SINCE = {"sound_seconds": 0.0, "sound_mask_block": 1, "finetune_min_steps": 0}
# Settings only the sounds and mix arms read: an images-only experiment is the same whatever they say (so one
# made before their defaults changed re-runs with --pretrain-on images).
SOUND_SETTINGS = (
    "sound_data",
    "sound_shaders",
    "clips",
    "sound_seconds",
    "sound_share",
    "sound_patch",
    "sound_mask_block",
)


# Settings that name a file or folder (data: after its LAYOUT:): the same one spelt otherwise is no change.
PATH_SETTINGS = ("data", "sound_data", "pretrain_config", "finetune_config")


def spelt_alike(name: str, value):
    """A setting's value with a path in it made absolute and normal ('esc50:./esc/' -> 'esc50:/abs/esc')."""
    if name not in PATH_SETTINGS or not isinstance(value, str) or not value:
        return value
    layout, colon, where = value.partition(":") if name == "data" else ("", "", value)
    return f"{layout}{colon}{Path(where).resolve() if where else where}"


def changed_settings(before: dict, cfg: ExperimentConfig) -> list[str]:
    """'NAME OLD -> NEW' of each setting of `cfg` that differs from the experiment.json dict `before`
    (threads, probe and baseline may change; out is the folder it was found in, and a path spelt otherwise
    is the same path; the settings of the arms neither run reads are not compared; a setting it lacks had its
    RECORDED_SINCE value, else its default)."""
    was = {**asdict(ExperimentConfig()), **RECORDED_SINCE, **before}
    now = asdict(cfg)
    ignored = {"threads", "probe", "baseline", "out"}
    try:
        arms_were = pretrain_arms(replace(cfg, pretrain_on=str(was["pretrain_on"])))
    except UserError:  # an experiment.json edited by hand: its arms are not ours
        arms_were = []
    if arms_were == ["images"] and pretrain_arms(cfg) == ["images"]:
        ignored.update(SOUND_SETTINGS)
    if arms_were == ["sounds"] and pretrain_arms(cfg) == ["sounds"]:  # --shaders was not read (now refused)
        ignored.add("shaders")
    return [
        f"{k} {was[k]!r} -> {v!r}"
        for k, v in sorted(now.items())
        if k not in ignored and spelt_alike(k, was[k]) != spelt_alike(k, v)
    ]


def as_it_ran(before: dict, changed: list[str]) -> str:
    """The refusal's hint for settings that came after the experiment.json ``before`` was written and whose
    default is not what it ran with: the flags that run it as it ran ('' when none changed)."""
    new = [k for k in RECORDED_SINCE if k not in before and any(c.startswith(f"{k} ") for c in changed)]
    if not new:
        return ""
    flags = " ".join(f"--{k.replace('_', '-')} {RECORDED_SINCE[k]:g}" for k in new)
    return f"; or add {flags} to run it as it was made (before {'that setting' if len(new) == 1 else 'those settings'} existed)"


def experiment(cfg: ExperimentConfig) -> dict:
    began = time.perf_counter()
    out = Path(cfg.out)
    task = load_task(cfg.data)  # a wrong task, programs or config file are refused before anything is written
    arms = arms_of(cfg)
    if not any(a.kind != "sounds" for a in arms):  # a sounds-only run never reads --shaders
        if cfg.shaders != ExperimentConfig.shaders:
            clips, instead = (
                (f"the --sound-data clips ({cfg.sound_data})", "leave it out")
                if cfg.sound_data
                else (f"--sound-shaders ({cfg.sound_shaders})", "give these programs as --sound-shaders")
            )
            raise UserError(
                f"--shaders {cfg.shaders}: the sounds arm pre-trains on {clips}; --shaders is for the images and "
                f"mix arms: {instead}, or add --pretrain-on images"
            )
    elif run_kind(find_programs(shader_sources(cfg), cfg.seed)) != "image":
        raise UserError(
            f"--shaders {cfg.shaders}: sound programs (mainSound); the images and mix arms render images: "
            "give image programs, or sound programs as --sound-shaders"
        )
    programs = sound_programs(cfg) if any(a.kind != "images" for a in arms) and not cfg.sound_data else None
    unit = frame_unit(cfg)
    if cfg.frames % unit:  # the transfer stage would refuse it, after the pre-training
        raise UserError(
            f"bad config value frames={cfg.frames}: must be a multiple of {unit}, the width of the pre-trained "
            "patches (the model's on images, --sound-patch's on sounds) that the transfer tiles it with"
        )
    shape = input_shape(cfg.mel_bins, cfg.frames, typical_clip(task), unit)
    if programs is not None:
        check_sound_clips(cfg, shape)
    for arm in arms:  # a --pretrain-config file that contradicts an arm's settings: refused before the renders
        pretrain_settings(cfg, out / "shards", out, cfg.pretrain_steps, cfg.pretrain_epochs, arm.kind, out)
    recipe = finetune_validate(finetune_config(cfg, "none", out, shape, probe=False))
    fold_plan(task, replace(recipe, folds=task_folds(recipe, task)))  # its folds and sources, before the renders
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--out {out}: cannot make the folder ({err.strerror})") from None
    settings = out / "experiment.json"
    if settings.is_file():
        before = json.loads(settings.read_text())
        changed = changed_settings(before, cfg)
        if changed:
            raise UserError(
                f"--out {out} holds an experiment with other settings ({', '.join(changed)}): "
                f"use another --out, or delete it{as_it_ran(before, changed)}"
            )
    write_json_atomic(settings, asdict(cfg))
    print(f"{PROG}: {budget_line(cfg)}", flush=True)
    images = any(a.kind != "sounds" for a in arms)
    sounds = any(a.kind != "images" for a in arms)
    per_arm = (3 + cfg.probe) * len(arms)  # pretrain, transfer, fine-tune (+ probe) of each arm
    stages = Stages(out, images + sounds + per_arm + 3 + cfg.probe)
    stages.keys["data"] = task_fingerprint(task)
    parts = {"render": render(cfg, out, stages) if images else {}, "arms": {}}
    sound_shards = render_sounds(cfg, out, stages, shape, programs) if sounds else None
    for arm in arms:
        parts["arms"][arm.label] = arm_parts = {
            "kind": arm.kind,
            "pretrain": pretrain(cfg, out, stages, arm, sound_shards),
        }
        transferred = arm.transferred(out)
        step = arm.transfer_stage
        key = stages.keys[str(transferred)] = transfer_key(stages.keys[arm.pretrain_stage], shape)
        if transferred.is_file() and stages.records.reusable(step, key):
            stages.skip(step, f"{transferred} exists and its inputs are unchanged")
        else:
            stages.start(step, f"encoder -> 1-channel audio ViT for {shape[0]}x{shape[1]} spectrograms")
            transfer_file(arm.pretrain_folder(out) / "encoder.safetensors", transferred, shape)
            stages.records.finished(step, key)
        arm_parts["finetune"] = finetune(cfg, out, stages, arm.finetune_name, str(transferred), shape, probe=False)
        if cfg.probe:
            arm_parts["probe"] = finetune(cfg, out, stages, arm.finetune_name, str(transferred), shape, probe=True)
    parts["scratch"] = finetune(cfg, out, stages, "scratch", "none", shape, probe=False)
    if cfg.probe:
        parts["probe_scratch"] = finetune(cfg, out, stages, "scratch", "none", shape, probe=True)
    parts["baseline"] = baseline(cfg, out, stages)
    parts["reused"] = stages.records.reused
    stages.start("report", f"{out / 'report.md'}, {out / 'report.json'}, {out / 'scores.png'}")
    doc = report(cfg, out, parts, time.perf_counter() - began)
    line = ", ".join(f"{n} {s['mean']:.3f} ± {s['std']:.3f}" for n, s in doc["conditions"].items())
    gains = "; ".join(f"{n} - scratch {g['mean']:+.3f} ± {g['std']:.3f}" for n, g in doc["gains"].items())
    print(f"{PROG}: {line}; {gains} ({format_seconds(doc['seconds'])}) -> {out / 'report.md'}", flush=True)
    return doc


def parse_config(argv: Sequence[str] | None) -> ExperimentConfig:
    parser = settings_parser(ExperimentConfig, PROG, "Pre-train on patterns, transfer, fine-tune; against scratch.")
    return validate(parse_settings(ExperimentConfig, argv, parser))


def run(cfg: ExperimentConfig) -> dict:
    """One experiment, or with --sweep one pre-training per set (audio/sweep.py, which builds on this module)."""
    if not cfg.sweep:
        return experiment(cfg)
    from synpat.audio.sweep import sweep  # imported here: sweep.py imports this module's stages

    return sweep(cfg)


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(PROG, lambda a: run(parse_config(a)), argv)


if __name__ == "__main__":
    raise SystemExit(main())
