"""Variants of the shipped configs for e2e tests, written to a temp dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
PATH_PARAMS = ("input", "schema_file", "module_file")


class _NoAliases(yaml.SafeDumper):
    """Writes a value an edit shares between two places twice: configs refuse YAML aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def config_variant(
    tmp_dir: Path,
    edit: Callable[[dict[str, Any]], None] = lambda config: None,
    source: str = "penguin",
    name: str | None = None,
) -> Path:
    """Copy ``configs/<source>.yaml`` into ``tmp_dir`` with its relative paths made absolute,
    after ``edit`` has changed the parsed YAML in place."""
    config_dir = REPO / "configs"
    config = yaml.safe_load((config_dir / f"{source}.yaml").read_text())
    for entry in config["components"]:
        params = entry.get("params", {})
        for key in PATH_PARAMS:
            if key in params and not params[key].startswith(("/", "$")):
                params[key] = str((config_dir / params[key]).resolve())
    edit(config)
    path = tmp_dir / f"{name or source}.yaml"
    path.write_text(yaml.dump(config, Dumper=_NoAliases, sort_keys=False))
    return path


def component(config: dict[str, Any], name: str) -> dict[str, Any]:
    """The first entry of component type ``name``."""
    return next(e for e in config["components"] if e["component"] == name)
