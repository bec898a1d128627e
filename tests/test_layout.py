"""The layout's rules (docs/design.md §2): gen/ and core/ run without torch; each stage imports only earlier ones;
no module in train/ shares a name with a package it imports (train/ is on sys.path for `deepspeed train/pretrain.py`)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["core", "gen", "train", "audio"]  # a stage may import itself and the stages before it


def synpat_imports(path: Path) -> set[str]:
    """The synpat.X stages that `path` imports (absolute imports)."""
    stages = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.level == 0
            else ([a.name for a in node.names] if isinstance(node, ast.Import) else [])
        )
        for name in names:
            parts = name.split(".")
            if parts[0] == "synpat" and len(parts) > 1:
                stages.add(parts[1])
    return stages


@pytest.mark.parametrize("stage", ORDER)
def test_each_stage_imports_only_earlier_stages(stage):
    allowed = set(ORDER[: ORDER.index(stage) + 1]) | {"shaders"}
    for path in sorted((ROOT / stage).glob("*.py")):
        wrong = synpat_imports(path) - allowed
        assert not wrong, f"{path.relative_to(ROOT)} imports synpat.{', synpat.'.join(sorted(wrong))}"


def test_generation_imports_no_torch():
    code = (
        "import sys, synpat.core.settings, synpat.core.devices, synpat.gen.cli, synpat.gen.stream, "
        "synpat.gen.contact, synpat.gen.gl_cuda, synpat.gen.jpeg; bad = [m for m in ('torch', 'deepspeed', 'nvidia.dali', 'synpat.train', 'synpat.audio') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_train_module_shadows_a_package_it_imports():
    shadowing = {"deepspeed", "torch", "webdataset", "timm", "numpy", "safetensors", "nvidia", "datasets", "PIL"}
    names = {p.stem for p in (ROOT / "train").glob("*.py")}
    assert not names & shadowing
