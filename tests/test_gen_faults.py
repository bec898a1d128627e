"""synpat-gen under faults and bad input: damaged shards on resume, two writers, a stalled or
killed checker, SIGTERM, odd numbers; each one line and nothing lost."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import HANG, run_gen
from synpat.core.errors import UserError
from synpat.core.locks import writer_lock
from synpat.gen.programs import Program
from synpat.gen.renderer import Renderer
from test_gen_cli import COMMON, one_error_line, tars


def test_resume_renders_damaged_shards_again(small_shaders, tmp_path):
    out, args = tmp_path / "out", ["--shaders", small_shaders, "--count", 80, *COMMON]
    assert run_gen(*args, "--out", out).returncode == 0
    full = tars(out)
    names = sorted(full)
    (out / names[0]).write_bytes(full[names[0]][:3000])  # cut short
    (out / names[1]).write_bytes(os.urandom(len(full[names[1]])))  # garbage of the right size
    (out / names[2]).write_bytes(b"")  # emptied
    resumed = run_gen(*args, "--out", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "1 already done, 3 damaged rendered again" in resumed.stderr.splitlines()[-1]
    assert sum("not a finished shard" in l for l in resumed.stderr.splitlines()) == 3
    assert tars(out) == full


def test_a_second_writer_is_refused_with_one_line_and_a_stale_lock_is_taken_over(small_shaders, tmp_path):
    out, args = tmp_path / "out", ["--shaders", small_shaders, "--count", 40, *COMMON]
    out.mkdir()
    lock = out / ".synpat-gen.lock.0-1"
    lock.write_text(f"{os.getpid()} {socket.gethostname()}\n")  # a live writer of shards 0..1
    line = one_error_line(run_gen(*args, "--out", out))
    assert f"another synpat-gen (pid {os.getpid()} on {socket.gethostname()}) is writing shards 0..1" in line
    assert [p.name for p in out.iterdir()] == [lock.name]  # nothing written
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(f"{gone.stdout.strip()} {socket.gethostname()}\n")  # its writer was killed
    proc = run_gen(*args, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "synpat-000000.idx",
        "synpat-000000.tar",
        "synpat-000001.idx",
        "synpat-000001.tar",
    ]


def test_two_runs_started_together_give_one_writer(small_shaders, tmp_path):
    out, args = tmp_path / "out", ["--shaders", small_shaders, "--count", 60, *COMMON]
    single = tmp_path / "single"
    assert run_gen(*args, "--out", single).returncode == 0
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "synpat.gen.cli", *map(str, args), "--out", str(out)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = sorted((p.wait(), p.stderr.read()) for p in procs)
    assert [rc for rc, _ in results] == [0, 2], results
    refused = results[1][1].strip().splitlines()
    assert len(refused) == 1 and ("is writing shards 0..2" in refused[0] or "not empty" in refused[0]), refused
    assert tars(out) == tars(single)


def test_lock_ranges_of_ranks_work_side_by_side(tmp_path):
    with writer_lock(tmp_path, "tool", 0, 4, "shards 0..4"):
        with writer_lock(tmp_path, "tool", 5, 9, "shards 5..9"):
            with pytest.raises(UserError, match="another tool .* is writing shards 3..6"):
                with writer_lock(tmp_path, "tool", 3, 6, "shards 3..6"):
                    pass
    assert list(tmp_path.iterdir()) == []


def test_a_lock_file_with_foreign_content_is_named_not_ignored(tmp_path):
    (tmp_path / ".tool.lock.0-4").write_text("")
    with pytest.raises(UserError, match=r"\.tool\.lock\.0-4: the lock file holds '', expected 'pid host'"):
        with writer_lock(tmp_path, "tool", 2, 3, "shards 2..3"):
            pass
    assert [p.name for p in tmp_path.iterdir()] == [".tool.lock.0-4"]  # no private file left behind


def _checker_child(parent: subprocess.Popen, seconds: float = 60) -> int:
    """The pid of the program checker that synpat-gen started."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise AssertionError("synpat-gen started no checker")


