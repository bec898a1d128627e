#!/usr/bin/env bash
# The one-call GPU check: what the first (15-minute) GPU run measures, most valuable first, run
# from the repository root:
#
#   source .gl/device-setup.sh && timeout 560 bash benchmarks/gpu_check.sh   # the GPU machine (docs/gpu.md)
#   bash benchmarks/gpu_check.sh --dry-run                                   # the same steps on CPU, toy sizes
#
# Every step runs under its own time limit; a failing or timed-out step is recorded and the next
# one runs. The GPU limits add up to at most 500 s (the summary prints each and the total); the dry
# run gives each step DRY_SCALE (default 4) times its limit, for a slow CPU. Python is $PYTHON
# (default python3) and every step calls modules and scripts, never console scripts (the device
# has none). Writes to $OUT (a temporary folder when unset):
#   results.jsonl  every figure, appended the moment it is printed (JSON lines: bench, metric,
#                  value, unit, device), one {"step", "rc", "seconds", "limit"} line per step, and
#                  a last {"summary"} line
#   check.log      each step's full output
#   step.err       the last step's stderr (also appended to check.log when the step ends)
# stdout shows the figures; stderr one line per step, and a failed step's last lines of output.
# Exits 2 when synpat cannot be imported (no step could run), else 1 when a step failed, else 0.
#
# Step limits: the CPU column is the dry run (toy sizes) measured on a shared 2-core machine (load
# average ~12, so several times a quiet machine's); the GPU column is an estimate for an H100/H200
# at the GPU sizes below, from timings seen on an H100 before (torch.compile of ViT-B's first step
# ~60 s, a DeepSpeed engine ~10 s, a process importing torch ~5 s); the limit leaves room over it.
#   step                  CPU dry run   GPU estimate   limit
#   check_device              16 s          8 s          15
#   interop                   29 s         25 s          40   16 and 256 programs compiled, 256 images
#   pytest_gpu                30 s         30 s          45   3 synpat-gen processes with nvJPEG
#   bench_gen                 19 s         25 s          40
#   gen_jpeg_determinism      72 s         35 s          50   4 synpat-gen processes, 2,048 images each
#   bench_loaders             21 s         30 s          45
#   pretrain_torch            49 s         75 s          85   compiled twice (fresh; resumed from the cache)
#   pretrain_deepspeed        52 s         35 s          60
#   bench_train              124 s         75 s          90   ViT-B compile ~60 s, eager, ZeRO-2 (dry: Dynamo only)
#   bench_render               1 s          5 s          15   no torch
#   bench_sounds               8 s         10 s          15   4 sound programs, 65,536 one-second clips into CUDA memory
#                                                       ---
#                                                       500
set -u -o pipefail

DRY=0
if [ "${1:-}" = "--dry-run" ]; then DRY=1; fi
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT" || { echo "gpu_check: cannot make \$OUT=$OUT" >&2; exit 2; }
PY=${PYTHON:-python3}
DRY_SCALE=${DRY_SCALE:-4}
RESULTS=$OUT/results.jsonl
LOG=$OUT/check.log
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PYTHONPATH="$PWD/benchmarks${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export SYNPAT_CACHE=$WORK/cache   # one program-check cache for every step: a program is checked once per size
: > "$RESULTS"
: > "$LOG"

