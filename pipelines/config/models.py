"""The config format, as frozen pydantic models. ``configs/config.schema.json`` is generated
from these (``lockgate schema``), so editors autocomplete exactly what the loader accepts."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, create_model, field_validator

from pipelines.component import NAME_PATTERN, ComponentSpec, Params, config_path
from pipelines.home import lockgate_home

# No runner or DirectRunner mode given: each execution picks the mode that measured fastest
# for its data's size (pipelines/beam_mode.py).
DEFAULT_BEAM_ARGS: list[str] = []


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PipelineSection(Section):
    name: str = Field(pattern=NAME_PATTERN, description="Pipeline name; also the DAG id.")
    description: str = ""
    root: str | None = Field(
        None,
        description="Where artifacts are written; defaults to $LOCKGATE_HOME/pipelines/<name>.",
    )
    allow_outside_home: bool = Field(
        False,
        description="Let pipeline.root and the SQLite store lie outside $LOCKGATE_HOME (a shared "
        "volume, say). Off, a path that leaves the home is refused at its line.",
    )


class SqliteMetadata(Section):
    kind: Literal["sqlite"] = "sqlite"
    path: str | None = Field(None, description="Defaults to $LOCKGATE_HOME/metadata.sqlite.")


class PostgresMetadata(Section):
    kind: Literal["postgresql"]
    host: str = "localhost"
    port: int = Field(5432, gt=0, lt=65536)
    database: str = "lockgate_mlmd"
    user: str = "lockgate"
    password_env: str = Field(
        "LOCKGATE_MLMD_PASSWORD",
        description="Environment variable holding the password. Passwords never live in YAML.",
    )


Metadata = Annotated[SqliteMetadata | PostgresMetadata, Field(discriminator="kind")]
METADATA_KINDS: dict[str, type[Section]] = {"sqlite": SqliteMetadata,
                                            "postgresql": PostgresMetadata}


def _fields_of_kind(value: Any) -> Any:
    """Drop the keys that belong only to the other kind, so one ``metadata:`` section can name
    both stores' settings and ``kind: ${LOCKGATE_MLMD_KIND:-sqlite}`` picks one from the
    environment. A key of neither kind stays, and is refused as unknown."""
    if not isinstance(value, dict) or value.get("kind", "sqlite") not in METADATA_KINDS:
        return value
    mine = set(METADATA_KINDS[value.get("kind", "sqlite")].model_fields)
    every = {name for kind in METADATA_KINDS.values() for name in kind.model_fields}
    return {key: v for key, v in value.items() if key in mine or key not in every}


class AirflowSection(Section):
    schedule: str | None = Field(None, description="Cron or preset such as @daily; none = manual.")
    start_date: date = date(2024, 1, 1)
    catchup: bool = False
    retries: int = Field(1, ge=0)
    retry_delay_seconds: int = Field(60, ge=0)
    owner: str = "lockgate"
    tags: list[str] = Field(default_factory=list)
    max_active_runs: int = Field(1, ge=1)
    span: Literal["latest", "data_interval"] = Field(
        "latest",
        description="Which span a DAG run reads: the newest there is, or the one named by the "
        "day its data interval starts (an ExampleGen input with {YYYY}{MM}{DD}); with "
        "data_interval, a backfill reads one day per run and a missing day fails, to be retried.",
    )


class ComponentEntry(BaseModel):
    """One entry of ``components:``. The loader resolves ``component`` to its spec and validates
    ``params`` with the spec's own params model (``pipelines.config.load``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    component: str = Field(
        description="A registered component (ExampleGen, Trainer, ...) or the import path of "
        "one of your own, 'package.module:name', searched for beside the config first."
    )
    name: str | None = Field(
        None, pattern=NAME_PATTERN,
        description="Node id; defaults to the component's name in snake_case.",
    )
    inputs: dict[str, str] = Field(
        default_factory=dict,
        description="Explicit wiring, input name to '<node>.<output>'. By default each input "
        "takes the nearest upstream output of its type.",
    )
    cache: bool | None = Field(None, description="Overrides the pipeline's `cache`.")
    # A mapping as written until the loader validates it into the component's params model.
    params: Any = Field(default_factory=dict)

    _spec: ComponentSpec | None = PrivateAttr(default=None)

    @property
    def spec(self) -> ComponentSpec:
        if self._spec is None:
            raise RuntimeError(f"component '{self.component}' was not resolved; load the "
                               "config with pipelines.loading.load_config")
        return self._spec

    @property
    def node_id(self) -> str:
        return self.name or snake_case(self._spec.name if self._spec else self.component)

    def resolved(self, spec: ComponentSpec, params: Params) -> ComponentEntry:
        """This entry with its spec and its validated params."""
        entry = self.model_copy(update={"params": params})
        entry._spec = spec
        return entry


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class PipelineConfig(BaseModel):
    """A whole pipeline config. ``source`` is the file it was loaded from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pipeline: PipelineSection
    metadata: Metadata = Field(default_factory=SqliteMetadata)
    beam_args: list[str] = Field(
        default_factory=lambda: list(DEFAULT_BEAM_ARGS),
        description="Apache Beam pipeline options, e.g. --runner=FlinkRunner. Without a "
        "runner or --direct_running_mode, the DirectRunner's mode is chosen by the data's size.",
    )
    cache: bool = True
    airflow: AirflowSection = Field(default_factory=AirflowSection)
    components: list[ComponentEntry] = Field(min_length=1)

    _metadata_of_kind = field_validator("metadata", mode="before")(_fields_of_kind)

    _source: Path = PrivateAttr(default=Path("<memory>"))
    # Line of every key path in the source file, for errors found after validation.
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> Path:
        return self._source

    @property
    def name(self) -> str:
        return self.pipeline.name

    @property
    def config_dir(self) -> Path:
        return self._source.parent

    @property
    def root(self) -> Path:
        if self.pipeline.root:
            return self.resolve_path(self.pipeline.root)
        return lockgate_home() / "pipelines" / self.pipeline.name

    def resolve_path(self, value: str) -> Path:
        return config_path(self.config_dir, value)

    def entry(self, node_id: str) -> ComponentEntry:
        for entry in self.components:
            if entry.node_id == node_id:
                return entry
        raise KeyError(node_id)

    def where(self, node_id: str) -> str | None:
        """``file:line`` of the node's entry in the config, when the config came from a file."""
        for index, entry in enumerate(self.components):
            line = self._lines.get(("components", index))
            if entry.node_id == node_id and line:
                return f"{self.source}:{line}"
        return None


