"""benchmarks/gpu_check.sh --dry-run as the offline GPU machine would run it: synpat importable only
through PYTHONPATH (this checkout's editable install hidden), no console scripts on PATH, and no
DALI, soundfile or glfw (tests/device_like.py). The whole dry run takes a few minutes on 2 cores;
it is what keeps the first GPU run from failing on imports, test collection or a missing package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from device_like import DEVICE_LACKS, REPO, device_like_env

STEPS = [
    "check_device",
    "interop",
    "pytest_gpu",
    "bench_gen",
    "gen_jpeg_determinism",
    "bench_loaders",
    "pretrain_torch",
    "pretrain_deepspeed",
    "bench_train",
    "bench_render",
    "bench_sounds",
]


def gpu_check(env: dict, out, *args, timeout: float) -> subprocess.CompletedProcess:
    # DRY_SCALE: generous step limits on the CPU (a shared CI machine); the GPU limits are what the summary checks
    env = {**env, "OUT": str(out), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", "DRY_SCALE": "10"}
    env.setdefault("TORCH_EXTENSIONS_DIR", os.path.expanduser("~/.cache/synpat-torch-extensions"))
    return subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def results(out) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_the_device_like_environment_imports_synpat_from_the_checkout_and_lacks_what_the_device_lacks(tmp_path):
    env = device_like_env(tmp_path / "env")
    code = (
        "import importlib.util as u, json, synpat.gen, synpat.train, synpat.audio\n"
        f"print(json.dumps([synpat.gen.__file__, [u.find_spec(m) is None for m in {list(DEVICE_LACKS)}]]))\n"
        "import soundfile\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    gen_file, absent = json.loads(proc.stdout)
    assert gen_file.startswith(str(tmp_path / "env" / "py" / "synpat"))
    assert os.path.realpath(gen_file) == str(REPO / "gen" / "__init__.py")
    assert absent == [True] * len(DEVICE_LACKS)
    assert proc.returncode == 1 and "ModuleNotFoundError" in proc.stderr
    assert not any(os.path.exists(os.path.join(p, "synpat-gen")) for p in env["PATH"].split(os.pathsep))


def test_without_synpat_on_pythonpath_the_check_stops_at_its_first_step_saying_how_to_fix_it(tmp_path):
    env = device_like_env(tmp_path / "env")
    env["PYTHONPATH"] = str(tmp_path / "env" / "site")  # the installs hidden, no package mapping
    proc = gpu_check(env, tmp_path / "out", "--dry-run", timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "source .gl/device-setup.sh" in proc.stderr and "synpat" in proc.stderr
    lines = results(tmp_path / "out")
    assert [r["step"] for r in lines if "step" in r] == ["check_device"]
    assert lines[0]["metric"] == "synpat_imports" and lines[0]["value"] == 0


def test_dry_run_like_the_device_runs_every_step_and_sums_the_limits(tmp_path):
    out = tmp_path / "out"
    proc = gpu_check(device_like_env(tmp_path / "env"), out, "--dry-run", timeout=3600)
    assert proc.returncode == 0, proc.stderr[-6000:]
    lines = results(out)
    steps = [r for r in lines if "step" in r]
    assert [s["step"] for s in steps] == STEPS
    assert all(s["rc"] == 0 for s in steps), steps
    summary = lines[-1]
    assert summary["summary"] == "gpu_check" and list(summary["steps"]) == STEPS
    assert summary["limits_total"] == sum(s["limit"] for s in steps) <= 500
    table = proc.stderr[proc.stderr.index("gpu_check summary") :]
    for s in steps:
        assert f"{s['step']:<22} {s['limit']:9d}" in table
    assert f"{'total':<22} {summary['limits_total']:9d}" in table

    figures = [r for r in lines if "bench" in r]
    device = next(r for r in figures if r["bench"] == "check_device")
    assert device["value"] == 0 and "nvidia.dali" in device["packages_missing"]
    by = {}
    for r in figures:
        by.setdefault((r["bench"], r["metric"]), []).append(r)
    assert [r["value"] for r in by["check_interop", "stream_equal"]] == [1]
    assert [r["value"] for r in by["gen_jpeg_determinism", "identical_tars"]] == [1]
    assert {r["engine"]: r["exported"] for r in by["pretrain", "img_per_s"]} == {"torch": True, "deepspeed": True}
    # without DALI the loaders report it skipped and still measure the torch loader and the stream-fed ratio
    loaders = by["loaders", "img_per_s"]
    assert {(r.get("source"), r.get("loader"), r["value"]) for r in loaders if r.get("loader") == "dali"} == {
        ("shards", "dali", -1),
        ("stream", "dali", -1),
    }
    assert all(r["value"] > 0 for r in loaders if r.get("loader") == "torch")
    assert by["loaders", "stream_fed_over_tensor_fed"][0]["value"] > 0
    # each training path's ratio to torch.compile follows its rate at once (compile measured first)
    train = [r for r in figures if r["bench"] == "train"]
    assert [(r["metric"], r["path"]) for r in train] == [
        (m, p) for p in ("compile", "eager", "zero2") for m in ("img_per_s", "ratio_vs_compile")
    ]
