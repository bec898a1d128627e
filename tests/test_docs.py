"""The docs match the code: every `synpat-*` command the README and docs/ name runs with --help, every
relative link and every repository path they name exists, every "docs/design.md §N" the code cites is a
section of docs/design.md, and docs/design.md names every module of the four stages."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "RESULTS.md"]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
FOLDERS = ("core", "gen", "train", "audio", "hear", "shaders", "benchmarks", "tests", "docs")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
REPO_PATH = re.compile(r"(?<![\w/.~:-])((?:%s)/[\w./-]*)" % "|".join(FOLDERS))


def named_commands() -> set[str]:
    return {m for page in PAGES for m in re.findall(r"\bsynpat-[a-z]+(?:-[a-z]+)*", page.read_text())}


def test_the_docs_name_only_commands_that_exist():
    unknown = sorted(named_commands() - set(SCRIPTS))
    assert not unknown, f"named in the README or docs/ but not in pyproject.toml's scripts: {unknown}"
    assert {"synpat-gen", "synpat-pretrain", "synpat-finetune", "synpat-experiment"} <= named_commands()


@pytest.mark.parametrize("command", sorted(SCRIPTS))
def test_every_named_command_runs_with_help(command):
    if command not in named_commands():
        pytest.skip(f"{command} is not named in the docs")
    module, function = SCRIPTS[command].split(":")
    code = f"import sys; from {module} import {function}; sys.exit({function}(['--help']))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage:") and "--help" in proc.stdout


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_anchor_exists(page):
    missing = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            missing.append(target)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            missing.append(f"{target} (no such heading)")
    assert not missing, f"{page.relative_to(ROOT)} links to {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_named_exists(page):
    named = {m.rstrip(".-") for m in REPO_PATH.findall(page.read_text())}
    # a path: a folder (ends in /), a file (has a suffix) or deeper than one level; not prose like "train/test"
    named = {p for p in named if p.endswith("/") or Path(p).suffix or p.count("/") > 1}
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, f"{page.relative_to(ROOT)} names {missing}, which the repository lacks"


def test_design_citations_in_the_code_point_into_docs_design():
    design = (ROOT / "docs" / "design.md").read_text()
    sections = set(re.findall(r"^## §(\d+)", design, flags=re.M))
    cited = {}
    for folder in (*FOLDERS, ".ci"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".md", ".sh") and path.is_file():
                text = path.read_text()
                assert "DESIGN" + " §" not in text, f"{path.relative_to(ROOT)} cites a DESIGN document the repo lacks"
                for number in re.findall(r"docs/design\.md §(\d+)", text):
                    cited.setdefault(number, []).append(str(path.relative_to(ROOT)))
    assert cited, "no citation found: the search is broken"
    assert set(cited) <= sections, {n: cited[n] for n in set(cited) - sections}


def test_design_names_every_module():
    design = (ROOT / "docs" / "design.md").read_text()
    missing = [
        f"{folder}/{path.name}"
        for folder in ("core", "gen", "train", "audio")
        for path in sorted((ROOT / folder).glob("*.py"))
        if path.stem != "__init__" and f"`{path.stem}`" not in design
    ]
    assert not missing, f"docs/design.md §2 does not name {missing}"
