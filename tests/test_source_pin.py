"""The bytes synpat-gen writes are pinned: sha256 of every shard tar and .idx of small runs, at the
default settings and at non-default ones (mix, filters, statistics, group, time range, size, seed).

The hashes were computed before the sample source was refactored into gen/source.py; a change of
them is a change of the shards (a new version of the data), never a side effect of a refactor.
They hold for this software stack's renderer (Mesa llvmpipe here); a GPU driver renders other bits.
"""

import hashlib

import pytest
from conftest import run_gen

RUNS = {
    "default": ("--count", "24", "--size", "32", "--shard-size", "12", "--seed", "7"),
    "settings": (
        "--count",
        "30",
        "--size",
        "32x24",
        "--shard-size",
        "12",
        "--seed",
        "3",
        "--mix",
        "procedural_noise=2,cellular=1",
        "--min-std",
        "0.16",
        "--stats",
        "--group",
        "2",
        "--time-range",
        "1,5",
        "--quality",
        "80",
    ),
    "filter_programs": (
        "--count",
        "16",
        "--size",
        "24",
        "--shard-size",
        "8",
        "--seed",
        "11",
        "--format",
        "png",
        "--max-tv",
        "0.1",
        "--filter-programs",
    ),
}

DROPPED = {
    "settings": "filters dropped 11 of 30 samples and 0 programs",  # the filters do work here
    "filter_programs": "filters dropped 0 of 16 samples and 1 programs",
}

PINNED = {
    "default": {
        "synpat-000000.idx": "8c0c0afdf749ace9ade28a63425e23c9c898999c1899383a93c0673c5c06a943",
        "synpat-000000.tar": "3ff35e88c50ce52f0728462369653f790777c30308f5efe48366e69030b2a18c",
        "synpat-000001.idx": "9d9fe209911a7c4d5ac0edd940531cc9c4285d819f174b3cd88ebaf552405f96",
        "synpat-000001.tar": "03abb45a569a3f47e1d961ddf28073463cff77d7fc4f97e40633e1f2e03f8d43",
    },
    "filter_programs": {
        "synpat-000000.idx": "e39c839d3446ccb73d8bc4ab6419644deb2f02de374aea4beff21eeee460d02d",
        "synpat-000000.tar": "8db6c42989772f007a0f52cae4d31dc4ccd7886be1c7232eccd4dd6a4002e12b",
        "synpat-000001.idx": "1ba79a5e919086453af77c4d7027663d8a74745508b942ea97fcafc1110f27ce",
        "synpat-000001.tar": "b9ea3f309f9f0e2ed8a3e10dffa18e977909dbc0e1054cfbfbf93bcfdcd34b5e",
    },
    "settings": {
        "synpat-000000.idx": "b1965c0501b36076614e925d022e7bf4e46be5787b2674eac55f1e7802c3986d",
        "synpat-000000.tar": "65662d12496ddfb17bfb1ec0a31e4b9d32484d92cb2af769af44633215cf7a01",
        "synpat-000001.idx": "7459e609139a9de884f22fbee39f09ff7f3d504dd3d69432aaf300a6da9da9e9",
        "synpat-000001.tar": "027e59ed75b9be0f21994fa6032d75cb753a9b007ab4bfaa2a804bd9e900877d",
        "synpat-000002.idx": "1dd09a947f041ef23405c7630d36367a2fb856a30fe074733d583751a8e284a0",
        "synpat-000002.tar": "48ed97ea6c17b574f01edb7539575bbb9ecf3a5c7856f2ab2ab9cdda8c0e3cd9",
    },
}


def digests(folder) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.suffix in (".tar", ".idx")
    }


@pytest.mark.parametrize("run", sorted(RUNS))
def test_shard_bytes_are_pinned(run, small_shaders, tmp_path):
    out = tmp_path / "out"
    proc = run_gen("--shaders", small_shaders, "--out", out, *RUNS[run])
    assert proc.returncode == 0, proc.stderr
    assert DROPPED.get(run, "wrote") in proc.stderr.splitlines()[-1]
    assert digests(out) == PINNED[run]
