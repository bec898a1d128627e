"""Does pre-training on patterns help on my task? (`synpat-experiment`)

One command from programs to an audio score, pre-trained against scratch with the same fine-tuning
budget, folds and seeds:

    synpat-experiment --data esc50:tasks/pitch --out runs/exp --pretrain-steps 1000

Stages, each written to OUT and skipped when a re-run finds it finished (a killed experiment
re-runs only what is unfinished; pre-training resumes from its last checkpoint):
  1. render   N images of the programs into OUT/shards (synpat-gen) and OUT/contact.png
  2. pretrain an MAE for the budget (steps, epochs, or minutes turned into steps by a timed
              calibration run) into OUT/pretrain (train/pretrain.py, its own process)
  3. transfer the encoder to a 1-channel audio ViT for the task's spectrogram shape
  4. finetune it with k-fold cross-validation (OUT/finetune/pretrained), and 5. the same ViT from
              --init none (OUT/finetune/scratch); 6. optionally a linear probe of both (OUT/probe/*)
  7. baseline log-mel statistics + logistic regression (ESC-50 layout), for scale
  8. report   OUT/report.json, OUT/report.md and OUT/scores.png (score per fold and condition)
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

from synpat.audio.baseline import logmel_logreg
from synpat.audio.clip_sets import AudioTask, load_task
from synpat.audio.finetune import frames_for, run as run_finetune, typical_clip
from synpat.audio.finetune_config import FinetuneConfig
from synpat.audio.score_plot import write_scores_png
from synpat.audio.stage_reuse import StageRecords, code_version, file_sha256, stage_key, task_fingerprint
from synpat.audio.transfer import transfer_file
from synpat.core.errors import UserError
from synpat.core.files import write_atomic, write_json_atomic
from synpat.core.processes import die_with_parent
from synpat.core.progress import format_seconds
from synpat.core.settings import check_ranges, option, parse_settings, read_config_file, run_cli, settings_parser
from synpat.gen import contact
from synpat.gen.generate import GenConfig, generate
from synpat.gen.programs import bundled_shaders_dir, find_programs
from synpat.train.mae import MODELS
from synpat.train.vit_arch import VIT_SIZES

PROG = "synpat-experiment"


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
    pretrain_config: str = option("", "a train/pretrain.py config file for everything else")
    finetune_config: str = option("", "a synpat-finetune config file; applied to both conditions alike")
    finetune_epochs: int = option(30, "fine-tuning epochs per fold (both conditions)")
    finetune_batch: int = option(32, "fine-tuning batch size (both conditions)")
    finetune_blr: float = option(1e-3, "fine-tuning base lr (both conditions)")
    mel_bins: int = option(128, "spectrogram mel bins")
    frames: int = option(0, "spectrogram frames (0 = the median clip, rounded to the patch size)")
    folds: int = option(0, "cross-validation folds (0 = the task's own, else 5)")
    test_folds: str = option("", "folds to hold out, e.g. '1,3' (default: every fold)")
    probe: bool = option(False, "also linear-probe both encoders")
    baseline: bool = option(True, "also score log-mel + logistic regression (ESC-50 layout only)")
    seed: int = option(0, "one seed for rendering, pre-training, folds and fine-tuning")
    threads: int = option(0, "torch CPU threads (0 = torch's default)")


def validate(cfg: ExperimentConfig) -> ExperimentConfig:
    check_ranges(cfg, ("images", "img_size", "pretrain_batch", "pretrain_blr", "finetune_epochs", "finetune_batch",
                       "finetune_blr", "mel_bins"),
                 ("pretrain_steps", "pretrain_epochs", "pretrain_minutes", "frames", "folds", "threads"))
    if not cfg.data:
        raise UserError("no audio task: give --data LAYOUT:PATH")
    if not cfg.out:
        raise UserError("no experiment folder: give --out DIR")
    if cfg.model not in MODELS:
        raise UserError(f"bad config value model={cfg.model!r}: use one of {', '.join(MODELS)}")
    if cfg.img_size % MODELS[cfg.model].encoder.patch_size:
        raise UserError(f"bad config value img_size={cfg.img_size}: must be a multiple of the patch size")
    budgets = [name for name in ("pretrain_steps", "pretrain_epochs", "pretrain_minutes") if getattr(cfg, name)]
    if len(budgets) != 1:
        raise UserError("give exactly one pre-training budget: --pretrain-steps, --pretrain-epochs or "
                        f"--pretrain-minutes (got {', '.join(budgets) or 'none'}; set the others to 0)")
    for name in ("pretrain_config", "finetune_config"):
        if getattr(cfg, name) and not Path(getattr(cfg, name)).is_file():
            raise UserError(f"--{name.replace('_', '-')} {getattr(cfg, name)}: file not found")
    return cfg


class Stages:
    """Prints one progress line per stage and keeps the figures the report needs."""

    def __init__(self, out: Path, total: int):
        self.out, self.total, self.done, self.began = out, total, 0, time.perf_counter()
        self.records = StageRecords(out)   # which finished stages a re-run may reuse (audio/stage_reuse.py)
        self.keys: dict[str, str] = {}     # each stage's key, which the stages after it include in theirs

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
    key = stages.keys["render"] = stage_key({
        "programs": [[p.name, p.hash] for p in find_programs(shader_sources(cfg), cfg.seed)], "images": cfg.images,
        "img_size": cfg.img_size, "seed": cfg.seed, "code": code_version("gen", "core")})
    if finished and (out / "contact.png").is_file() and stages.records.reusable("render", key):
        stages.skip("render", f"{shards} is complete and its inputs are unchanged")
        return json.loads(manifest.read_text())
    if stages.records.stale("render", key):
        shutil.rmtree(shards, ignore_errors=True)
    stages.start("render", f"{cfg.images} images {cfg.img_size}x{cfg.img_size} into {shards}")
    generate(GenConfig(shaders=shader_sources(cfg), out=str(shards), count=cfg.images,
                       size=(cfg.img_size, cfg.img_size), seed=cfg.seed, shard_size=min(2000, cfg.images),
                       resume=shards.exists(), workers=max(1, os.cpu_count() or 1)))
    if contact.main([str(shards), "--out", str(out / "contact.png"), "--per-program", "8"]) != 0:
        raise UserError(f"{shards}: the contact sheet could not be made")
    stages.records.finished("render", key)
    return json.loads(manifest.read_text())


def pretrain_argv(cfg: ExperimentConfig, shards: Path, out: Path, steps: int, epochs: int) -> list[str]:
    argv = [sys.executable, "-m", "synpat.train.pretrain", "--data", str(shards), "--out", str(out),
            "--model", cfg.model, "--img-size", str(cfg.img_size), "--batch-size", str(cfg.pretrain_batch),
            "--blr", str(cfg.pretrain_blr), "--seed", str(cfg.seed), "--resume", "auto", "--loader", "torch",
            "--num-workers", "1", "--warmup", "0.1", "--save-every", "100", "--recon-every", "250"]
    argv += ["--steps", str(steps)] if steps else ["--epochs", str(epochs)]
    if cfg.pretrain_config:
        argv += ["--config", cfg.pretrain_config]
    if cfg.threads:
        argv += ["--threads", str(cfg.threads)]
    return argv


def run_child(argv: list[str], what: str) -> None:
    """Run a stage in its own process (the process group of training lives there); its output streams
    through, and it dies with this process (a killed experiment leaves no pre-training running on)."""
    result = subprocess.run(argv, env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=die_with_parent)
    if result.returncode != 0:
        raise UserError(f"{what} failed (exit status {result.returncode}; its message is above)")


def calibrated_steps(cfg: ExperimentConfig, out: Path) -> int:
    """--pretrain-minutes -> steps: time 30 steps in OUT/calibration, then steps = minutes x measured rate."""
    record = out / "calibration.json"
    if record.is_file():
        return json.loads(record.read_text())["steps"]
    folder = out / "calibration"
    run_child(pretrain_argv(cfg, out / "shards", folder, 30, 0) + ["--log-every", "10", "--save-every", "0", "--recon-every", "0"],
              "the pre-training calibration run")
    rows = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines() if line.strip()]
    rate = statistics.median(r["img_per_s"] for r in rows[1:] or rows)   # the first window includes start-up
    steps = max(1, int(cfg.pretrain_minutes * 60 * rate / cfg.pretrain_batch))
    write_json_atomic(record, {"minutes": cfg.pretrain_minutes, "img_per_s": rate, "steps": steps})
    return steps


def pretrain(cfg: ExperimentConfig, out: Path, stages: Stages) -> dict:
    """Stage 2: the MAE, resumed from its last checkpoint when a previous run stopped."""
    folder = out / "pretrain"
    steps = calibrated_steps(cfg, out) if cfg.pretrain_minutes else cfg.pretrain_steps
    meta = folder / "encoder.json"
    key = stages.keys["pretrain"] = stage_key({
        "render": stages.keys["render"], "model": cfg.model, "img_size": cfg.img_size, "steps": steps,
        "epochs": cfg.pretrain_epochs, "batch": cfg.pretrain_batch, "blr": cfg.pretrain_blr, "seed": cfg.seed,
        "config": file_sha256(Path(cfg.pretrain_config)) if cfg.pretrain_config else None,
        "code": code_version("train", "core")})
    if meta.is_file() and json.loads(meta.read_text()).get("steps") == (steps or None) and not cfg.pretrain_epochs \
            and stages.records.reusable("pretrain", key):
        stages.skip("pretrain", f"{folder} holds the encoder after {steps} steps and its inputs are unchanged")
        return json.loads(meta.read_text())
    if stages.records.stale("pretrain", key):   # not to be resumed: its checkpoints come from other inputs
        shutil.rmtree(folder, ignore_errors=True)
    budget = f"{steps} steps" if steps else f"{cfg.pretrain_epochs} epochs"
    stages.start("pretrain", f"{cfg.model} at {cfg.img_size}px for {budget}, batch {cfg.pretrain_batch}")
    run_child(pretrain_argv(cfg, out / "shards", folder, steps, cfg.pretrain_epochs), "pre-training")
    stages.records.finished("pretrain", key)
    return json.loads(meta.read_text())


def input_shape(cfg: ExperimentConfig, task: AudioTask, patch: int) -> tuple[int, int]:
    """(mel bins, frames) of the task's spectrograms: frames from the median clip unless set (as synpat-finetune)."""
    return cfg.mel_bins, cfg.frames or frames_for(typical_clip(task), patch)


