"""Writing a file from parts (the round page, the nights' reports): the file is either the old one or the
whole new one, it is not touched when its bytes would be the same, and nothing is left beside it."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.files import JSON_BLOCK, atomic_write, json_bytes, json_parts, write_if_changed

PARTS = st.lists(st.binary(max_size=300), max_size=8)


@given(old=st.none() | st.binary(max_size=600), parts=PARTS)
def test_the_file_holds_the_parts_and_is_replaced_only_when_they_differ(old, parts):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "round.html"
        if old is not None:
            path.write_bytes(old)
            os.utime(path, ns=(1, 1))
        changed = write_if_changed(path, iter(parts))
        new = b"".join(parts)
        assert path.read_bytes() == new
        assert changed == (old != new)
        if not changed:
            assert path.stat().st_mtime_ns == 1  # the same file, untouched
        assert sorted(p.name for p in Path(folder).iterdir()) == ["round.html"]


def test_a_failure_while_the_parts_are_made_leaves_the_old_file_and_nothing_beside_it(tmp_path):
    path = tmp_path / "round.html"
    path.write_bytes(b"the page as it was")

    def parts() -> Iterator[bytes]:
        yield b"<html>half a page"
        raise RuntimeError("the template failed")

    with pytest.raises(RuntimeError):
        write_if_changed(path, parts())
    assert path.read_bytes() == b"the page as it was"
    assert [p.name for p in tmp_path.iterdir()] == ["round.html"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=40,
)


@given(data=JSON, block_size=st.integers(min_value=1, max_value=200))
def test_a_report_written_in_blocks_is_the_report_as_json_dumps_writes_it(data, block_size):
    """Blocks cut anywhere (small blocks here: a night's report of thousands of entries crosses many
    64 KiB ones, below), joined: the same bytes."""
    report = {"accepted": [data, data], "name": "rivière ✓"}
    expected = (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    blocks = list(json_parts(report, block_size))
    assert b"".join(blocks) == expected == json_bytes(report)
    shown = [block.decode("utf-8") for block in blocks]  # each block whole characters, on its own
    assert all(len(text) >= block_size for text in shown[:-1])


def test_a_report_that_cannot_be_encoded_leaves_the_last_one_and_nothing_beside_it(tmp_path):
    path = tmp_path / "latest.json"
    atomic_write(path, json_parts({"run": 1, "accepted": ["x" * 100] * 2000}))
    before = path.read_bytes()
    assert len(before) > 2 * JSON_BLOCK and json.loads(before)["run"] == 1
    assert len(list(json_parts(json.loads(before)))) >= 3  # in 64 KiB blocks
    with pytest.raises(TypeError):
        atomic_write(path, json_parts({"run": 2, "accepted": ["x" * 100] * 2000, "last": object()}))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["latest.json"]