def _gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":  # dead, waiting to be reaped
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and the parent death signal")
def test_sigterm_ends_with_one_line_and_kill_9_takes_the_checker_along(small_shaders, tmp_path):
    (small_shaders / "hang.glsl").write_text(HANG)  # the checker hangs in it: synpat-gen is in its checks
    env = os.environ
    cmd = [sys.executable, "-m", "synpat.gen.cli", "--shaders", str(small_shaders), "--count", "6", *COMMON]
    term = subprocess.Popen([*cmd, "--out", str(tmp_path / "a")], stderr=subprocess.PIPE, text=True, env=env)
    child = _checker_child(term)
    term.send_signal(signal.SIGTERM)
    assert term.wait(30) == 143
    assert term.stderr.read().strip().splitlines() == [
        "synpat-gen: terminated; complete shards are kept, --resume finishes the rest"
    ]
    assert _gone(child)
    killed = subprocess.Popen([*cmd, "--out", str(tmp_path / "b")], stderr=subprocess.DEVNULL)
    child = _checker_child(killed)
    killed.kill()
    killed.wait()
    assert _gone(child), "the checker outlived synpat-gen"


def test_a_loop_the_compiler_removes_and_an_empty_file_are_rejected_with_one_line():
    renderer = Renderer(32, 32, backend="compute")
    reason = renderer.check(Program("loop", "loop.glsl", "void mainImage(out vec4 o, in vec2 u) { for (;;) {} }"))
    assert reason.startswith("loop.glsl: renders NaN in 100%"), reason
    reason = renderer.check(Program("empty", "empty.glsl", ""))
    assert reason == "empty.glsl: error: no function with name 'mainImage' (after the end of the file, which is empty)"


@pytest.mark.parametrize(
    "flag, value, expected",
    [
        ("--check-seconds", "nan", "--check-seconds: expected a positive number of seconds, got nan"),
        ("--check-seconds", "inf", "--check-seconds: expected a positive number of seconds, got inf"),
        ("--time-range", "0,inf", "--time-range: expected finite 0 <= MIN < MAX, got 0,inf"),
        ("--size", "7x", "argument --size: expected N or WxH, got '7x'"),
        ("--format", "gif", "argument --format: invalid choice: 'gif'"),
    ],
)
def test_bad_numbers_give_one_line_and_write_nothing(small_shaders, tmp_path, flag, value, expected):
    out = tmp_path / "out"
    line = one_error_line(run_gen("--shaders", small_shaders, "--out", out, flag, value))
    assert line.startswith(f"synpat-gen: error: {expected}"), line
    assert not out.exists()


def test_leftovers_of_killed_writers_are_removed_on_the_next_run(small_shaders, tmp_path):
    out, args = tmp_path / "out", ["--shaders", small_shaders, "--count", 40, *COMMON]
    assert run_gen(*args, "--out", out).returncode == 0
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, host = gone.stdout.strip(), socket.gethostname()
    leftovers = [out / f".manifest.json.{host}-{dead}.tmp", out / f".synpat-gen.lock.new-{dead}-{host}"]
    others = [out / f".manifest.json.otherhost-{dead}.tmp", out / f".manifest.json.{host}-{os.getpid()}.tmp"]
    for path in leftovers + others:
        path.write_text("{")
    assert run_gen(*args, "--out", out, "--resume").returncode == 0
    assert not any(p.exists() for p in leftovers)
    assert all(p.exists() for p in others)  # another host's, and a live writer's, stay


def test_a_lock_file_that_cannot_be_written_leaves_nothing(tmp_path, monkeypatch):
    import io

    real_open = io.open

    def full(path, *a, **k):
        if ".lock.new-" in str(path):
            real_open(path, "w").close()  # the name is made, the write fails: a full disk
            raise OSError(28, "No space left on device")
        return real_open(path, *a, **k)

    monkeypatch.setattr(io, "open", full)  # what Path.write_text opens with
    with pytest.raises(UserError, match="No space left on device"):
        with writer_lock(tmp_path, "tool", 0, 1, "shards 0..1"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_a_latin1_comment_renders_and_a_binary_file_is_one_rejected_program(small_shaders, tmp_path):
    (small_shaders / "latin1.glsl").write_bytes(
        "// d\u00e9grad\u00e9 \u00a9 2019\nvoid mainImage(out vec4 o, in vec2 u) { o = vec4(u / iResolution.xy, 0.5, 1); }\n".encode(
            "latin-1"
        )
    )
    (small_shaders / "binary.glsl").write_bytes(bytes(range(256)) * 4)
    proc = run_gen("--shaders", small_shaders, "--out", tmp_path / "out", "--count", 20, *COMMON)
    assert proc.returncode == 0, proc.stderr
    assert "from 4 programs (1 rejected)" in proc.stderr.splitlines()[-1], proc.stderr
    assert sum("binary.glsl" in line for line in proc.stderr.splitlines()) == 1
