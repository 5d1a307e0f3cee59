"""Load a config: read YAML, expand ``${VAR}``, validate, and report every problem at once."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError

from components import REGISTRY
from pipelines.config.envsubst import expand
from pipelines.config.models import PipelineConfig
from pipelines.config.yaml_source import KeyPath, line_of, load_with_lines
from pipelines.errors import ConfigError, ConfigIssue


def load_config(path: str | Path) -> PipelineConfig:
    """Return the validated config at ``path`` or raise ``ConfigError`` listing every issue."""
    from pipelines.graph import build_pipeline  # the graph checks are part of validity

    config = parse_config(path)
    build_pipeline(config)
    return config


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
    try:
        config = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        issues.extend(_issues(exc, data, lines, display))
        raise ConfigError(sorted(issues, key=lambda i: (i.line or 0, i.key))) from None
    if issues:
        raise ConfigError(issues)
    config._source = file.resolve()
    config._lines = lines
    return config


def issue_at(config: PipelineConfig, key_path: KeyPath, message: str) -> ConfigIssue:
    """A ``ConfigIssue`` for ``key_path`` in a loaded config, with its line when known."""
    line = line_of(key_path, config._lines)
    return ConfigIssue(str(config.source), line, dotted(key_path), message)


def dotted(key_path: Iterable[str | int]) -> str:
    out = ""
    for part in key_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _issues(
    exc: ValidationError, data: dict[str, Any], lines: dict[KeyPath, int], file: str
) -> list[ConfigIssue]:
    issues = []
    for error in exc.errors():
        key_path, model = _data_path(error["loc"], data)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key" + _hint(str(key_path[-1]), _fields(model))
        elif error["type"] == "union_tag_invalid":
            given = str(error.get("input", {}).get("component", "")) if isinstance(
                error.get("input"), dict) else ""
            key_path = (*key_path, "component")
            message = f"unknown component '{given}'" + _hint(given, REGISTRY) + (
                f"; valid components: {', '.join(REGISTRY)}"
            )
        elif error["type"] == "union_tag_not_found":
            key_path = (*key_path, "component")
            message = f"missing `component:`; valid components: {', '.join(REGISTRY)}"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        issues.append(ConfigIssue(file, line_of(key_path, lines), dotted(key_path), message))
    return issues


def _data_path(
    loc: tuple[str | int, ...], data: Any
) -> tuple[KeyPath, type[BaseModel] | None]:
    """Drop pydantic's union tags from ``loc`` and find the model the last key belongs to."""
    path: list[str | int] = []
    node: Any = data
    candidates: list[type[BaseModel]] = [PipelineConfig]
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
