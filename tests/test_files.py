"""Writing a file from parts (the round page): the file is either the old one or the whole new one, it is
not touched when its bytes would be the same, and nothing is left beside it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.files import write_if_changed

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
