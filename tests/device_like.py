"""An environment that imports like the offline GPU machine: synpat only through PYTHONPATH (a
``synpat/`` folder whose subpackages link to the checkout's folders, as pyproject.toml's
package-dir maps them and the device's setup links them), this checkout's editable install
hidden, and packages the device lacks (DALI, soundfile, glfw) failing to import.

    python tests/device_like.py FOLDER [BLOCKED,... [REPO]]   # prints PYTHONPATH=... SYNPAT_BLOCK_IMPORTS=... PATH=...

Child processes inherit it: the hiding and blocking are a sitecustomize.py on PYTHONPATH, which
every Python process started with that PYTHONPATH runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]
DEVICE_LACKS = ("nvidia.dali", "soundfile", "glfw")
BLOCK_ENV = "SYNPAT_BLOCK_IMPORTS"

SITECUSTOMIZE = '''\
"""Written by tests/device_like.py: hide editable installs; the modules in SYNPAT_BLOCK_IMPORTS
(comma-separated) are absent: importing them (or their submodules) raises ModuleNotFoundError and
importlib.util.find_spec finds nothing, as on a machine without them (a None in sys.modules)."""
import os
import sys

sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path_hooks[:] = [h for h in sys.path_hooks if not getattr(h, "__module__", "").startswith("__editable__")]
sys.path[:] = [p for p in sys.path if not p.startswith("__editable__")]
sys.path_importer_cache.clear()
for name in filter(None, os.environ.get("SYNPAT_BLOCK_IMPORTS", "").split(",")):
    sys.modules[name] = None
'''


def package_links(repo: Path, dest: Path) -> Path:
    """dest/synpat/<sub> -> repo/<folder> for each package-dir entry of pyproject.toml -> dest."""
    conf = tomllib.loads((repo / "pyproject.toml").read_text())
    for package, folder in conf["tool"]["setuptools"]["package-dir"].items():
        link = dest.joinpath(*package.split("."))
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():
            link.symlink_to(repo / folder, target_is_directory=True)
    return dest


def device_like_env(folder: Path, blocked=DEVICE_LACKS, repo: Path = REPO, base: dict | None = None) -> dict:
    """Environment variables for processes that import like the device (see the module docstring);
    ``folder`` receives the links and sitecustomize.py."""
    folder = Path(folder)
    site = folder / "site"
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    links = package_links(repo, folder / "py")
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(links)])
    env[BLOCK_ENV] = ",".join(blocked)
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and not Path(p, "synpat-gen").exists()
    )  # no console scripts
    return env


if __name__ == "__main__":
    env = device_like_env(
        Path(sys.argv[1]),
        sys.argv[2].split(",") if len(sys.argv) > 2 else DEVICE_LACKS,
        Path(sys.argv[3]).resolve() if len(sys.argv) > 3 else REPO,
    )
    print(" ".join(f"{k}={env[k]}" for k in ("PYTHONPATH", BLOCK_ENV, "PATH")))
