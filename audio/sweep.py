"""Which synthetic data transfers best? (`synpat-experiment --sweep SET[,SET...]`)

One encoder per pre-training set, every set at the experiment's budget (images, steps, model),
each transferred and fine-tuned (and probed with --probe) on the same task, folds and seeds; the
scratch condition and the log-mel baseline run once and are shared. Sets:

    bundled          every bundled program
    family:NAME      the bundled programs of one family (their `// family: NAME` line)
    procedural:N     N programs of the grammar (synpat-gen's procedural:N, seeded by --seed)
    tv:low, tv:high  the bundled programs below / at or above the median total variation of their
                     probe renders (the paper's smooth-vs-noisy question)
    PATH             a folder or file of image programs (sound programs are refused)

OUT/sets/<set>/ holds each set's shards, encoder and scores (resumed like an experiment);
OUT/sweep.json and OUT/sweep.md hold the table: per set its programs, the image statistics of
its rendered shards (total variation, brightness entropy, edge density), the score and the gain
over scratch, and the correlation of the score with total variation over the sets.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from synpat.audio.clip_sets import load_task
from synpat.audio.experiment import (
    IMAGES_ARM,
    PROG,
    ExperimentConfig,
    Stages,
    baseline,
    calibrated_steps,
    finetune,
    finetune_epochs,
    fold_scores,
    held_out_folds,
    pretrain,
    pretrain_settings,
    render,
    runs_baseline,
)
from synpat.audio.finetune import input_shape, typical_clip
from synpat.audio.stage_reuse import task_fingerprint, transfer_key
from synpat.audio.transfer import transfer_file
from synpat.core.errors import UserError
from synpat.core.files import write_atomic, write_json_atomic
from synpat.gen.programs import bundled_shaders_dir, find_programs, run_kind
from synpat.gen.stats_report import measure_programs, measure_shards
from synpat.train.mae import MODELS

PROBE_IMAGES = 8  # renders per program to place it in a total-variation band


def parse_sets(text: str) -> list[str]:
    """'family:dead_leaves, tv:low' -> ['family:dead_leaves', 'tv:low']; UserError when empty or repeated."""
    sets = [s.strip() for s in text.split(",") if s.strip()]
    if not sets:
        raise UserError(f"bad config value sweep={text!r}: give sets such as 'family:dead_leaves,tv:low,procedural:50'")
    if len(set(sets)) != len(sets):
        raise UserError(f"bad config value sweep={text!r}: a set is named twice")
    folders: dict[str, str] = {}
    for name in sets:  # two sets in one folder would overwrite each other's shards, encoder and scores
        other = folders.setdefault(slug(name), name)
        if other != name:
            raise UserError(
                f"bad config value sweep={text!r}: sets {other!r} and {name!r} would share the folder "
                f"sets/{slug(name)}; name one of them otherwise (e.g. its path spelt another way)"
            )
    return sets


def slug(name: str) -> str:
    """A set's folder name: 'family:dead_leaves' -> 'family-dead_leaves'."""
    return re.sub(r"[^\w.-]+", "-", name).strip("-") or "set"


def tv_bands(img_size: int, seed: int) -> dict[str, list[str]]:
    """{'low': files, 'high': files}: the bundled programs split at the median of their programs' mean
    total variation over PROBE_IMAGES renders each."""
    measured = measure_programs([str(bundled_shaders_dir())], PROBE_IMAGES, img_size, seed, "auto")
    tv = np.asarray(measured.values["total_variation"])
    names = np.asarray(measured.program)
    by_program = {name: float(tv[names == name].mean()) for name in dict.fromkeys(measured.program)}
    median = statistics.median(by_program.values())
    paths = {p.name: p.path for p in find_programs([str(bundled_shaders_dir())], seed)}
    return {
        "low": [paths[n] for n, v in sorted(by_program.items()) if v < median],
        "high": [paths[n] for n, v in sorted(by_program.items()) if v >= median],
    }


