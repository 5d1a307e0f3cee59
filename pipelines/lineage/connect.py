"""Open ML Metadata for a query, from a config's ``metadata:`` mapping, without the config
models: importing pydantic and the component API costs more than most queries take.

The connection is the one ``pipelines.metadata.connection`` makes for a run; the difference is
that a query never creates a store: a missing SQLite file means nothing has run there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pipelines.errors import LockgateError, MetadataError
from pipelines.home import lockgate_home
from pipelines.metadata import unusable_store  # importing it quiets MLMD's connection logs


class Store(Protocol):
    """What the queries use of a store; ``LineageStore`` has it too."""

    mlmd: Any
    pb: Any


@dataclass
class OpenStore:
    mlmd: Any
    pb: Any


class NoStore(LockgateError):
    """There is no ML Metadata where the config says: nothing has run there yet."""

    exit_code = 2


def open_store(section: Mapping[str, Any] | None) -> OpenStore:
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

    section = section or {}
    config = pb.ConnectionConfig()
    if section.get("kind") == "postgresql":
        env = str(section.get("password_env", "LOCKGATE_MLMD_PASSWORD"))
        password = os.environ.get(env)
        if password is None:
            raise MetadataError(f"the PostgreSQL MLMD password is read from ${env}, which is "
                                "not set; export it")
        config.postgresql.host = str(section.get("host", "localhost"))
        config.postgresql.port = str(section.get("port", 5432))
        config.postgresql.dbname = str(section.get("database", "lockgate_mlmd"))
        config.postgresql.user = str(section.get("user", "lockgate"))
        config.postgresql.password = password
    else:
        path = Path(str(section.get("path") or lockgate_home() / "metadata.sqlite"))
        if not path.is_file():
            raise NoStore(f"no ML Metadata at {path}: nothing has run there yet (set "
                          "LOCKGATE_HOME, or name the config)")
        config.sqlite.filename_uri = str(path)
        config.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE
    try:
        return OpenStore(metadata_store.MetadataStore(config), pb)
    except Exception as exc:
        sqlite = config.WhichOneof("config") == "sqlite"
        where = (config.sqlite.filename_uri if sqlite else
                 f"postgresql://{config.postgresql.host}:{config.postgresql.port}")
        raise MetadataError(unusable_store(where, exc, sqlite)) from exc