def finetune_config(cfg: ExperimentConfig, init: str, out: Path, shape: tuple[int, int], probe: bool) -> FinetuneConfig:
    """The one fine-tuning recipe both conditions share: the config file, then the experiment's budget."""
    base = FinetuneConfig(**read_config_file(FinetuneConfig, cfg.finetune_config)) if cfg.finetune_config else FinetuneConfig()
    encoder = MODELS[cfg.model].encoder
    size = next((name for name, arch in VIT_SIZES.items() if arch == encoder), None)
    return replace(base, init=init, data=cfg.data, out=str(out), model=size or base.model,
                   embed_dim=0 if size else encoder.embed_dim, depth=0 if size else encoder.depth,
                   num_heads=0 if size else encoder.num_heads,
                   mel_bins=shape[0] if init == "none" else 0, frames=shape[1] if init == "none" else 0,
                   epochs=cfg.finetune_epochs, batch_size=cfg.finetune_batch, blr=cfg.finetune_blr,
                   folds=cfg.folds, test_folds=cfg.test_folds, seed=cfg.seed, threads=cfg.threads,
                   linear_probe=probe)


def finetune(cfg: ExperimentConfig, out: Path, stages: Stages, name: str, init: str, shape: tuple[int, int],
             probe: bool) -> dict:
    """Stages 4-6: one condition's cross-validated scores (results.json), re-used when already there."""
    folder = out / ("probe" if probe else "finetune") / name
    results = folder / "results.json"
    what = "linear probe" if probe else "fine-tune"
    recipe = finetune_config(cfg, init, folder, shape, probe)
    key = stage_key({"init": stages.keys["transfer"] if init != "none" else "none", "data": stages.keys["data"],
                     "config": asdict(recipe), "code": code_version("audio", "train", "core")})
    if results.is_file() and stages.records.reusable(f"{what} {name}", key):
        stages.skip(f"{what} {name}", f"{results} exists and its inputs are unchanged")
        return json.loads(results.read_text())
    stages.start(f"{what} {name}", f"{cfg.finetune_epochs} epochs per fold from {init}")
    result = run_finetune(recipe)
    stages.records.finished(f"{what} {name}", key)
    return result


