"""Reconstruction pictures of a compiled engine run the eager forward: a no-grad call at the picture
batch size must not make Dynamo compile the model again (on a GPU that doubled the compile time of
a run, in the fresh and in the resumed process)."""

from __future__ import annotations

import torch
from synpat.train.mae import build_mae
from synpat.train.pretrain import pictures
from synpat.train.torch_engine import TorchEngine
from torch._dynamo.utils import counters

SIZE, BATCH, PICTURES = 32, 4, 2


def engine(compiled: bool) -> TorchEngine:
    torch.manual_seed(0)
    model = build_mae("mae_vit_tiny_patch16", img_size=SIZE)
    eng = TorchEngine(model, torch.device("cpu"), "fp32", 1e-3, (0.9, 0.95), 0.05)
    if compiled:  # TorchEngine.compile's wrapping, with Dynamo's eager backend (no C++ build on CPU)
        eng.forward = torch.compile(eng.forward, backend="eager")
    return eng


def train_step(eng: TorchEngine, imgs: torch.Tensor, noise: torch.Tensor) -> None:
    loss, _, _ = eng(imgs, noise)
    eng.backward(loss)
    eng.step()


def test_pictures_of_a_compiled_engine_compile_nothing_and_equal_the_eager_ones(tmp_path):
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1)
    imgs = torch.randn(BATCH, 3, SIZE, SIZE, generator=gen)
    noise = torch.rand(BATCH, (SIZE // 16) ** 2, generator=gen)
    torch._dynamo.reset()
    counters.clear()
    paths = {}
    for compiled in (False, True):
        eng = engine(compiled)
        train_step(eng, imgs, noise)
        graphs = counters["stats"]["unique_graphs"]
        assert graphs == (1 if compiled else 0)  # the training step compiled once (or not at all)
        paths[compiled] = tmp_path / f"recon_{compiled}.png"
        pictures(eng, eng.module, imgs[:PICTURES], noise[:PICTURES], paths[compiled], rank=0)
        assert counters["stats"]["unique_graphs"] == graphs, "the no-grad picture call compiled again"
        train_step(eng, imgs, noise)  # and training goes on with its compiled forward
        assert counters["stats"]["unique_graphs"] == graphs
    assert paths[True].stat().st_size > 1000
    assert paths[True].read_bytes() == paths[False].read_bytes()
