#!/usr/bin/env bash
# The one-call device check (≤ 8 minutes on an H100/H200), run from the repository root:
#
#   bash benchmarks/gpu_check.sh              # on the GPU machine, with its EGL and CUDA drivers (docs/gpu.md)
#   bash benchmarks/gpu_check.sh --dry-run                               # the same steps on CPU, toy sizes
#
# Writes to $OUT (a temporary folder when unset): results.jsonl (every benchmark's JSON lines plus one
# {"step": ..., "rc": ..., "seconds": ...} line per step) and check.log (each step's output). Every
# step runs under its own timeout; a failing step is recorded and the next one runs. Exits 1 when
# any step failed. The step limits add up to about 14 minutes, the expected run to about 7: run it
# as `timeout 560 bash benchmarks/gpu_check.sh` so a slow step still leaves the earlier results.
# Pre-training runs MAE ViT-Ti (correctness: both engines, resume, export); bench_train measures ViT-B.
# synpat-gen's GPU JPEG encoder (nvJPEG) runs in bench_gen against Pillow's, and twice plus a
# kill/--resume for byte-identical tars; the dry run takes the same torch path on CPU tensors.
set -u -o pipefail

DRY=0
if [ "${1:-}" = "--dry-run" ]; then DRY=1; fi
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT" || { echo "gpu_check: cannot make \$OUT=$OUT" >&2; exit 2; }
PY=${PYTHON:-python3}
RESULTS=$OUT/results.jsonl
LOG=$OUT/check.log
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PYTHONPATH="$PWD/benchmarks${PYTHONPATH:+:$PYTHONPATH}"
: > "$RESULTS"
: > "$LOG"
FAILED=0

if [ $DRY = 1 ]; then   # toy sizes: a 2-core CPU machine finishes in a few minutes
    SIZE=32; PROGRAMS=16,40; IMAGES=32; GEN_COUNT=128; MODEL=mae_vit_tiny_patch16; BATCH=8
    STEPS=4; HALF=2; PRECISION=fp32; TEST_SELECT=(tests/test_devices.py tests/test_shard_members.py)
    RENDER=(--programs waves,voronoi --sizes 32 --batches 16 --images 16 --baseline-images 4)
    GEN=(--programs waves,voronoi --size 32 --count 64 --shard-size 32 --baseline-images 4 --workers 2)
    STATS=(--programs fbm,voronoi --size 32 --count 64 --shard-size 32 --workers 2)
    FRACTALDB=(--sizes 32 --batch 8 --images 8 --rounds 1)
    LOADERS=(--size 32 --batch 8 --batches 3 --train-steps 2 --workers 1)
    TRAIN=(--model mae_vit_tiny_patch16 --size 32 --batch 8 --precision fp32 --steps 2 --warmup 1
           --paths eager,engine,zero0,zero1,zero2 --threads 2)
    JPEG_ENV=(env SYNPAT_GEN_JPEG_DEVICE=cpu)   # `--jpeg-encoder gpu` runs torchvision on CPU tensors
else
    SIZE=224; PROGRAMS=16,1000; IMAGES=256; GEN_COUNT=4096; MODEL=mae_vit_tiny_patch16; BATCH=64
    STEPS=50; HALF=25; PRECISION=bf16; TEST_SELECT=(-m gpu)
    RENDER=(--sizes 224,384 --batches 256)
    GEN=(--size 224 --count 8192 --shard-size 1024)
    JPEG_ENV=(env)
    STATS=(--size 224 --count 2048 --shard-size 512)
    FRACTALDB=(--sizes 224 --batch 256 --images 512 --rounds 2)
    LOADERS=(--size 224 --batch 256 --batches 20)
    TRAIN=(--paths eager,compile,engine,zero1,zero2 --steps 30 --warmup 5)   # ViT-B b256 bf16
fi

# step NAME SECONDS COMMAND...: run it under a timeout; JSON lines on its stdout go to results.jsonl.
step() {
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS rc
    echo "=== $name: $*" >> "$LOG"
    timeout "$limit" "$@" > >(tee -a "$LOG" | grep '^{' >> "$RESULTS") 2>> "$LOG"
    rc=$?
    wait
    printf '{"step": "%s", "rc": %d, "seconds": %d, "dry_run": %d}\n' "$name" "$rc" $((SECONDS - start)) "$DRY" >> "$RESULTS"
    echo "gpu_check: $name rc=$rc in $((SECONDS - start)) s" >&2
    if [ "$rc" != 0 ]; then FAILED=1; fi
}

