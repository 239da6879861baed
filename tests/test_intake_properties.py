"""Whatever arrives, the run never crashes and every file ends archived with a recorded decision."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

import tests.hostile as H
from pipeline.config import load_config
from pipeline.state import open_state, received
from tests.conftest import INSTRUMENTS, example_workspace
from tests.intake_helpers import LEADER, OTHER, drop, filled, nightly

pytestmark = pytest.mark.slow  # hypothesis over whole nights: the full suite only, not make check


@pytest.fixture(scope="module", params=INSTRUMENTS)
def base(request, tmp_path_factory):
    """An issued workspace for each shipped instrument, a complete return and a partial one."""
    root = example_workspace(tmp_path_factory.mktemp("props") / "ws", issue=True, instrument=request.param)
    first = load_config(root / "config").instrument.ticks[0].key
    return root, filled(root, LEADER), filled(root, OTHER, {1: first})


def mutate(data: bytes, draw) -> bytes:
    choice = draw(st.sampled_from(["flip", "truncate", "drop-part", "duplicate-part", "cell", "none"]))
    if choice == "flip":
        blob = bytearray(data)
        for _ in range(draw(st.integers(1, 10))):
            blob[draw(st.integers(0, len(blob) - 1))] = draw(st.integers(0, 255))
        return bytes(blob)
    if choice == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    parts = H.parts_of(data)
    names = sorted(parts)
    if choice == "drop-part":
        parts.pop(draw(st.sampled_from(names)))
        return H.repack(parts)
    if choice == "duplicate-part":
        import io
        import warnings
        import zipfile

        buffer = io.BytesIO(data)
        with warnings.catch_warnings(), zipfile.ZipFile(buffer, "a") as archive:
            warnings.simplefilter("ignore")
            name = draw(st.sampled_from(names))
            archive.writestr(name, parts[name] + b" ")
        return buffer.getvalue()
    if choice == "cell":
        from pipeline.simulate import repack

        part = draw(st.sampled_from([n for n in names if n.startswith("xl/")]))
        body = parts[part]
        position = draw(st.integers(0, max(0, len(body) - 1)))
        insert = draw(
            st.sampled_from([b'<c r="C7" t="b"><v>1</v></c>', b"<v>x</v>", b"&amp;", b"<", b"\xff", b't="s"'])
        )
        parts[part] = body[:position] + insert + body[position:]
        return repack(parts)
    return data


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_mutated_batch_is_fully_decided(base, tmp_path_factory, data):
    template, valid, partial = base
    root = tmp_path_factory.mktemp("run") / "ws"
    shutil.copytree(template, root)
    blobs = [
        mutate(data.draw(st.sampled_from([valid, partial])), data.draw) for _ in range(data.draw(st.integers(1, 4)))
    ]
    for index, blob in enumerate(blobs):
        drop(root, f"file {index}.xlsx", blob)
    report = nightly(root)
    decided = len(report["accepted"]) + len(report["quarantined"]) + len(report["duplicates"])
    assert decided == len(blobs) and report["waiting"] == []
    assert not list((root / "inbox").iterdir())
    with open_state(root / "state" / "clb.sqlite").connect() as db:
        rows = list(db.execute(select(received)))
    assert len(rows) == len(blobs)
    for row in rows:
        assert (root / row.archive_path).is_file()
        assert row.decision in {"accepted", "quarantined", "duplicate"}