def json_schema() -> dict[str, Any]:
    """The config's JSON Schema, with each registered component's entry typed exactly and any
    other entry accepted as an import path with free-form params."""
    from pipelines.registry import registered, spec_for

    entries = [_entry_model(name, spec_for(name).params) for name in sorted(registered())]
    entries.append(create_model(
        "ImportPathEntry", __base__=ComponentEntry,
        component=(str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
                              description="package.module:name of your own component")),
        params=(dict[str, Any], Field(default_factory=dict)),
    ))
    entry_union: Any = Union[tuple(entries)]  # noqa: UP007  (built at runtime)
    schema_model = create_model(
        "PipelineConfigSchema", __base__=PipelineConfig,
        components=(list[entry_union], Field(min_length=1)),
    )
    schema = schema_model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Lockgate pipeline config"
    return schema


def _entry_model(component: str, params: type[Params]) -> type[ComponentEntry]:
    """``ComponentEntry`` with ``component`` fixed to one name and ``params`` typed for it."""
    fields: dict[str, Any] = {
        "component": (Literal[component], ...),
        "params": (params, Field(default_factory=params)) if _all_defaults(params)
        else (params, ...),
    }
    return create_model(f"{component}Entry", __base__=ComponentEntry, **fields)


def _all_defaults(params: type[Params]) -> bool:
    return all(not f.is_required() for f in params.model_fields.values())
