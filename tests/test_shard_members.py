"""Tar members built from a header template in the encode workers: the same bytes as tarfile's, and
a shard whose DALI index points at each member's data."""

from __future__ import annotations

import tarfile

import pytest
from synpat.gen.shards import _header, damaged_shard_reason, member_header, tar_bytes, write_shard


@pytest.mark.parametrize(
    "name,size",
    [
        ("000000001.jpg", 0),
        ("000000001.jpg", 12345),
        ("a" * 99, 8**11 - 1),
        ("000000042.json", 511),
        ("d" * 60 + "/" + "b" * 50, 7),
    ],
)
def test_template_headers_equal_tarfiles(name, size):
    assert member_header(name, size) == _header(name, size)


def test_a_shard_of_template_members_reads_back_and_matches_its_index(tmp_path):
    samples = [
        (f"{i:09d}", {"jpg": bytes([i]) * (100 + 300 * i), "cls": str(i).encode(), "json": b"{}"}) for i in range(4)
    ]
    data, index = tar_bytes(samples)
    assert write_shard(tmp_path, "s", samples) == len(data)
    assert damaged_shard_reason(tmp_path / "s.tar", tmp_path / "s.idx") is None
    with tarfile.open(tmp_path / "s.tar") as tar:
        read = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert read == {f"{key}.{ext}": value for key, files in samples for ext, value in files.items()}
    assert index.splitlines()[0] == "v1.2 4"
    assert index.splitlines()[1].split()[:3] == ["jpg", "512", "100"]