def set_sources(name: str, seed: int, img_size: int, bands: dict) -> list[str]:
    """The synpat-gen sources (folders, files, procedural:N) of one set; UserError for an unknown or empty set."""
    kind, _, arg = name.partition(":")
    if name == "bundled":
        return [str(bundled_shaders_dir())]
    if kind == "family":
        programs = find_programs([str(bundled_shaders_dir())], seed)
        files = [p.path for p in programs if p.family == arg]
        if not files:
            known = ", ".join(sorted({p.family for p in programs}))
            raise UserError(f"sweep set {name!r}: no bundled program has family {arg!r} (families: {known})")
        return files
    if kind == "procedural":
        find_programs([name], seed)  # a bad N is refused here, before anything runs
        return [name]
    if kind == "tv":
        if arg not in ("low", "high"):
            raise UserError(f"sweep set {name!r}: use tv:low or tv:high")
        if not bands:
            bands.update(tv_bands(img_size, seed))
        return bands[arg]
    if not Path(name).exists():
        raise UserError(f"sweep set {name!r}: not bundled, family:NAME, procedural:N, tv:low|high or a path")
    try:
        kind = run_kind(find_programs([name], seed))
    except UserError as err:
        raise UserError(f"sweep set {name!r}: {str(err).removeprefix('--shaders: ')}") from None
    if kind != "image":  # rendered as clips and pre-trained on, then no image statistics: refused before
        raise UserError(
            f"sweep set {name!r}: sound programs (mainSound); a sweep pre-trains every set on images: give image "
            "programs, or run synpat-experiment without --sweep with them as --sound-shaders"
        )
    return [name]


def image_statistics(shards: Path) -> dict:
    """Mean of each image statistic over a set's rendered shards (synpat.gen.stats)."""
    measured = measure_shards([str(shards)])
    return {k: round(float(np.mean(v)), 5) for k, v in measured.values.items()}


def pearson(x: list[float], y: list[float]) -> float | None:
    """Pearson correlation, None with fewer than 3 points or no spread."""
    if len(x) < 3 or statistics.pstdev(x) == 0 or statistics.pstdev(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def sweep_budget(cfg: ExperimentConfig, sets: int) -> str:
    """The compute the sweep will spend (printed at the start): each set's render and pre-training, and
    the fine-tuning of every set and of scratch."""
    if cfg.pretrain_steps:
        pre = f"{cfg.pretrain_steps} steps"
    elif cfg.pretrain_epochs:
        pre = f"{cfg.pretrain_epochs} epochs"
    else:
        pre = f"{cfg.pretrain_minutes:g} minutes (timed as steps on the first set; every set gets those steps)"
    folds = held_out_folds(cfg)
    probes = f" + {sets + 1} linear probes" if cfg.probe else ""
    baseline = " and the log-mel baseline" if runs_baseline(cfg) else ""
    return (
        f"sweep of {sets} sets, each {cfg.images} images {cfg.img_size}px and {cfg.model} pre-trained for {pre}, "
        f"batch {cfg.pretrain_batch}; fine-tune {finetune_epochs(cfg)} x {folds} test fold(s) x {sets + 1} "
        f"conditions{probes} (batch {cfg.finetune_batch}, blr {cfg.finetune_blr:g}); scratch{baseline} once"
    )


def sweep(cfg: ExperimentConfig) -> dict:
    """Pre-train one encoder per set, score each on the task against the shared scratch run; -> sweep.json."""
    out = Path(cfg.out)
    task = load_task(cfg.data)
    bands: dict = {}
    sets = {name: set_sources(name, cfg.seed, cfg.img_size, bands) for name in parse_sets(cfg.sweep)}
    pretrain_settings(cfg, out, out, cfg.pretrain_steps, cfg.pretrain_epochs)  # a --pretrain-config clash: refused
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "sweep_settings.json", {**asdict(cfg), "sets": sets})
    print(f"{PROG}: {sweep_budget(cfg, len(sets))}", flush=True)
    shape = input_shape(cfg.mel_bins, cfg.frames, typical_clip(task), MODELS[cfg.model].encoder.patch_size)
    shared = Stages(out, 3 if cfg.probe else 2)
    shared.keys["data"] = data_key = task_fingerprint(task)  # what each stage read decides its reuse
    scratch = finetune(cfg, out, shared, "scratch", "none", shape, probe=False)
    probe_scratch = finetune(cfg, out, shared, "scratch", "none", shape, probe=True) if cfg.probe else None
    base = baseline(cfg, out, shared)
    metric = "mAP" if scratch["data"]["multilabel"] else "accuracy"
    rows = []
    steps = cfg.pretrain_steps  # with --pretrain-minutes: measured on the first set
    for name, sources in sets.items():
        folder = out / "sets" / slug(name)
        one = replace(cfg, shaders=",".join(sources), out=str(folder), sweep="", pretrain_on="images")
        stages = Stages(folder, 5 if cfg.probe else 4)
        stages.keys["data"] = data_key
        print(f"{PROG}: set {name}: {len(sources)} source(s) -> {folder}", flush=True)
        rendered = render(one, folder, stages)
        if cfg.pretrain_minutes and not steps:  # the same budget for every set: timed once, on the first set's images
            steps = calibrated_steps(one, out, "images", None, folder / "shards")
            print(f"{PROG}: {cfg.pretrain_minutes:g} minutes of pre-training = {steps} steps for every set", flush=True)
        pretrain(replace(one, pretrain_steps=steps, pretrain_minutes=0) if steps else one, folder, stages)
        transferred = folder / "transferred.safetensors"
        if not transferred.is_file():
            transfer_file(folder / "pretrain" / "encoder.safetensors", transferred, shape)
        stages.keys[str(transferred)] = transfer_key(stages.keys[IMAGES_ARM.pretrain_stage], shape)
        tuned = finetune(one, folder, stages, "pretrained", str(transferred), shape, probe=False)
        probed = finetune(one, folder, stages, "pretrained", str(transferred), shape, probe=True) if cfg.probe else None
        record = folder / "image_stats.json"
        if not record.is_file():
            write_json_atomic(record, image_statistics(folder / "shards"))
        scores, base_scores = fold_scores(tuned, metric), fold_scores(scratch, metric)
        gain = [scores[f] - base_scores[f] for f in scores]
        rows.append(
            {
                "set": name,
                "programs": len(rendered.get("programs", [])),
                "stats": json.loads(record.read_text()),
                "score": statistics.fmean(scores.values()),
                "per_fold": list(scores.values()),
                "gain": statistics.fmean(gain),
                "folds_better": sum(g > 0 for g in gain),
                "probe": statistics.fmean(fold_scores(probed, metric).values()) if probed else None,
            }
        )
    doc = {
        "task": cfg.data,
        "metric": metric,
        "config": asdict(cfg),
        "sets": rows,
        "pretrain_steps": steps or None,  # None: --pretrain-epochs
        "scratch": statistics.fmean(fold_scores(scratch, metric).values()),
        "probe_scratch": statistics.fmean(fold_scores(probe_scratch, metric).values()) if probe_scratch else None,
        "baseline": statistics.fmean(base["per_fold"][int(f[4:]) - 1] for f in fold_scores(scratch, metric))
        if base
        else None,  # on the folds the sets were tested on
        "tv_correlation": {
            "score": pearson([r["stats"]["total_variation"] for r in rows], [r["score"] for r in rows]),
            "probe": pearson([r["stats"]["total_variation"] for r in rows], [r["probe"] for r in rows])
            if cfg.probe
            else None,
        },
    }
    write_json_atomic(out / "sweep.json", doc)
    write_atomic(out / "sweep.md", sweep_table(doc).encode())
    print(sweep_table(doc), flush=True)
    return doc