# pretrain_twice ENGINE: HALF steps, then resume to STEPS; the encoder must be exported.
pretrain_twice() {
    local engine=$1 out=$WORK/run_$1
    local args=(train/pretrain.py --data "$WORK/shards" --out "$out" --model "$MODEL" --img-size "$SIZE"
                --batch-size "$BATCH" --engine "$engine" --precision "$PRECISION" --loader "$LOADER"
                --num-workers 2 --log-every 5 --save-every "$HALF" --recon-every 0)
    "$PY" "${args[@]}" --steps "$HALF" && "$PY" "${args[@]}" --steps "$STEPS" --resume auto || return 1
    "$PY" - "$out" "$engine" "$STEPS" <<'EOF'
import json, sys
from pathlib import Path
out, engine, steps = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
meta = json.loads((out / "encoder.json").read_text())
ok = log[-1]["step"] == steps and meta["steps"] == steps and (out / "encoder.safetensors").stat().st_size > 0
print(json.dumps({"bench": "pretrain", "metric": "img_per_s", "value": round(log[-1]["img_per_s"], 1),
                  "unit": "img/s", "engine": engine, "steps": steps, "resumed": True, "exported": ok,
                  "loss_first": log[0]["loss"], "loss_last": log[-1]["loss"]}))
sys.exit(0 if ok else 1)
EOF
}

# gen_jpeg_twice: synpat-gen with the GPU JPEG encoder twice, and once killed (kill -9) after two
# shards then resumed; every tar must be byte-identical across the three.
gen_jpeg_twice() {
    local args=(-m synpat.gen.cli --shaders shaders/waves.glsl shaders/voronoi.glsl shaders/fbm.glsl
                --count "$GEN_COUNT" --size "$SIZE" --shard-size $((GEN_COUNT / 8)) --jpeg-encoder gpu)
    "$PY" "${args[@]}" --out "$WORK/jpeg_a" && "$PY" "${args[@]}" --out "$WORK/jpeg_b" || return 1
    SYNPAT_GEN_KILL_AFTER=2 "$PY" "${args[@]}" --out "$WORK/jpeg_c"
    [ $? = 137 ] || { echo "gen_jpeg_twice: the killed run was not killed" >&2; return 1; }
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
                  "encoder": encoder, "chroma": chroma, "tars": len(tars["a"]), "runs": 2, "killed_and_resumed": 1,
                  "bytes": sum(map(len, tars["a"].values()))}))
sys.exit(0 if ok else 1)
EOF
}

export -f pretrain_twice gen_jpeg_twice
LOADER=torch
if "$PY" -c "import nvidia.dali" 2>/dev/null; then LOADER=dali; fi
export WORK PY MODEL SIZE BATCH PRECISION LOADER HALF STEPS GEN_COUNT
"$PY" - >> "$RESULTS" <<EOF
import json, datetime, torch
print(json.dumps({"check": "gpu_check", "dry_run": $DRY, "date": datetime.date.today().isoformat(),
                  "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                  "torch": torch.__version__, "loader": "$LOADER"}))
EOF

step pytest 90 "$PY" -m pytest -q "${TEST_SELECT[@]}"
step interop 90 "$PY" benchmarks/check_interop.py --programs "$PROGRAMS" --size "$SIZE" --images "$IMAGES"
step shards 45 "$PY" -m synpat.gen.cli --shaders shaders/waves.glsl shaders/voronoi.glsl shaders/fbm.glsl \
    --out "$WORK/shards" --count "$GEN_COUNT" --size "$SIZE" --shard-size $((GEN_COUNT / 4)) --overwrite
step bench_loaders_dali_decode 60 "$PY" benchmarks/bench_loaders.py --shards "$WORK/shards" "${LOADERS[@]}"
step pretrain_torch 90 bash -c "pretrain_twice torch"
step pretrain_deepspeed 90 bash -c "pretrain_twice deepspeed"
step bench_render 45 "$PY" benchmarks/bench_render.py "${RENDER[@]}"
step bench_gen 75 "${JPEG_ENV[@]}" "$PY" benchmarks/bench_gen.py "${GEN[@]}" --jpeg-encoder gpu
step gen_jpeg_determinism 90 "${JPEG_ENV[@]}" bash -c "gen_jpeg_twice"
step bench_stats 45 "$PY" benchmarks/bench_stats.py "${STATS[@]}"
step bench_fractaldb 30 "$PY" benchmarks/bench_fractaldb.py "${FRACTALDB[@]}"
step bench_train 150 "$PY" benchmarks/bench_train.py "${TRAIN[@]}"

echo "gpu_check: results in $RESULTS, log in $LOG" >&2
exit $FAILED
