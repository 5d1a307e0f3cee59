"""ML Metadata on a real PostgreSQL server: the same lineage as on SQLite."""

from __future__ import annotations

import pytest

from pipelines.config.models import PostgresMetadata
from pipelines.errors import MetadataError
from pipelines.graph import Pipeline
from pipelines.launcher import launch
from pipelines.metadata.store import LineageStore
from pipelines.runner import run_pipeline
from tests.pipelines.fake_components import fake_pipeline
from tests.postgres import PostgresServer

pytestmark = pytest.mark.postgres


def on_postgres(server: PostgresServer, database: str) -> Pipeline:
    pipeline = fake_pipeline()
    metadata = PostgresMetadata(kind="postgresql", host=server.host, port=server.port,
                                database=database, user=server.user,
                                password_env="LOCKGATE_TEST_PG_PASSWORD")
    config = pipeline.config.model_copy(update={"metadata": metadata})
    return Pipeline(config, pipeline.nodes)


def test_lineage_on_postgres(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGATE_TEST_PG_PASSWORD", postgres_server.password)
    pipeline = on_postgres(postgres_server, "mlmd_lineage")
    summary = run_pipeline(pipeline, "pg-run")
    assert summary.ok, summary.failure
    store = LineageStore(pipeline.config.metadata)
    executions = store.run_executions("fake", "pg-run")
    assert [(e.node_id, e.state) for e in executions] == [
        ("gen", "COMPLETE"), ("stats", "COMPLETE")
    ]
    produced = store.outputs_of(executions[0].id)["examples"]
    consumed = store.inputs_of(executions[1].id)["examples"]
    assert [a.id for a in produced] == [a.id for a in consumed]


def test_missing_password_env_is_a_clear_error(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOCKGATE_TEST_PG_PASSWORD", raising=False)
    pipeline = on_postgres(postgres_server, "mlmd_nopass")
    with pytest.raises(MetadataError, match=r"\$LOCKGATE_TEST_PG_PASSWORD, which is not set"):
        launch(pipeline, "gen", "r1")


def test_wrong_password_is_a_clear_error(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGATE_TEST_PG_PASSWORD", "wrong")
    with pytest.raises(MetadataError, match="cannot open ML Metadata"):
        LineageStore(on_postgres(postgres_server, "mlmd_badpass").config.metadata)


def _open_at(metadata: PostgresMetadata, start: float) -> int:
    """Open the store at wall time ``start`` (so every process races), then count its types."""
    import time

    time.sleep(max(0.0, start - time.time()))
    return len(LineageStore(metadata).mlmd.get_artifact_types())


def test_first_connections_racing_to_create_the_schema_all_open(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four Airflow tasks starting at once on an empty database: PostgreSQL fails all but one
    schema creation with a duplicate key; every store must still open."""
    import multiprocessing
    import time
    from concurrent.futures import ProcessPoolExecutor

    monkeypatch.setenv("LOCKGATE_TEST_PG_PASSWORD", postgres_server.password)
    metadata = on_postgres(postgres_server, "mlmd_race").config.metadata
    assert isinstance(metadata, PostgresMetadata)
    start = time.time() + 3.0
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(6, mp_context=context) as pool:
        opened = list(pool.map(_open_at, [metadata] * 6, [start] * 6))
    assert len(opened) == 6
