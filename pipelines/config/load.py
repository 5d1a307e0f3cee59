"""Load a config: read YAML, expand ``${VAR}``, validate, and report every problem at once."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError

from pipelines.component import ComponentSpec, Params
from pipelines.config.envsubst import expand
from pipelines.config.models import PipelineConfig, SqliteMetadata
from pipelines.config.yaml_source import KeyPath, dotted, line_of, load_with_lines
from pipelines.errors import ConfigError, ConfigIssue
from pipelines.home import lockgate_home


def parse_config(path: str | Path) -> PipelineConfig:
    """Validate the file against the config models only (no graph checks)."""
    file = Path(path)
    display = str(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError([ConfigIssue(display, None, "", f"cannot read config: {exc}")]) from exc
    raw, lines = load_with_lines(text, display)
    issues: list[ConfigIssue] = []

    def missing_env(key_path: KeyPath, name: str) -> None:
        issues.append(
            ConfigIssue(
                display,
                line_of(key_path, lines),
                dotted(key_path),
                f"environment variable {name} is not set; export it or write ${{{name}:-default}}",
            )
        )

    data = expand(raw, missing_env)
    if not isinstance(data, dict):
        issues.append(ConfigIssue(display, 1, "", "a config must be a mapping with `pipeline:` "
                                  "and `components:`"))
        raise ConfigError(issues)
    config: PipelineConfig | None = None
    try:
        config = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        issues.extend(_issues(exc, data, lines, display))
    # Components are checked even when the rest is wrong, so every problem shows at once.
    resolved = _resolve_components(data, lines, display, file.resolve().parent, issues)
    if issues or config is None:
        raise ConfigError(in_order(issues))
    entries = [entry.resolved(*found) for entry, found in zip(config.components, resolved,
                                                               strict=True)]
    config = config.model_copy(update={"components": entries})
    config._source = file.resolve()
    config._lines = lines
    outside = _outside_home(config)
    if outside:
        raise ConfigError(outside)
    return config


def _outside_home(config: PipelineConfig) -> list[ConfigIssue]:
    """Where the config writes (the pipeline root, the SQLite store) must stay inside
    LOCKGATE_HOME, symlinks and `..` resolved, unless the config allows it on purpose: a
    typo'd `${LOCKGATE_HOME}/../x` must not write beside the home unnoticed."""
    if config.pipeline.allow_outside_home:
        return []
    home = lockgate_home().resolve()
    written: list[tuple[KeyPath, Path]] = []
    if config.pipeline.root:
        written.append((("pipeline", "root"), config.root))
    if isinstance(config.metadata, SqliteMetadata) and config.metadata.path:
        written.append((("metadata", "path"), config.resolve_path(config.metadata.path)))
    return [issue_at(config, key, f"{path.resolve()} is outside LOCKGATE_HOME ({home}); keep "
                     "it inside, or set `pipeline.allow_outside_home: true` if that is meant")
            for key, path in written if not path.resolve().is_relative_to(home)]


def _resolve_components(
    data: dict[str, Any], lines: dict[KeyPath, int], file: str, config_dir: Path,
    issues: list[ConfigIssue],
) -> list[tuple[ComponentSpec, Params]]:
    """Each raw entry's spec, and its params validated by that spec's own model."""
    from pipelines.registry import ComponentNotFound, resolve

    raw_entries = data.get("components")
    found = []
    for index, raw in enumerate(raw_entries if isinstance(raw_entries, list) else []):
        if not isinstance(raw, dict) or not isinstance(raw.get("component"), str):
            continue  # the model's own validation reports it
        where: KeyPath = ("components", index)
        try:
            spec = resolve(raw["component"], config_dir)
        except ComponentNotFound as exc:
            issues.append(ConfigIssue(file, line_of((*where, "component"), lines),
                                      dotted((*where, "component")), str(exc)))
            continue
        params = raw.get("params")
        params = {} if params is None else params
        if not isinstance(params, dict):
            issues.append(ConfigIssue(file, line_of((*where, "params"), lines),
                                      dotted((*where, "params")),
                                      f"params must be a mapping of {spec.name}'s parameters"))
            continue
        try:
            found.append((spec, spec.params.model_validate(params)))
        except ValidationError as exc:
            issues.extend(_issues(exc, params, lines, file, root=spec.params,
                                  prefix=(*where, "params")))
    return found


def in_order(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    return sorted(issues, key=lambda i: (i.line or 0, i.key))


def issue_at(config: PipelineConfig, key_path: KeyPath, message: str) -> ConfigIssue:
    """A ``ConfigIssue`` for ``key_path`` in a loaded config, with its line when known."""
    line = line_of(key_path, config._lines)
    return ConfigIssue(str(config.source), line, dotted(key_path), message)


def _issues(
    exc: ValidationError, data: dict[str, Any], lines: dict[KeyPath, int], file: str,
    root: type[BaseModel] = PipelineConfig, prefix: KeyPath = (),
) -> list[ConfigIssue]:
    """One issue per pydantic error; ``data`` was validated by ``root``, found at ``prefix``."""
    issues = []
    for error in exc.errors():
        key_path, model = _data_path(error["loc"], data, root)
        key_path = (*prefix, *key_path)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key" + _hint(str(key_path[-1]), _fields(model))
            if model is not None and model is not PipelineConfig:
                message += f"; valid keys: {', '.join(_fields(model))}"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        issues.append(ConfigIssue(file, line_of(key_path, lines), dotted(key_path), message))
    return issues


def _data_path(
    loc: tuple[str | int, ...], data: Any, root: type[BaseModel]
) -> tuple[KeyPath, type[BaseModel] | None]:
    """Drop pydantic's union tags from ``loc`` and find the model the last key belongs to."""
    path: list[str | int] = []
    node: Any = data
    candidates: list[type[BaseModel]] = [root]
    owner: type[BaseModel] | None = None  # the model that declares the last key
    for part in loc:
        tagged = [c for c in candidates if _has_tag(c, part)]
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            path.append(part)
            node = node[part]
        elif tagged:
            candidates = tagged  # a discriminator tag, not a key in the file
        elif isinstance(part, str):
            owner = candidates[0] if len(candidates) == 1 else None
            field = owner.model_fields.get(part) if owner else None
            candidates = _models_in(field.annotation) if field else []
            path.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    return tuple(path), owner


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Every model class inside an annotation such as ``list[Union[A, B]] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _has_tag(model: type[BaseModel], part: str | int) -> bool:
    """Whether ``part`` is the value of a Literal discriminator field of ``model``."""
    for field in model.model_fields.values():
        if get_origin(field.annotation) is Literal and part in get_args(field.annotation):
            return True
    return False


def _fields(model: type[BaseModel] | None) -> list[str]:
    return list(model.model_fields) if model is not None else []


def _hint(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
