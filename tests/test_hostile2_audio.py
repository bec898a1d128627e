"""Issue 24's audio defects: synpat-experiment reusing stages whose data changed, a BOM in esc50.csv,
a build killed by SIGKILL, a file that is no SoundFont, an --init JSON that disagrees with its
weights, a missing clip in the baseline, a huge --input-shape, a negative --snr-db."""

from __future__ import annotations

import codecs
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from audio_fixtures import make_esc50, make_image_encoder
from synpat.audio import sound_tasks as st
from synpat.audio.clip_sets import load_task
from synpat.audio.transfer import transfer_file
from synpat.audio.vit_audio import read_model_file
from synpat.core.errors import UserError

SOUNDFONT = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")


def run_module(module: str, *args, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def one_line(proc) -> str:
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def csv_rows(meta: Path) -> tuple[list[str], list[dict]]:
    with meta.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        return reader.fieldnames, list(reader)


def write_rows(meta: Path, fields: list[str], rows: list[dict], bom: bool = False) -> None:
    with meta.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as fh:
        writer = csv.DictWriter(fh, fields, lineterminator="\r\n" if bom else "\n")
        writer.writeheader()
        writer.writerows(rows)


# -- 1: synpat-experiment reuses a stage only when everything it read is unchanged ---------------

TOY = [
    "--pretrain-on",
    "images",
    "--images",
    "200",
    "--img-size",
    "32",
    "--pretrain-steps",
    "3",
    "--pretrain-batch",
    "16",
    "--finetune-epochs",
    "1",
    "--finetune-min-steps",
    "0",
    "--finetune-batch",
    "16",
    "--mel-bins",
    "32",
    "--threads",
    "2",
    "--test-folds",
    "1,2",
    "--folds",
    "5",
]


def test_experiment_reuses_only_stages_whose_inputs_are_unchanged(tmp_path, capsys):
    from synpat.audio.experiment import main

    esc = make_esc50(tmp_path / "esc", per_class=5, seed=2)
    out = tmp_path / "run"
    # a fixed input shape: the transfer reads no clip (with the median clip deciding the frames, deleting rows
    # may change the shape, and then the transfer is rightly done again)
    args = ["--data", f"esc50:{esc}", "--out", str(out), "--frames", "128"] + TOY
    assert main(args) == 0
    first = json.loads((out / "report.json").read_text())
    assert first["reused"] == [] and first["task"]["clips"] == 20
    capsys.readouterr()

    meta = esc / "meta" / "esc50.csv"
    fields, rows = csv_rows(meta)
    rows[0]["category"], rows[0]["target"] = rows[-1]["category"], rows[-1]["target"]  # relabel one clip
    write_rows(meta, fields, rows[:3] + rows[5:])  # and delete two rows
    assert main(args) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["reused"] == ["render", "pretrain", "transfer"], printed  # they do not read the task's data
    assert "fine-tune pretrained: 1 epochs per fold" in printed and "baseline: log-mel" in printed
    assert (
        "Reused from an earlier run with the same inputs (data, settings, code): render, pretrain, transfer."
        in (out / "report.md").read_text()
    )
    pre = json.loads((out / "finetune" / "pretrained" / "results.json").read_text())
    scratch = json.loads((out / "finetune" / "scratch" / "results.json").read_text())
    baseline = json.loads((out / "baseline.json").read_text())
    assert report["task"]["clips"] == pre["data"]["used"] == scratch["data"]["used"] == baseline["clips"] == 18

    assert main(args) == 0  # nothing changed: every stage reused
    assert capsys.readouterr().out.count("inputs are unchanged, skipped") == 6
    assert recorded_keys(out) == keys_of(args)  # each record holds its stage kind's key function's value
    assert json.loads((out / "report.json").read_text())["reused"] == [
        "render",
        "pretrain",
        "transfer",
        "fine-tune pretrained",
        "fine-tune scratch",
        "baseline",
    ]


def recorded_keys(out: Path) -> dict[str, str]:
    """The key each stage of an experiment folder recorded (OUT/stages/NAME.json)."""
    return {p.stem: json.loads(p.read_text())["key"] for p in (out / "stages").glob("*.json")}


def keys_of(args: list[str]) -> dict[str, str]:
    """Each stage's key of the single-arm experiment ``args`` (a fixed --frames), from the stage kinds' key functions."""
    from synpat.audio.experiment import finetune_config, parse_config, shader_sources
    from synpat.audio.stage_reuse import (
        baseline_key,
        finetune_key,
        pretrain_key,
        render_key,
        task_fingerprint,
        transfer_key,
    )
    from synpat.gen.programs import find_programs

    cfg = parse_config(args)
    out, shape = Path(cfg.out), (cfg.mel_bins, cfg.frames)
    data = task_fingerprint(load_task(cfg.data))
    render = render_key(cfg, find_programs(shader_sources(cfg), cfg.seed))
    transfer = transfer_key(pretrain_key(cfg, render, "images", cfg.pretrain_steps, None), shape)
    init = str(out / "transferred.safetensors")
    return {
        "render": render,
        "pretrain": pretrain_key(cfg, render, "images", cfg.pretrain_steps, None),
        "transfer": transfer,
        "fine-tune-pretrained": finetune_key(
            transfer, data, finetune_config(cfg, init, out / "finetune" / "pretrained", shape, False)
        ),
        "fine-tune-scratch": finetune_key(
            "none", data, finetune_config(cfg, "none", out / "finetune" / "scratch", shape, False)
        ),
        "baseline": baseline_key(cfg, data),
    }


def test_each_stage_kind_keys_by_one_function_with_the_keys_of_before(tmp_path):
    """The experiment and the sweep take each stage's key from one function per stage kind, whose value is
    the one the stages computed inline before (their recipes, written out below): a stage finished then is
    still reused. Only audio/stage_reuse.py hashes a stage's inputs."""
    from dataclasses import asdict

    from synpat.audio import experiment, sweep
    from synpat.audio.experiment import ExperimentConfig
    from synpat.audio.finetune_config import FinetuneConfig
    from synpat.audio.stage_reuse import (
        baseline_key,
        code_version,
        file_sha256,
        finetune_key,
        pretrain_key,
        render_key,
        stage_key,
        transfer_key,
    )
    from synpat.gen.programs import bundled_shaders_dir, find_programs

    recipe = tmp_path / "pretrain.yaml"
    recipe.write_text("mask_ratio: 0.6\n")
    cfg = ExperimentConfig(
        data="esc50:x",
        out=str(tmp_path),
        images=200,
        img_size=32,
        pretrain_steps=3,
        seed=4,
        sound_patch="",
        sound_mask_block=1,
    )
    programs = find_programs([str(bundled_shaders_dir() / "fbm.glsl")], cfg.seed)
    assert render_key(cfg, programs) == stage_key(
        {
            "programs": [[p.name, p.hash] for p in programs],
            "images": 200,
            "img_size": 32,
            "seed": 4,
            "code": code_version("gen", "core"),
        }
    )
    for arm, sounds, config in (("images", None, ""), ("sounds", tmp_path / "s", ""), ("mix", tmp_path, str(recipe))):
        one = ExperimentConfig(**{**asdict(cfg), "pretrain_config": config})
        assert pretrain_key(one, "R", arm, 7, sounds) == stage_key(
            {
                "render": "R",
                "arm": arm,
                "model": one.model,
                "img_size": 32,
                "steps": 7,
                "epochs": one.pretrain_epochs,
                "batch": one.pretrain_batch,
                "blr": one.pretrain_blr,
                "seed": 4,
                "sounds": str(sounds) if sounds else None,
                "sound_share": one.sound_share if arm == "mix" else None,
                "config": file_sha256(recipe) if config else None,
                "code": code_version("train", "core"),
            }
        )
    tokens = ExperimentConfig(**{**asdict(cfg), "sound_patch": "tokens"})  # a sound arm's own patch: a new key
    assert pretrain_key(tokens, "R", "images", 7, None) == pretrain_key(cfg, "R", "images", 7, None)
    assert pretrain_key(tokens, "R", "sounds", 7, "S") != pretrain_key(cfg, "R", "sounds", 7, "S")
    blocks = ExperimentConfig(**{**asdict(cfg), "sound_mask_block": 8})  # masked in runs: a new key, sounds only
    assert pretrain_key(blocks, "R", "images", 7, None) == pretrain_key(cfg, "R", "images", 7, None)
    assert pretrain_key(blocks, "R", "mix", 7, "S") != pretrain_key(cfg, "R", "mix", 7, "S")
    assert transfer_key("P", (32, 128)) == stage_key(
        {"pretrain": "P", "shape": (32, 128), "code": code_version("audio")}
    )
    tune = FinetuneConfig(epochs=2)
    recipe = {k: v for k, v in asdict(tune).items() if k not in ("threads", "out")}
    assert finetune_key("T", "D", tune) == stage_key(
        {"init": "T", "data": "D", "config": recipe, "code": code_version("audio", "train", "core")}
    )
    assert finetune_key("T", "D", FinetuneConfig(epochs=2, threads=1, out="/elsewhere")) == finetune_key("T", "D", tune)
    assert finetune_key("T", "D", FinetuneConfig(epochs=3)) != finetune_key("T", "D", tune)
    assert baseline_key(cfg, "D") == stage_key(
        {"data": "D", "folds": cfg.folds, "seed": 4, "code": code_version("audio")}
    )
    for module in (experiment, sweep):
        assert "stage_key(" not in Path(module.__file__).read_text(), module.__name__


def test_the_data_key_follows_labels_rows_and_clip_contents(tmp_path):
    from synpat.audio.stage_reuse import task_fingerprint

    esc = make_esc50(tmp_path / "esc", per_class=2, seed=2)
    spec, meta = f"esc50:{esc}", esc / "meta" / "esc50.csv"
    fields, rows = csv_rows(meta)
    keys = {task_fingerprint(load_task(spec))}
    assert task_fingerprint(load_task(spec)) in keys  # the same data, the same key
    clip = esc / "audio" / rows[1]["filename"]
    original = clip.read_bytes()
    clip.write_bytes(original[:-2] + bytes(2))  # one sample's bytes
    keys.add(task_fingerprint(load_task(spec)))
    clip.write_bytes(original)
    assert task_fingerprint(load_task(spec)) in keys and len(keys) == 2
    relabelled = [dict(r) for r in rows]
    relabelled[0]["category"], relabelled[0]["target"] = rows[-1]["category"], rows[-1]["target"]
    write_rows(meta, fields, relabelled)
    keys.add(task_fingerprint(load_task(spec)))
    write_rows(meta, fields, rows[1:])
    keys.add(task_fingerprint(load_task(spec)))
    assert len(keys) == 4


# -- 8, 15: the task's listing --------------------------------------------------------------------


def test_a_csv_with_a_byte_order_mark_loads_in_every_tool(tmp_path):
    esc = make_esc50(tmp_path / "esc", per_class=3, seed=1)
    plain = load_task(f"esc50:{esc}")
    meta = esc / "meta" / "esc50.csv"
    fields, rows = csv_rows(meta)
    write_rows(meta, fields, rows, bom=True)
    assert meta.read_bytes().startswith(codecs.BOM_UTF8)
    with_bom = load_task(f"esc50:{esc}")
    assert with_bom.clips == plain.clips and with_bom.classes == plain.classes
    listing = tmp_path / "list.csv"
    listing.write_bytes(
        codecs.BOM_UTF8
        + b"path,label\r\n"
        + "".join(f"{esc / 'audio' / r['filename']},{r['category']}\r\n" for r in rows).encode()
    )
    assert len(load_task(f"csv:{listing}").clips) == len(rows)
    proc = run_module("synpat.audio.sound_tasks", "baseline", esc, "--folds", "3")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["clips"] == len(rows)


def test_a_missing_clip_is_skipped_and_named_by_the_baseline_as_by_finetune(tmp_path):
    esc = make_esc50(tmp_path / "esc", per_class=3, seed=1)
    gone = sorted((esc / "audio").iterdir())[4]
    gone.unlink()
    proc = run_module("synpat.audio.sound_tasks", "baseline", esc, "--folds", "3")
    assert proc.returncode == 0, proc.stderr
    assert f"skipped {gone}: not found" in proc.stderr
    result = json.loads(proc.stdout)
    assert result["clips"] == 11 and result["skipped"] == [{"path": str(gone), "reason": "not found"}]


# -- 10, 11, 24: synpat-audio-tasks build ---------------------------------------------------------


def test_a_killed_build_leaves_nothing_the_next_build_keeps_and_negative_snr_is_a_value(tmp_path):
    try:
        st.find_tools("keywords")
    except UserError as err:
        pytest.skip(str(err))
    out = tmp_path / "task"
    argv = [
        sys.executable,
        "-m",
        "synpat.audio.sound_tasks",
        "build",
        "keywords",
        "--out",
        str(out),
        "--classes",
        "yes,no,up",
        "--per-class",
        "4",
        "--folds",
        "2",
        "--jobs",
        "1",
    ]
    killed = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(f".{out.name}.building-*/audio/*.wav")):  # kill it mid-way
        assert killed.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(f".{out.name}.building-"), left
    live = tmp_path / f".{out.name}.building-{os.getpid()}"  # a live builder's folder (this process) stays
    live.mkdir()
    proc = subprocess.run(argv + ["--snr-db", "-5,10"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, live.name])
    assert json.loads((out / "task.json").read_text())["snr_db"] == [-5.0, 10.0]


