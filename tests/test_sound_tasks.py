"""synpat-audio-tasks: tiny builds of each kind through the real engines (espeak-ng, fluidsynth, sox),
their layout, folds, determinism and SNR; the missing-tool message; the log-mel baseline.

The engines come from Debian packages (quickstart.sh installs them); without them the build tests
skip and say which packages to install. The messages and argument checks run everywhere."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from synpat.audio import sound_tasks as st
from synpat.audio.baseline import logmel_logreg
from synpat.audio.clip_sets import load_task
from synpat.core.errors import UserError

TINY = {"keywords": "yes,no,up", "pitch": "C,E,G#", "instrument": "piano,bass,pipe"}
SNR = {"keywords": (0.0, 20.0), "pitch": (10.0, 10.0), "instrument": (-5.0, 5.0)}


def need_tools(kind: str) -> None:
    try:
        st.find_tools(kind)
    except UserError as err:
        pytest.skip(str(err))


def tiny_build(kind: str, out: Path, seed: int = 0, jobs: int = 1, keep_parts: bool = True) -> Path:
    need_tools(kind)
    st.build(
        kind,
        out,
        per_class=4,
        folds=2,
        seed=seed,
        snr_db=SNR[kind],
        classes=TINY[kind].split(","),
        jobs=jobs,
        keep_parts=keep_parts,
        quiet=True,
    )
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """kind -> its tiny build (made on first use; keywords through the worker pool, the others in-process)."""
    made: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in made:
            made[kind] = tiny_build(kind, tmp_path_factory.mktemp(kind) / "task", jobs=2 if kind == "keywords" else 1)
        return made[kind]

    return get


@pytest.fixture(params=st.KINDS)
def built(request, tiny) -> tuple[str, Path]:
    return request.param, tiny(request.param)


def rows_of(task: Path) -> list[dict]:
    with (task / "meta" / "esc50.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def test_layout_and_audio_format(built):
    kind, task = built
    with (task / "meta" / "esc50.csv").open(newline="") as fh:
        header = next(csv.reader(fh))
    assert header[:4] == ["filename", "fold", "target", "category"]
    rows = rows_of(task)
    assert len(rows) == 3 * 4
    assert sorted(p.name for p in (task / "audio").iterdir()) == sorted(r["filename"] for r in rows)
    assert not list(task.parent.glob(".task.*")), "temporary folders left behind"
    loaded = load_task(f"esc50:{task}")
    assert loaded.classes == TINY[kind].split(",") and loaded.dataset_folds == [1, 2]
    for target, name in enumerate(loaded.classes):  # every class in every fold, twice
        for fold in ("1", "2"):
            assert sum(r["category"] == name and r["target"] == str(target) and r["fold"] == fold for r in rows) == 2
    for row in rows:
        info = sf.info(str(task / "audio" / row["filename"]))
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (16000, 1, 16000, "PCM_16")
        wave, _ = sf.read(str(task / "audio" / row["filename"]), dtype="float64")
        rms_db = 20 * math.log10(np.sqrt(np.mean(wave**2)))
        assert np.abs(wave).max() <= st.PEAK + 1e-3 and -40 < rms_db < -14
    meta = json.loads((task / "task.json").read_text())
    assert meta["kind"] == kind and meta["sample_rate"] == 16000 and meta["samples"] == 16000
    assert set(meta["engines"]) >= ({"sox", "espeak-ng"} if kind == "keywords" else {"sox", "fluidsynth", "soundfont"})
    assert [c["filename"] for c in meta["clips"]] == [r["filename"] for r in rows]


def test_folds_hold_unseen_voices_or_instruments(built):
    kind, task = built
    rows = rows_of(task)
    sources = {f: {r["source"] for r in rows if r["fold"] == f} for f in ("1", "2")}
    assert sources["1"] and sources["2"] and not sources["1"] & sources["2"]
    meta = json.loads((task / "task.json").read_text())
    owned = meta["fold_sources"]
    if kind == "keywords":  # a voice is accent+variant; folds share neither
        for f in ("1", "2"):
            for source in sources[f]:
                accent, variant = source.split("+")
                assert accent in owned[f]["accents"] and variant in owned[f]["variants"]
        assert not set(owned["1"]["accents"]) & set(owned["2"]["accents"])
        assert not set(owned["1"]["variants"]) & set(owned["2"]["variants"])
    else:
        programs = {f: {int(p[:3]) for p in owned[f]["programs"]} for f in ("1", "2")}
        assert not programs["1"] & programs["2"]
        for f in ("1", "2"):
            assert {int(s[:3]) for s in sources[f]} <= programs[f]
        if kind == "pitch" and meta["soundfont_sharing"]["parsed"]:
            assert meta["soundfont_sharing"]["pairs_across_folds"] == []
        if kind == "instrument":  # every family has programs in every fold
            for r in rows:
                assert st.family_of(int(r["source"][:3])) == r["category"]


def test_snr_is_what_was_drawn(built):
    """Measured on the written files: clip = sound + noise (16-bit rounding), energy ratio = snr_db."""
    kind, task = built
    lo, hi = SNR[kind]
    for row in rows_of(task):
        stem = Path(row["filename"]).stem
        mix, _ = sf.read(str(task / "audio" / row["filename"]), dtype="float64")
        sound, _ = sf.read(str(task / "parts" / f"{stem}.sound.wav"), dtype="float64")
        noise, _ = sf.read(str(task / "parts" / f"{stem}.noise.wav"), dtype="float64")
        assert np.abs(mix - (sound + noise)).max() < 3 / 32768
        measured = 10 * math.log10(np.sum(sound**2) / np.sum(noise**2))
        assert abs(measured - float(row["snr_db"])) < 0.01
        assert lo - 0.01 <= measured <= hi + 0.01
        # and on the 16-bit file itself, with the sound part known
        residual = mix - sound
        assert abs(10 * math.log10(np.sum(sound**2) / np.sum(residual**2)) - measured) < 0.1


@pytest.mark.parametrize("kind", ["keywords", "pitch"])
def test_same_seed_same_bytes(kind, tiny, tmp_path):
    """Also with the other number of worker processes."""
    first = tiny(kind)
    again = tiny_build(kind, tmp_path / "again", jobs=1 if kind == "keywords" else 2, keep_parts=False)
    names = sorted(str(p.relative_to(again)) for p in again.rglob("*") if p.is_file())
    assert names == sorted(
        str(p.relative_to(first)) for p in first.rglob("*") if p.is_file() and p.parent.name != "parts"
    )
    for name in names:
        assert (again / name).read_bytes() == (first / name).read_bytes(), name
    other = tiny_build(kind, tmp_path / "other", seed=1, keep_parts=False)
    assert (other / "meta" / "esc50.csv").read_bytes() != (first / "meta" / "esc50.csv").read_bytes()


def test_existing_folder_refused_then_overwritten(tiny, capsys, tmp_path):
    kind = "keywords"
    task = tmp_path / "task"
    st.shutil.copytree(tiny(kind), task)
    before = (task / "meta" / "esc50.csv").read_bytes()
    argv = ["build", kind, "--out", str(task), "--classes", TINY[kind], "--per-class", "4", "--folds", "2"]
    assert st.main(argv) == 2
    err = capsys.readouterr().err
    assert "exists; pass --overwrite" in err and len(err.strip().splitlines()) == 1
    assert (task / "meta" / "esc50.csv").read_bytes() == before
    assert st.main(argv + ["--seed", "3", "--overwrite", "--keep-parts"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("built keywords: 12 clips, 3 classes x 4, 2 folds by voice")
    assert (task / "meta" / "esc50.csv").read_bytes() != before
    assert not [p for p in task.parent.iterdir() if p.name.startswith(".")]


def run_cli(args, path: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": path}
    return subprocess.run(
        [sys.executable, "-m", "synpat.audio.sound_tasks", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_missing_tools_named_with_debian_packages(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    done = run_cli(["build", "keywords", "--out", str(tmp_path / "kw")], str(empty))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        "synpat-audio-tasks: error: keywords needs espeak-ng, sox, not found; install the Debian packages: "
        "apt-get install espeak-ng sox"
    ]
    assert not (tmp_path / "kw").exists()
    sox = st.shutil.which("sox")
    if sox:  # only fluidsynth missing
        (empty / "sox").symlink_to(sox)
        done = run_cli(["build", "pitch", "--out", str(tmp_path / "p")], str(empty))
        assert done.returncode == 2 and "needs fluidsynth, not found" in done.stderr
        assert done.stderr.rstrip().endswith("apt-get install fluidsynth")


def test_missing_soundfont_named(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(st, "SOUNDFONTS", ())
    monkeypatch.setattr(st.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert st.main(["build", "instrument", "--out", str(tmp_path / "i")]) == 2
    assert capsys.readouterr().err.strip() == (
        "synpat-audio-tasks: error: instrument needs a General-MIDI soundfont, not found; "
        "install the Debian packages: apt-get install timgm6mb-soundfont"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--snr-db", "20,0"], "--snr-db '20,0'"),
        (["--snr-db", "loud"], "--snr-db 'loud'"),
        (["--classes", "yes,maybe"], "--classes 'yes,maybe'"),
        (["--folds", "9"], "at most 8 disjoint folds"),
        (["--folds", "1"], "at least 2 folds"),
        (["--per-class", "3"], "--per-class 3"),
        (["--duration", "0.1"], "--duration 0.1"),
    ],
)
def test_bad_arguments_are_one_line(args, message, capsys, tmp_path):
    assert st.main(["build", "keywords", "--out", str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_an_unknown_kind_is_one_line(capsys, tmp_path):
    assert st.main(["build", "nope", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err == (
        "synpat-audio-tasks: error: build: unknown task kind 'nope'; use one of keywords, pitch, instrument\n"
    )


def test_midi_file_structure():
    data = st.note_midi(program=40, note=69, velocity=100, onset_s=0.25, length_s=0.5, total_s=1.0)
    assert data[:4] == b"MThd" and data[8:14] == bytes([0, 0, 0, 1, 1, 224])  # format 0, 1 track, 480 tpq
    track = data[22:]
    assert data[14:18] == b"MTrk" and int.from_bytes(data[18:22], "big") == len(track)
    assert bytes([0xC0, 40]) in track and track.endswith(b"\xff\x2f\x00")
    assert bytes([0x81, 0x70, 0x90, 69, 100]) in track  # on at 0.25 s = 240 ticks (120 bpm), as a VLQ
    assert bytes([0x83, 0x60, 0x80, 69, 0]) in track  # off 0.5 s = 480 ticks later


def test_baseline_on_tiny_task(built, capsys):
    kind, task = built
    result = logmel_logreg(task)
    assert result["protocol"] == "2-fold cross-validation (dataset folds)" and result["clips"] == 12
    assert len(result["per_fold"]) == 2 and all(0.0 <= a <= 1.0 for a in result["per_fold"])
    assert result["mean"] == pytest.approx(sum(result["per_fold"]) / 2, abs=1e-4)
    if kind == "keywords":
        assert st.main(["baseline", str(task)]) == 0
        line = json.loads(capsys.readouterr().out.strip())
        assert line["per_fold"] == result["per_fold"] and line["chance"] == pytest.approx(1 / 3)


def test_baseline_well_above_chance_on_an_easy_build(tmp_path):
    """4 words, 12 clips each, 3 folds of unseen voices, SNR 30 dB: chance is 0.25."""
    need_tools("keywords")
    task = tmp_path / "easy"
    st.build(
        "keywords",
        task,
        per_class=12,
        folds=3,
        seed=1,
        snr_db=(30.0, 30.0),
        classes=["yes", "no", "stop", "left"],
        quiet=True,
    )
    result = logmel_logreg(task)
    assert len(result["per_fold"]) == 3 and result["mean"] >= 0.5, result