GEN_SHADERS=(shaders/waves.glsl shaders/voronoi.glsl shaders/fbm.glsl)
if [ $DRY = 1 ]; then   # toy sizes: a 2-core CPU machine finishes in a few minutes
    SIZE=32; GEN_COUNT=128; MODEL=mae_vit_tiny_patch16; BATCH=8; STEPS=4; HALF=2; PRECISION=fp32
    DS_PRECISION=bf16   # bf16 DeepSpeed (the GPU run's) runs on the CPU too; the torch engine stays fp32 there
    INTEROP=(--programs 4,12 --size 32 --images 16)
    GEN=(--programs waves,voronoi --size 32 --count 64 --shard-size 32 --baseline-images 4 --workers 2)
    LOADERS=(--size 32 --batch 8 --batches 3 --train-steps 2 --workers 1)
    TRAIN=(--model mae_vit_tiny_patch16 --size 32 --batch 8 --precision bf16 --steps 2 --warmup 1
           --paths eager,compile,zero2 --threads 2 --compile-backend eager)   # Dynamo without the C++ build
    RENDER=(--programs waves,voronoi --sizes 32 --batches 16 --images 16 --baseline-images 4)
    JPEG_GEN="tests/gen_torch_cpu.py"   # synpat-gen whose `--jpeg-encoder gpu` runs torchvision on CPU tensors
    BENCH_JPEG=cpu
    SOUNDS=(--durations 0.25 --clips 8 --numpy-clips 2 --batch 8)
else
    SIZE=224; GEN_COUNT=2048; MODEL=mae_vit_tiny_patch16; BATCH=64; STEPS=30; HALF=15; PRECISION=bf16
    DS_PRECISION=bf16
    INTEROP=(--programs 16,256 --size 224 --images 256)
    GEN=(--size 224 --count 4096 --shard-size 512 --baseline-images 8)
    LOADERS=(--size 224 --batch 256 --batches 10 --train-steps 10 --workers 4)
    TRAIN=(--paths compile,eager,zero2 --steps 10 --warmup 3)   # ViT-B/16 b256 bf16
    RENDER=(--programs fbm,waves --sizes 224 --batches 256 --images 512 --baseline-images 4)
    JPEG_GEN="-m synpat.gen.cli"
    BENCH_JPEG=gpu
    SOUNDS=(--durations 1 --clips 16384 --batch 2048 --device cuda)   # target >= 50,000 clips/s (issue 20)
fi

NAMES=(); LIMITS=(); RCS=(); TOOK=()
FAILED=0

# step NAME LIMIT COMMAND...: run it under LIMIT seconds (x DRY_SCALE in a dry run); JSON lines on its
# stdout are printed and appended to results.jsonl as they come; everything goes to check.log.
step() {
    local name=$1 limit=$2 start=$SECONDS rc
    shift 2
    local run_limit=$limit
    if [ $DRY = 1 ]; then run_limit=$((limit * DRY_SCALE)); fi
    echo "=== $name (limit ${run_limit} s): $*" >> "$LOG"
    echo "gpu_check: $name (limit ${run_limit} s) ..." >&2
    timeout --kill-after=5 "$run_limit" "$@" 2> "$OUT/step.err" \
        | tee -a "$LOG" | grep --line-buffered '^{' | tee -a "$RESULTS"
    rc=${PIPESTATUS[0]}
    cat "$OUT/step.err" >> "$LOG"   # (left in $OUT when the whole check is stopped during a step)
    NAMES+=("$name"); LIMITS+=("$limit"); RCS+=("$rc"); TOOK+=($((SECONDS - start)))
    printf '{"step": "%s", "rc": %d, "seconds": %d, "limit": %d, "dry_run": %d}\n' \
        "$name" "$rc" $((SECONDS - start)) "$limit" "$DRY" >> "$RESULTS"
    if [ "$rc" != 0 ]; then
        FAILED=1
        echo "gpu_check: $name FAILED rc=$rc$([ "$rc" = 124 ] || [ "$rc" = 137 ] && echo " (timed out)") in $((SECONDS - start)) s; its last lines:" >&2
        tail -n 4 "$OUT/step.err" | sed 's/^/    /' >&2
    else
        echo "gpu_check: $name ok in $((SECONDS - start)) s" >&2
    fi
}