def test_a_soundfont_must_be_a_soundfont(tmp_path, capsys):
    if not SOUNDFONT.is_file():
        pytest.skip(f"{SOUNDFONT} (Debian timgm6mb-soundfont) is not installed")
    assert st.find_tools("pitch", str(SOUNDFONT)).soundfont == str(SOUNDFONT.resolve())
    fake = tmp_path / "fake.sf2"
    fake.write_bytes(b"RIFF\x04\x00\x00\x00WAVE")
    for path in ("/etc/passwd", fake):
        assert st.main(["build", "pitch", "--out", str(tmp_path / "t"), "--soundfont", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert (
            err.startswith(
                f"synpat-audio-tasks: error: --soundfont {path}: not a SoundFont (expected an .sf2/.sf3 "
                "file starting with RIFF....sfbk"
            )
            and "\n" not in err
        ), err
    assert not (tmp_path / "t").exists()


# -- 12, 23: model files and shapes ---------------------------------------------------------------


def test_an_init_json_that_disagrees_with_its_weights_is_refused(tmp_path):
    encoder = make_image_encoder(tmp_path / "enc.safetensors", depth=2)
    model = tmp_path / "audio.safetensors"
    transfer_file(encoder, model, (32, 64))
    state, meta = read_model_file(model)
    assert meta["arch"]["depth"] == 2
    meta["arch"]["depth"] = 1
    model.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(UserError, match=f"{model}: its JSON says depth 1, its weights have 2"):
        read_model_file(model)
    esc = make_esc50(tmp_path / "esc", per_class=2, seed=1)
    line = one_line(
        run_module(
            "synpat.audio.finetune",
            "--data",
            f"esc50:{esc}",
            "--init",
            model,
            "--out",
            tmp_path / "ft",
            "--epochs",
            "1",
        )
    )
    assert "its JSON says depth 1, its weights have 2" in line


def test_a_huge_input_shape_is_refused_with_the_memory_it_needs(tmp_path):
    encoder = make_image_encoder(tmp_path / "enc.safetensors", depth=1)
    began = time.monotonic()
    line = one_line(
        run_module(
            "synpat.audio.transfer", encoder, "--out", tmp_path / "a.safetensors", "--input-shape", "100000x100000"
        )
    )
    assert time.monotonic() - began < 60
    assert (
        "input shape 100000x100000 gives 39062500 patches of 16x16, more than 16384 (its position table alone "
        "needs 14.0 GiB" in line
    ), line
    assert not (tmp_path / "a.safetensors").exists()


# -- found in the hostile round after the 25 ------------------------------------------------------


def test_a_listing_that_is_not_utf8_is_one_line(tmp_path):
    listing = tmp_path / "list.csv"
    listing.write_bytes("path,label\r\na.wav,yes\r\n".encode("utf-16"))  # what some spreadsheets save as "Unicode text"
    with pytest.raises(UserError) as err:
        load_task(f"csv:{listing}")
    assert str(err.value) == f'{listing}: not UTF-8 text; expected a UTF-8 CSV file (a spreadsheet\'s "CSV UTF-8")'
    esc = make_esc50(tmp_path / "esc", per_class=1, seed=1)
    (esc / "meta" / "esc50.csv").write_bytes(b"\xff\xfe\x00binary")
    line = one_line(run_module("synpat.audio.sound_tasks", "baseline", esc))
    assert f"{esc / 'meta' / 'esc50.csv'}: not UTF-8 text" in line


def test_two_experiments_in_one_folder_at_once_give_one_line(tmp_path):
    from synpat.audio.stage_reuse import StageRecords

    esc = make_esc50(tmp_path / "esc", per_class=5, seed=1)  # 5 folds: the task passes the checks before the lock
    out = tmp_path / "run"
    running = StageRecords(out)  # an experiment running in OUT (this process)
    line = one_line(run_module("synpat.audio.experiment", "--data", f"esc50:{esc}", "--out", out, *TOY))
    assert (
        line == f"synpat-experiment: error: --out {out}: another synpat-experiment (pid {os.getpid()}) is "
        "running there; wait for it to end"
    )
    assert sorted(p.name for p in (out / "stages").iterdir()) == [".lock"]  # it did nothing
    del running
    StageRecords(out)  # ended: the folder is free again


def test_finetune_refuses_a_huge_input_before_reading_clips(tmp_path):
    esc = make_esc50(tmp_path / "esc", per_class=1, seed=1)
    began = time.monotonic()
    line = one_line(
        run_module(
            "synpat.audio.finetune",
            "--data",
            f"esc50:{esc}",
            "--out",
            tmp_path / "ft",
            "--model",
            "vit_tiny",
            "--frames",
            "10000000",
            "--epochs",
            "1",
        )
    )
    assert "input shape 128x10000000 gives 5000000 patches of 16x16, more than 16384" in line, line
    assert time.monotonic() - began < 120 and not (tmp_path / "ft").exists()
