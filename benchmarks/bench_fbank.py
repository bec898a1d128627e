"""Log-mel fbank of a training batch: train/batched_fbank.py (one unfold + rfft over the batch)
against audio/fbank.py's per-clip Kaldi fbank (torchaudio, one call per clip), in one run.

    OMP_NUM_THREADS=1 python benchmarks/bench_fbank.py --batch 64 --seconds 1.0 10.24

JSON lines {"bench", "metric", "value", "unit", "device"}: clips/s of each path, best of --repeats;
on a machine with CUDA also the batched fbank on the GPU (synchronised).
"""

from __future__ import annotations

import argparse
import time

import torch
from common import emit
from synpat.audio.fbank import log_mel
from synpat.train.batched_fbank import SAMPLE_RATE, BatchedFbank


def best_rate(fn, clips: int, repeats: int, sync=lambda: None) -> float:
    fn()  # warm-up
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return clips / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, nargs="+", default=[1.0, 10.24])
    parser.add_argument("--mel-bins", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    fbank = BatchedFbank(args.mel_bins)
    for seconds in args.seconds:
        waves = (
            torch.rand(args.batch, int(round(seconds * SAMPLE_RATE)), generator=torch.Generator().manual_seed(0)) - 0.5
        )
        extra = {"batch": args.batch, "seconds": seconds, "mel_bins": args.mel_bins, "threads": torch.get_num_threads()}
        per_clip = best_rate(lambda: [log_mel(w, args.mel_bins) for w in waves], args.batch, args.repeats)
        emit("fbank", "per_clip_kaldi", per_clip, "clips/s", "cpu", **extra)
        batched = best_rate(lambda: fbank(waves), args.batch, args.repeats)
        emit("fbank", "batched", batched, "clips/s", "cpu", speedup=round(batched / per_clip, 2), **extra)
        if torch.cuda.is_available():
            gpu, on_gpu = fbank.to("cuda"), waves.cuda()
            rate = best_rate(lambda: gpu(on_gpu), args.batch, args.repeats, torch.cuda.synchronize)
            emit("fbank", "batched", rate, "clips/s", "cuda", speedup=round(rate / per_clip, 2), **extra)
            fbank = fbank.cpu()


if __name__ == "__main__":
    main()
