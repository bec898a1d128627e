"""synpat-gen: render GLSL programs into WebDataset shards.

    synpat-gen --shaders shaders/ --out shards/ --count 100000 --size 224
"""

from __future__ import annotations

import argparse
import signal
import sys

from synpat.core.errors import UserError
from synpat.core.settings import Parser
from .generate import GenConfig, generate, summary_line
from .programs import bundled_shaders_dir
from .jpeg import JPEG_ENCODERS
from .renderer import BACKENDS
from .shards import FORMATS


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, x, h = text.lower().partition("x")
        size = (int(w), int(h if x else w))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or WxH, got '{text}'") from None
    if min(size) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes, got '{text}'")
    return size


def parse_range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX, got '{text}'") from None
    return lo, hi


def parse_mix(text: str) -> dict[str, float]:
    """'dead_leaves=2,statistical=1' -> {'dead_leaves': 2.0, 'statistical': 1.0}; a family named twice is refused."""
    mix = {}
    for part in text.split(","):
        name, eq, weight = part.partition("=")
        name = name.strip()
        try:
            value = float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected FAMILY=WEIGHT,..., got '{part}'") from None
        if not eq or not name:
            raise argparse.ArgumentTypeError(f"expected FAMILY=WEIGHT,..., got '{part}'")
        if name in mix:
            raise argparse.ArgumentTypeError(f"family '{name}' is named twice in '{text}'; name each once")
        mix[name] = value
    return mix


def build_parser() -> argparse.ArgumentParser:
    d = GenConfig()
    p = Parser(prog="synpat-gen", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--shaders", nargs="+", default=None, metavar="PATH",
                   help="folders (searched recursively for *.glsl, *.frag), files, or procedural:N[@SEED] (a generated set, seeded by --seed); default: the bundled programs")
    p.add_argument("--out", default=d.out, help="output folder for the shards and manifest.json")
    n = p.add_mutually_exclusive_group()
    n.add_argument("--count", type=int, default=d.count, help="total images")
    n.add_argument("--per-shader", type=int, default=d.per_shader, help="images per accepted program (default 1000)")
    p.add_argument("--size", type=parse_size, default=d.size, help="N or WxH pixels")
    p.add_argument("--format", choices=FORMATS, default=d.format)
    p.add_argument("--quality", type=int, default=d.quality, help="jpg/webp quality")
    p.add_argument("--jpeg-encoder", choices=JPEG_ENCODERS, default=d.jpeg_encoder,
                   help="cpu: Pillow in the --workers threads; gpu: nvJPEG (torchvision) on this rank's GPU, from the "
                        "rendered CUDA tensor (needs torch); auto: gpu when rendering on an NVIDIA GPU with torch, else cpu")
    p.add_argument("--shard-size", type=int, default=d.shard_size, help="images per tar")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--time-range", type=parse_range, default=d.time_range, help="iTime range MIN,MAX")
    p.add_argument("--backend", choices=BACKENDS, default=d.backend)
    p.add_argument("--workers", type=int, default=d.workers, help="image encoding threads")
    p.add_argument("--batch", type=int, default=d.batch, help="images per GPU dispatch at most")
    p.add_argument("--group", type=int, default=d.group,
                   help="consecutive samples of one program (a run); default 1 up to 64 programs, 16 up to 1024, 64 above")
    p.add_argument("--prefix", default=d.prefix, help="shard file name prefix")
    p.add_argument("--resume", action="store_true", help="finish a run in --out, skipping complete shards")
    p.add_argument("--overwrite", action="store_true", help="replace the shards and manifest in --out")
    p.add_argument("--strict", action="store_true", help="a program that is rejected stops the run")
    p.add_argument("--rank", type=int, default=None, help="this process's rank (default: RANK or SLURM_PROCID)")
    p.add_argument("--world-size", type=int, default=None, help="number of ranks (default: WORLD_SIZE or SLURM_NTASKS)")
    p.add_argument("--gl-device", type=int, default=None, help="EGL device index (default: LOCAL_RANK when launched)")
    p.add_argument("--check-seconds", type=float, default=d.check_seconds,
                   help="reject a program that cannot render 3 of its 8 probe images in this time")
    p.add_argument("--max-nan", type=float, default=d.max_nan,
                   help="reject a program when more than this fraction of its probe images' channel values "
                        "is NaN (a NaN channel renders as 0 and +-Inf clamps, as on a GPU)")
    s = p.add_argument_group("statistics and filters (synpat.gen.stats: TV, entropies, Canny edge density)")
    s.add_argument("--stats", action="store_true", help="store each image's statistics in its json")
    s.add_argument("--max-tv", type=float, default=None, help="drop images whose total variation is above this")
    s.add_argument("--min-std", type=float, default=None,
                   help="drop images whose per-channel standard deviation (mean of R, G, B; 0..1) is below this")
    s.add_argument("--max-edge", type=float, default=None, help="drop images whose Canny edge density is above this")
    s.add_argument("--filter-programs", action="store_true",
                   help="apply the filters to each program's 8 probe images instead: drop a program when more than half fail")
    s.add_argument("--mix", type=parse_mix, default=None, metavar="FAMILY=W,...",
                   help="share of each program family ('// family:' line) in the samples; families not named get none")
    return p


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's or `kill`'s stop): ends the run as Ctrl-C does."""


def _terminate(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        args = vars(build_parser().parse_args(argv))
        args["shaders"] = args["shaders"] or [str(bundled_shaders_dir())]
        summary = generate(GenConfig(**args))
    except UserError as e:
        print(f"synpat-gen: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print("synpat-gen: " + ("terminated" if isinstance(e, Terminated) else "interrupted")
              + "; complete shards are kept, --resume finishes the rest", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(summary_line(summary), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
