"""Program checks cached on disk by content and settings, and one decision shared by all ranks."""

import shutil
import threading

import pytest
from synpat.core.errors import UserError
from synpat.gen import check_cache
from synpat.gen.check_cache import accept_cached
from synpat.gen.checks import CheckSettings, check_programs
from synpat.gen.programs import find_programs

SETTINGS = CheckSettings(32, 32, time_limit=5.0)
BROKEN = "void mainImage(out vec4 c, in vec2 f) { c = vec4(nope); }\n"


class Counting:
    """The real check_programs, counting the programs it is asked to check."""

    def __init__(self):
        self.checked = []

    def __call__(self, programs, settings):
        self.checked += [p.name for p in programs]
        return check_programs(programs, settings)


def with_broken(shaders):
    (shaders / "broken.glsl").write_text(BROKEN)
    return shaders


def test_second_run_checks_nothing_and_a_changed_source_is_checked_again(small_shaders, check_cache_folder):
    shaders = with_broken(small_shaders)
    first = Counting()
    accepted, rejected = accept_cached(find_programs([shaders]), SETTINGS, check=first)
    assert first.checked == ["broken", "fbm", "voronoi", "waves"]
    assert [p.name for p in accepted] == ["fbm", "voronoi", "waves"]
    assert rejected[0][1].startswith(f"{shaders / 'broken.glsl'}:1: ")
    again = Counting()
    assert accept_cached(find_programs([shaders]), SETTINGS, check=again) == (accepted, rejected)
    assert again.checked == []
    (shaders / "waves.glsl").write_text((shaders / "waves.glsl").read_text() + "\n// edited\n")
    edited = Counting()
    accept_cached(find_programs([shaders]), SETTINGS, check=edited)
    assert edited.checked == ["waves"]


def test_the_same_source_elsewhere_reuses_its_result_under_its_own_path(small_shaders, tmp_path):
    shaders = with_broken(small_shaders)
    accept_cached(find_programs([shaders]), SETTINGS)
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(shaders / "broken.glsl", other / "renamed.glsl")
    counting = Counting()
    accepted, rejected = accept_cached(find_programs([other]), SETTINGS, check=counting)
    assert counting.checked == [] and accepted == []
    assert rejected[0][1].startswith(f"{other / 'renamed.glsl'}:1: ")


def test_renderer_code_driver_or_settings_change_invalidates(small_shaders, monkeypatch):
    programs = find_programs([small_shaders])
    accept_cached(programs, SETTINGS)
    for change in ("driver", "settings", "code"):
        counting = Counting()
        settings, identity = SETTINGS, None
        if change == "driver":
            identity = "another GPU | 4.6"
        elif change == "settings":
            settings = CheckSettings(32, 32, time_limit=6.0)
        else:
            monkeypatch.setattr(check_cache, "code_digest", lambda: "edited renderer.py")
        accept_cached(programs, settings, identity=identity, check=counting)
        assert counting.checked == ["fbm", "voronoi", "waves"], change
    same_but_device = CheckSettings(32, 32, time_limit=5.0, device=3)  # the device index is not part of the key
    assert check_cache.check_key(same_but_device, "x") == check_cache.check_key(SETTINGS, "x")


def test_ranks_agree_even_when_one_ranks_checks_would_time_out(small_shaders, monkeypatch):
    monkeypatch.setattr(check_cache, "POLL_SECONDS", 0.1)
    shaders = with_broken(small_shaders)
    programs = find_programs([shaders])

    def timing_out(chunk, settings):  # what rank 1 would decide on its own: every program timed out
        rank1_checked.extend(chunk)
        return [f"{p.path}: timed out" for p in chunk]

    rank1_checked, result = [], {}
    waiting = threading.Thread(
        target=lambda: result.update(
            r1=accept_cached(programs, SETTINGS, rank=1, world_size=2, check=timing_out, wait_seconds=120)
        )
    )
    waiting.start()
    r0 = accept_cached(programs, SETTINGS, rank=0, world_size=2)
    waiting.join(60)
    assert not waiting.is_alive() and rank1_checked == []
    assert result["r1"] == r0 and [p.name for p in r0[0]] == ["fbm", "voronoi", "waves"]


def test_a_rank_without_rank_0s_cache_gives_up_with_one_line(small_shaders, monkeypatch):
    monkeypatch.setattr(check_cache, "POLL_SECONDS", 0.1)
    with pytest.raises(UserError, match=r"rank 1 waited 0 s .*3 of 3 programs missing.*SYNPAT_CACHE"):
        accept_cached(find_programs([small_shaders]), SETTINGS, rank=1, world_size=2, wait_seconds=0.3)