# pretrain_twice ENGINE PRECISION: HALF steps, then resume to STEPS; the encoder must be exported.
pretrain_twice() {
    local engine=$1 precision=$2 out=$WORK/run_$1
    local args=(train/pretrain.py --data "$WORK/jpeg_a" --out "$out" --model "$MODEL" --img-size "$SIZE"
                --batch-size "$BATCH" --engine "$engine" --precision "$precision" --loader "$LOADER"
                --num-workers 2 --log-every 5 --save-every "$HALF" --recon-every 0)
    "$PY" "${args[@]}" --steps "$HALF" && "$PY" "${args[@]}" --steps "$STEPS" --resume auto || return 1
    "$PY" - "$out" "$engine" "$STEPS" "$DEVICE_NAME" "$precision" <<'EOF'
import json, sys
from pathlib import Path
out, engine, steps = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
meta = json.loads((out / "encoder.json").read_text())
ok = log[-1]["step"] == steps and meta["steps"] == steps and (out / "encoder.safetensors").stat().st_size > 0
print(json.dumps({"bench": "pretrain", "metric": "img_per_s", "value": round(log[-1]["img_per_s"], 1),
                  "unit": "img/s", "device": sys.argv[4], "engine": engine, "precision": sys.argv[5],
                  "steps": steps, "resumed": True, "exported": ok, "loss_first": log[0]["loss"],
                  "loss_last": log[-1]["loss"]}))
sys.exit(0 if ok else 1)
EOF
}

# gen_jpeg_twice: synpat-gen with the GPU JPEG encoder twice (the first run's shards feed the later
# steps), and once killed (kill -9) after two shards then resumed; every tar must be byte-identical.
gen_jpeg_twice() {
    local args=($JPEG_GEN --shaders "${GEN_SHADERS[@]}" --count "$GEN_COUNT" --size "$SIZE"
                --shard-size $((GEN_COUNT / 8)) --jpeg-encoder gpu)
    "$PY" "${args[@]}" --out "$WORK/jpeg_a" && "$PY" "${args[@]}" --out "$WORK/jpeg_b" || return 1
    "$PY" "${args[@]}" --out "$WORK/jpeg_c" &   # killed (kill -9) once two of its shards are written
    local pid=$!
    until [ "$(find "$WORK/jpeg_c" -name '*.tar' 2>/dev/null | wc -l)" -ge 2 ] || ! kill -0 $pid 2>/dev/null; do
        sleep 0.01
    done
    kill -9 $pid 2>/dev/null
    wait $pid
    [ $? = 137 ] || { echo "gen_jpeg_twice: the run ended before it was killed" >&2; return 1; }
    "$PY" "${args[@]}" --out "$WORK/jpeg_c" --resume || return 1
    "$PY" - "$WORK" <<'EOF'
import io, json, sys, tarfile
from pathlib import Path
from PIL import Image, JpegImagePlugin
work = Path(sys.argv[1])
tars = {r: {p.name: p.read_bytes() for p in sorted((work / f"jpeg_{r}").glob("*.tar"))} for r in "abc"}
encoder = json.loads((work / "jpeg_a" / "manifest.json").read_text())["settings"]["encoder"]
ok = len(tars["a"]) == 8 and tars["a"] == tars["b"] == tars["c"]
with tarfile.open(fileobj=io.BytesIO(next(iter(tars["a"].values())))) as tar:
    jpg = next(tar.extractfile(m).read() for m in tar if m.name.endswith(".jpg"))
chroma = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}.get(JpegImagePlugin.get_sampling(Image.open(io.BytesIO(jpg))), "other")
print(json.dumps({"bench": "gen_jpeg_determinism", "metric": "identical_tars", "value": int(ok), "unit": "bool",
                  "device": encoder, "encoder": encoder, "chroma": chroma, "tars": len(tars["a"]), "runs": 2,
                  "killed_and_resumed": 1, "bytes": sum(map(len, tars["a"].values()))}))
sys.exit(0 if ok else 1)
EOF
}

