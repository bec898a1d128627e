#!/usr/bin/env bash
# synpat's two set-up commands (idempotent; run as root on a fresh Debian with Python >= 3.10):
#   bash quickstart.sh demo   render 3,000 images of the bundled shaders into demo/shards + demo/contact.png,
#                             then pre-train a tiny MAE on them (demo/pretrain: reconstructions, encoder)
#   bash quickstart.sh test   run the whole test suite
set -euo pipefail
cd "$(dirname "$0")"
what="${1:-}"
case "$what" in demo|test) ;; *) echo "usage: bash quickstart.sh demo|test" >&2; exit 2 ;; esac

# 1. System packages for headless OpenGL (EGL + Mesa's llvmpipe when there is no GPU driver),
#    and the sound engines synpat-audio-tasks builds its tasks with (speech, General-MIDI notes, mixing).
apt_pkgs="libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 python3-venv espeak-ng fluidsynth timgm6mb-soundfont sox"
if [ "$what" = test ]; then apt_pkgs="$apt_pkgs xvfb xauth libgl1 libglx-mesa0"; fi   # the live viewer test: a window under Xvfb
missing=$(for p in $apt_pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || echo "$p"; done)
if [ -n "$missing" ]; then
    echo "quickstart: installing $missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 2. A virtualenv with synpat installed editable; reinstalled only when pyproject.toml changes.
py=$(command -v python3.11 || command -v python3)
[ -x .venv/bin/python ] || "$py" -m venv .venv
extras=$([ "$what" = test ] && echo "train,audio,test,view" || echo "train,audio")
stamp=".venv/.stamp-$extras-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -e "$stamp" ]; then
    # --no-cache-dir: the CUDA build of torch and its libraries are several GB; a second copy in pip's cache
    # once filled a CI disk
    echo "quickstart: installing synpat[$extras] into .venv" >&2
    .venv/bin/python -m pip install -q --no-cache-dir --disable-pip-version-check -e ".[$extras]"
    touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
# DeepSpeed builds a small extension on its first start (30-110 s); keep it between runs.
export TORCH_EXTENSIONS_DIR="${TORCH_EXTENSIONS_DIR:-$HOME/.cache/synpat-torch-extensions}"

# 3. The job.
if [ "$what" = demo ]; then
    synpat-gen --shaders shaders/ --out demo/shards --count 3000 --size 128 --shard-size 500 --overwrite
    synpat-view demo/shards --out demo/contact.png --per-program 8
    python train/pretrain.py --config train/configs/demo_cpu.json --data demo/shards --out demo/pretrain --resume auto
else
    ruff check . && ruff format --check .   # the linter and formatter (pyproject.toml [tool.ruff])
    python -m pytest -q tests "${@:2}"
fi