def sweep_table(doc: dict) -> str:
    """The sweep as a Markdown table, one row per set, the shared conditions and the TV correlation below."""
    probe = doc["probe_scratch"] is not None
    lines = [
        f"| set | programs | mean TV | brightness entropy | edge density | {doc['metric']} | gain vs scratch |"
        + (" probe |" if probe else ""),
        "|---|---|---|---|---|---|---|" + ("---|" if probe else ""),
    ]
    for r in doc["sets"]:
        s = r["stats"]
        lines.append(
            f"| {r['set']} | {r['programs']} | {s['total_variation']:.3f} | {s['brightness_entropy']:.2f} | "
            f"{s['edge_density']:.3f} | {r['score']:.3f} | {r['gain']:+.3f} ({r['folds_better']} of "
            f"{len(r['per_fold'])} folds) |" + (f" {r['probe']:.3f} |" if probe else "")
        )
    lines.append(
        f"| (scratch) | | | | | {doc['scratch']:.3f} | |" + (f" {doc['probe_scratch']:.3f} |" if probe else "")
    )
    if doc["baseline"] is not None:
        lines.append(f"| (log-mel + LR) | | | | | {doc['baseline']:.3f} | |" + (" |" if probe else ""))
    corr = doc["tv_correlation"]
    text = lambda v: "n/a (fewer than 3 sets)" if v is None else f"{v:+.2f}"
    lines += [
        "",
        f"Pearson correlation of mean TV with the fine-tuned score over the sets: {text(corr['score'])}"
        + (f"; with the probe: {text(corr['probe'])}" if probe else "")
        + ".",
    ]
    return "\n".join(lines) + "\n"