# pytest_gpu: the files that hold GPU tests, named (`-m gpu` alone imports every test module, and one
# importing a package the device lacks stops the collection), then the two-context renderer tests.
pytest_gpu() {
    local rc=0
    "$PY" -m pytest -q -p no:cacheprovider -m gpu tests/test_devices.py tests/test_gen_jpeg.py || rc=1
    "$PY" -m pytest -q -p no:cacheprovider tests/test_gl_contexts.py || rc=1
    return $rc
}

export -f pretrain_twice gen_jpeg_twice pytest_gpu
export WORK PY MODEL SIZE BATCH HALF STEPS GEN_COUNT JPEG_GEN GEN_SHADERS_LIST="${GEN_SHADERS[*]}"

step check_device 15 "$PY" benchmarks/check_device.py $([ $DRY = 1 ] && echo --dry-run)
if [ "${RCS[0]}" = 2 ]; then
    echo "gpu_check: synpat cannot be imported; no step can run (the line above says how to fix it)" >&2
    exit 2
fi
LOADER=torch
if "$PY" -c "import nvidia.dali" 2>/dev/null; then LOADER=dali; fi
DEVICE_NAME=$(grep '"bench": "check_device"' "$RESULTS" | "$PY" -c "import json, sys; print(json.loads(sys.stdin.readline())['device'])" 2>/dev/null) \
    || DEVICE_NAME=unknown
export LOADER DEVICE_NAME

step interop 40 "$PY" benchmarks/check_interop.py "${INTEROP[@]}"
step pytest_gpu 45 bash -c pytest_gpu
step bench_gen 40 "$PY" benchmarks/bench_gen.py "${GEN[@]}" --jpeg-encoder "$BENCH_JPEG"
step gen_jpeg_determinism 50 bash -c 'GEN_SHADERS=($GEN_SHADERS_LIST); gen_jpeg_twice'
step bench_loaders 45 "$PY" benchmarks/bench_loaders.py --shards "$WORK/jpeg_a" "${LOADERS[@]}"
step pretrain_torch 85 bash -c "pretrain_twice torch $PRECISION"
step pretrain_deepspeed 60 bash -c "pretrain_twice deepspeed $DS_PRECISION"
step bench_train 90 "$PY" benchmarks/bench_train.py "${TRAIN[@]}"
step bench_render 15 "$PY" benchmarks/bench_render.py "${RENDER[@]}"
step bench_sounds 15 "$PY" benchmarks/bench_sounds.py "${SOUNDS[@]}"

TOTAL=0
for limit in "${LIMITS[@]}"; do TOTAL=$((TOTAL + limit)); done
{
    echo "gpu_check summary ($([ $DRY = 1 ] && echo "dry run on the CPU, limits x$DRY_SCALE" || echo "GPU run")):"
    printf '  %-22s %9s %6s %8s\n' step "limit(s)" rc "took(s)"
    for i in "${!NAMES[@]}"; do
        printf '  %-22s %9d %6d %8d\n' "${NAMES[$i]}" "${LIMITS[$i]}" "${RCS[$i]}" "${TOOK[$i]}"
    done
    printf '  %-22s %9d %6s %8d\n' total "$TOTAL" "" "$SECONDS"
    echo "gpu_check: results in $RESULTS, log in $LOG"
} | tee -a "$LOG" >&2
"$PY" - "$RESULTS" "$TOTAL" "$SECONDS" "$DRY" "${NAMES[@]}" <<'EOF' || FAILED=1
import json, sys
path, total, seconds, dry, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
steps = [json.loads(l) for l in open(path) if l.startswith('{"step"')]
line = {"summary": "gpu_check", "dry_run": dry, "limits_total": total, "seconds": seconds,
        "steps": {s["step"]: {"limit": s["limit"], "rc": s["rc"], "seconds": s["seconds"]} for s in steps}}
print(json.dumps(line))
open(path, "a").write(json.dumps(line) + "\n")
sys.exit(0 if total <= 500 and [s["step"] for s in steps] == names else 1)
EOF
exit $FAILED
