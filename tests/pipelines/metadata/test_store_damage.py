"""A corrupt or missing SQLite store, or a read-only home: a message that names the file and
says how to restore it or start fresh, and nothing on disk is changed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.config.models import SqliteMetadata
from pipelines.errors import MetadataError
from pipelines.lineage.connect import open_store
from pipelines.metadata.store import LineageStore
from pipelines.runner import run_pipeline
from tests.pipelines.fake_components import fake_pipeline


def test_a_corrupt_store_is_named_and_left_as_it_is(lockgate_home: Path) -> None:
    store = lockgate_home / "metadata.sqlite"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 8)  # a damaged copy
    before = store.read_bytes()
    for open_it in (lambda: LineageStore(SqliteMetadata()),  # running
                    lambda: open_store({"kind": "sqlite"})):  # the query commands
        with pytest.raises(MetadataError) as caught:
            open_it()
        message = str(caught.value)
        assert f"cannot open ML Metadata at {store}: " in message
        assert "not a usable ML Metadata store" in message and "Restore it from a backup" in message
        assert "CREATE TABLE" not in message  # not the SQL MLMD ran
    with pytest.raises(MetadataError, match="Restore it from a backup"):
        run_pipeline(fake_pipeline(), "r2")
    assert store.read_bytes() == before


def test_a_deleted_store_with_artifacts_left_refuses_to_run(lockgate_home: Path) -> None:
    pipeline = fake_pipeline()
    assert run_pipeline(pipeline, "r1").ok
    root = lockgate_home / "pipelines" / "fake"
    files = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    (lockgate_home / "metadata.sqlite").unlink()
    with pytest.raises(MetadataError) as caught:
        run_pipeline(pipeline, "r2")
    message = str(caught.value)
    assert f"the ML Metadata store {lockgate_home / 'metadata.sqlite'} does not exist, but " \
           f"{root} holds artifacts an earlier store recorded" in message
    assert "Restore" in message and f"move {root} aside first" in message
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == files
    assert not (lockgate_home / "metadata.sqlite").exists()  # no empty store was made
    # Moved aside, a fresh start works.
    root.rename(root.with_name("fake-old"))
    assert run_pipeline(pipeline, "r3").ok


@pytest.fixture
def read_only_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A LOCKGATE_HOME that a first run filled, then mounted read-only (root writes through
    permission bits, so a read-only bind mount is what stops it)."""
    home = tmp_path / "home"
    monkeypatch.setenv("LOCKGATE_HOME", str(home))
    assert run_pipeline(fake_pipeline(), "r1").ok
    if os.geteuid() != 0:
        home.chmod(0o555)
        yield home
        home.chmod(0o755)
        return
    mounted = subprocess.run(["mount", "--bind", str(home), str(home)], capture_output=True)
    remounted = mounted.returncode == 0 and subprocess.run(
        ["mount", "-o", "remount,bind,ro", str(home)], capture_output=True).returncode == 0
    if not remounted:
        subprocess.run(["umount", str(home)], capture_output=True)
        pytest.skip(f"cannot mount read-only here as root: {mounted.stderr.decode().strip()}")
    try:
        yield home
    finally:
        subprocess.run(["umount", str(home)], check=True)


def test_a_read_only_home_is_refused_before_anything_is_written(read_only_home: Path) -> None:
    files = {p: p.stat().st_mtime_ns for p in read_only_home.rglob("*")}
    with pytest.raises(MetadataError) as caught:
        run_pipeline(fake_pipeline(), "r2")
    message = str(caught.value)
    assert "is on a read-only file system" in message or "is not writable" in message
    assert f"LOCKGATE_HOME ({read_only_home})" in message and "nothing was written" in message
    assert {p: p.stat().st_mtime_ns for p in read_only_home.rglob("*")} == files
