"""Turn the config's ``metadata:`` section into an MLMD ``ConnectionConfig``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.config.models import Metadata, PostgresMetadata
from pipelines.errors import MetadataError
from pipelines.home import lockgate_home, not_writable

if TYPE_CHECKING:
    from ml_metadata.proto import metadata_store_pb2

    from pipelines.graph import Pipeline


def sqlite_path(metadata: Metadata) -> Path | None:
    if isinstance(metadata, PostgresMetadata):
        return None
    return Path(metadata.path) if metadata.path else lockgate_home() / "metadata.sqlite"


def connection_config(metadata: Metadata) -> metadata_store_pb2.ConnectionConfig:
    from ml_metadata.proto import metadata_store_pb2

    config = metadata_store_pb2.ConnectionConfig()
    if isinstance(metadata, PostgresMetadata):
        password = os.environ.get(metadata.password_env)
        if password is None:
            raise MetadataError(
                f"the PostgreSQL MLMD password is read from ${metadata.password_env}, which is "
                "not set; export it (passwords never live in the YAML)"
            )
        pg = config.postgresql
        pg.host = metadata.host
        pg.port = str(metadata.port)
        pg.dbname = metadata.database
        pg.user = metadata.user
        pg.password = password
        return config
    path = sqlite_path(metadata)
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    config.sqlite.filename_uri = str(path)
    sqlite_config = metadata_store_pb2.SqliteMetadataSourceConfig
    config.sqlite.connection_mode = sqlite_config.READWRITE_OPENCREATE
    return config


def missing_store(metadata: Metadata, pipeline_root: Path) -> str | None:
    """Why running would be wrong when the SQLite store is gone but ``pipeline_root`` still
    holds artifacts it recorded (deleted, or LOCKGATE_HOME pointing elsewhere); else None.
    A new store would run everything again beside them, with their lineage lost."""
    path = sqlite_path(metadata)
    if path is None or path.exists():
        return None
    published = next((p for p in sorted(pipeline_root.glob("*/*/[0-9]*")) if p.is_dir()), None)
    if published is None:
        return None
    return (f"the ML Metadata store {path} does not exist, but {pipeline_root} holds artifacts "
            f"an earlier store recorded (for example {published}). Restore {path} from a "
            f"backup to keep their lineage and cache; or, to start fresh, move {pipeline_root} "
            "aside first.")


def cannot_run(pipeline: Pipeline) -> str | None:
    """What stops any run of ``pipeline`` here before it writes anything, or None: a place it
    writes (its root, the home's run locks, the SQLite store) that is not writable, or a store
    gone while the root still holds what it recorded. A retry cannot fix either."""
    store = sqlite_path(pipeline.config.metadata)
    written = [pipeline.config.root, lockgate_home(), *([store.parent] if store else [])]
    return (not_writable(written)
            or missing_store(pipeline.config.metadata, pipeline.config.root))
