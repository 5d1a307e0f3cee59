"""Turn the config's ``metadata:`` section into an MLMD ``ConnectionConfig``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.config.models import Metadata, PostgresMetadata
from pipelines.errors import MetadataError
from pipelines.home import lockgate_home

if TYPE_CHECKING:
    from ml_metadata.proto import metadata_store_pb2


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