def baseline(cfg: ExperimentConfig, out: Path, stages: Stages) -> dict | None:
    """Stage 7: log-mel + logistic regression on the same folds (ESC-50 layout only)."""
    record = out / "baseline.json"
    layout, _, root = cfg.data.partition(":")
    if not cfg.baseline or layout != "esc50":
        stages.skip("baseline", "off" if not cfg.baseline else f"not an ESC-50 layout ({layout})")
        return None
    key = stage_key({"data": stages.keys["data"], "folds": cfg.folds, "seed": cfg.seed, "code": code_version("audio")})
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


def report(cfg: ExperimentConfig, out: Path, parts: dict, seconds: float) -> dict:
    """Stage 8: report.json, report.md, scores.png."""
    metric = "mAP" if parts["pretrained"]["data"]["multilabel"] else "accuracy"
    conditions: list[tuple[str, dict]] = []
    if parts.get("baseline"):
        b = parts["baseline"]
        conditions.append(("log-mel + LR", {f"fold{i + 1}": v for i, v in enumerate(b["per_fold"])}))
    conditions += [("scratch", fold_scores(parts["scratch"], metric)), ("pre-trained", fold_scores(parts["pretrained"], metric))]
    if parts.get("probe_scratch"):
        conditions += [("probe scratch", fold_scores(parts["probe_scratch"], metric)),
                       ("probe pre-trained", fold_scores(parts["probe_pretrained"], metric))]
    tested = list(fold_scores(parts["pretrained"], metric))
    summary = {}
    for name, scores in conditions:
        values = [scores[f] for f in tested if f in scores]
        summary[name] = {"per_fold": values, "mean": statistics.fmean(values),
                         "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    gain = [p - s for p, s in zip(summary["pre-trained"]["per_fold"], summary["scratch"]["per_fold"])]
    classes = len(parts["pretrained"]["data"]["classes"])
    doc = {
        "config": asdict(cfg),
        "task": {"spec": cfg.data, "clips": parts["pretrained"]["data"]["used"], "classes": classes,
                 "protocol": parts["pretrained"]["protocol"], "folds": tested, "metric": metric},
        "programs": {"count": len(parts["render"].get("programs", [])),
                     "names": [p["name"] if isinstance(p, dict) else p for p in parts["render"].get("programs", [])]},
        "pretrain": {k: parts["pretrain"].get(k) for k in ("mae_model", "steps", "images", "img_size")},
        "finetune_recipe": {k: parts["pretrained"]["config"][k] for k in (
            "epochs", "batch_size", "blr", "layer_decay", "mel_bins", "frames", "freq_mask", "time_mask", "mixup",
            "patchout", "drop_path", "val_fraction")},
        "conditions": summary,
        "gain": {"per_fold": gain, "mean": statistics.fmean(gain), "std": statistics.stdev(gain) if len(gain) > 1 else 0.0},
        "seconds": round(seconds, 1),
        "reused": parts.get("reused", []),   # stages whose outputs an earlier run made with the same inputs
    }
    write_json_atomic(out / "report.json", doc)
    title = f"{Path(cfg.data.partition(':')[2]).name}: {metric} per held-out fold"
    write_scores_png(out / "scores.png", [(n, summary[n]["per_fold"]) for n, _ in conditions], title,
                     chance=1 / classes if metric == "accuracy" else None, metric=metric)
    lines = [f"# synpat experiment: {cfg.data}", "",
             f"{doc['task']['clips']} clips, {classes} classes, {doc['task']['protocol']}; {metric} on each held-out fold.",
             f"Pre-training: {doc['pretrain']['mae_model']}, {doc['pretrain']['steps']} steps "
             f"({doc['pretrain']['images']} images seen) on {cfg.images} images {cfg.img_size}px of "
             f"{doc['programs']['count']} programs (contact.png).",
             "Fine-tuning (both conditions alike): " + ", ".join(f"{k} {v}" for k, v in doc["finetune_recipe"].items()) + ".",
             "", f"| condition | mean ± std | {' | '.join(tested)} |", "|---|---|" + "---|" * len(tested)]
    for name, s in summary.items():
        lines.append(f"| {name} | {s['mean']:.3f} ± {s['std']:.3f} | " + " | ".join(f"{v:.3f}" for v in s["per_fold"]) + " |")
    g = doc["gain"]
    lines += ["", f"Pre-trained minus scratch: {g['mean']:+.3f} ± {g['std']:.3f} over {len(gain)} folds "
                  f"({sum(v > 0 for v in gain)} of {len(gain)} folds better).", "",
              "![scores](scores.png)", "", f"Total time {format_seconds(seconds)}."]
    if doc["reused"]:
        lines.append(f"Reused from an earlier run with the same inputs (data, settings, code): {', '.join(doc['reused'])}.")
    write_atomic(out / "report.md", ("\n".join(lines) + "\n").encode())
    return doc


def experiment(cfg: ExperimentConfig) -> dict:
    began = time.perf_counter()
    out = Path(cfg.out)
    task = load_task(cfg.data)   # a wrong task or wrong programs are refused before anything is written
    find_programs(shader_sources(cfg), cfg.seed)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--out {out}: cannot make the folder ({err.strerror})") from None
    settings = out / "experiment.json"
    if settings.is_file():
        before = json.loads(settings.read_text())
        changed = sorted(k for k, v in asdict(cfg).items() if before.get(k) != v and k not in ("threads", "probe", "baseline"))
        if changed:
            raise UserError(f"--out {out} holds an experiment with other settings ({', '.join(changed)}): "
                            "use another --out, or delete it")
    write_json_atomic(settings, asdict(cfg))
    stages = Stages(out, 9 if cfg.probe else 7)
    stages.keys["data"] = task_fingerprint(task)
    parts = {"render": render(cfg, out, stages)}
    parts["pretrain"] = pretrain(cfg, out, stages)
    encoder = MODELS[cfg.model].encoder
    shape = input_shape(cfg, task, encoder.patch_size)
    transferred = out / "transferred.safetensors"
    key = stages.keys["transfer"] = stage_key({"pretrain": stages.keys["pretrain"], "shape": shape,
                                               "code": code_version("audio")})
    if transferred.is_file() and stages.records.reusable("transfer", key):
        stages.skip("transfer", f"{transferred} exists and its inputs are unchanged")
    else:
        stages.start("transfer", f"encoder -> 1-channel audio ViT for {shape[0]}x{shape[1]} spectrograms")
        transfer_file(out / "pretrain" / "encoder.safetensors", transferred, shape)
        stages.records.finished("transfer", key)
    parts["pretrained"] = finetune(cfg, out, stages, "pretrained", str(transferred), shape, probe=False)
    parts["scratch"] = finetune(cfg, out, stages, "scratch", "none", shape, probe=False)
    if cfg.probe:
        parts["probe_pretrained"] = finetune(cfg, out, stages, "pretrained", str(transferred), shape, probe=True)
        parts["probe_scratch"] = finetune(cfg, out, stages, "scratch", "none", shape, probe=True)
    parts["baseline"] = baseline(cfg, out, stages)
    parts["reused"] = stages.records.reused
    stages.start("report", f"{out / 'report.md'}, {out / 'report.json'}, {out / 'scores.png'}")
    doc = report(cfg, out, parts, time.perf_counter() - began)
    c, g = doc["conditions"], doc["gain"]
    line = ", ".join(f"{n} {s['mean']:.3f} ± {s['std']:.3f}" for n, s in c.items())
    print(f"{PROG}: {line}; pre-trained - scratch {g['mean']:+.3f} ± {g['std']:.3f} "
          f"({format_seconds(doc['seconds'])}) -> {out / 'report.md'}", flush=True)
    return doc


def parse_config(argv: Sequence[str] | None) -> ExperimentConfig:
    parser = settings_parser(ExperimentConfig, PROG, "Pre-train on patterns, transfer, fine-tune; against scratch.")
    return validate(parse_settings(ExperimentConfig, argv, parser))


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(PROG, lambda a: experiment(parse_config(a)), argv)


if __name__ == "__main__":
    raise SystemExit(main())
