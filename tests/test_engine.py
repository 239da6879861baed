"""Prefect's empty database, made once per Prefect version on a machine: a new workspace's record of runs
starts as a copy of it (a first start without it migrates Prefect's whole schema, two thirds of the
start), never one that is damaged, and never with another database's key for secrets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pipeline import engine


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CLB_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def prefect_like(path: Path, key: str = "a-secret-key") -> Path:
    """A small database shaped as Prefect's: its schema version and its configuration table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")  # as Prefect keeps it: the copy must still be whole
        db.execute("CREATE TABLE alembic_version (version_num TEXT)")
        db.execute("INSERT INTO alembic_version VALUES ('head-of-this-version')")
        db.execute("CREATE TABLE configuration (key TEXT, value TEXT)")
        db.execute("INSERT INTO configuration VALUES ('ENCRYPTION_KEY', ?), ('OTHER', 'kept')", (key,))
    return path


def rows(path: Path, query: str) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute(query).fetchall()


def test_the_blank_is_kept_once_per_prefect_version_without_the_secrets_key(cache, tmp_path):
    import importlib.metadata

    blank = engine.blank_database()
    assert blank == cache / f"prefect-{importlib.metadata.version('prefect')}-blank.db"
    engine.keep_blank_database(prefect_like(tmp_path / "first" / "prefect.db"))
    assert rows(blank, "SELECT version_num FROM alembic_version") == [("head-of-this-version",)]
    assert rows(blank, "SELECT key, value FROM configuration") == [("OTHER", "kept")]
    assert rows(blank, "PRAGMA journal_mode") == [("delete",)]  # one file, nothing beside it
    engine.keep_blank_database(prefect_like(tmp_path / "second" / "prefect.db", key="another"))
    assert rows(blank, "SELECT key FROM configuration") == [("OTHER",)]  # the first one stays
    assert [path.name for path in cache.iterdir()] == [blank.name]  # no temporary file left


def test_a_new_home_starts_from_the_blank_and_a_damaged_blank_is_never_used(cache, tmp_path):
    target = tmp_path / "home" / "prefect.db"
    assert engine.seed_database(target) is False and not target.exists()  # no blank yet
    engine.keep_blank_database(prefect_like(tmp_path / "first" / "prefect.db"))
    assert engine.seed_database(target) is True
    assert target.stat().st_mode & 0o777 == 0o600  # Prefect keeps its secrets key there: the owner's only
    assert rows(target, "SELECT version_num FROM alembic_version") == [("head-of-this-version",)]
    engine.blank_database().write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)  # damaged on disk
    other = tmp_path / "other" / "prefect.db"
    assert engine.seed_database(other) is False and not other.exists()


def test_the_cache_follows_each_systems_own_folders(monkeypatch, tmp_path):
    monkeypatch.delenv("CLB_CACHE_HOME", raising=False)
    monkeypatch.setattr(engine.Path, "home", lambda: tmp_path)
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    for platform, folder in [
        ("win32", tmp_path / "Local" / "clb"),
        ("darwin", tmp_path / "Library" / "Caches" / "clb"),
        ("linux", tmp_path / ".cache" / "clb"),
    ]:
        monkeypatch.setattr(engine.sys, "platform", platform)
        assert engine.blank_database().parent == folder


@pytest.mark.integration
def test_a_real_first_start_keeps_the_blank_and_the_next_home_starts_from_it(cache, tmp_path):
    first = engine.launch(tmp_path / "first", tmp_path / "first.log", temporary=True)
    try:
        first.wait_ready(seconds=600)  # a whole migration, beside the suite's other servers: time is not the point
    finally:
        first.stop()
    blank = engine.blank_database()
    assert engine.damaged(blank, thorough=True) is None
    assert rows(blank, "SELECT count(*) FROM configuration WHERE key = 'ENCRYPTION_KEY'") == [(0,)]
    (head,) = rows(blank, "SELECT version_num FROM alembic_version")
    second = engine.launch(tmp_path / "second", tmp_path / "second.log", temporary=True)
    try:
        assert second.keep_blank is False  # seeded: nothing to keep
        second.wait_ready(seconds=600)
        assert engine.answers(second.url)
    finally:
        second.stop()
    assert rows(engine.database_file(tmp_path / "second"), "SELECT version_num FROM alembic_version") == [head]
