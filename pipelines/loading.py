"""Load a config and check it whole: its models, its graph, and what each component checks.

``pipelines.config`` validates a file against the models; the graph needs a parsed config; and
a spec's ``checks`` need the graph (what is wired to each input). This module comes after both,
so neither imports the other in a cycle. ``lockgate validate`` and every run go through here;
the Airflow DAG processor does not (it parses configs and builds graphs only).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from pipelines.component import CheckContext, Finding, load_callable
from pipelines.config.load import in_order, issue_at, parse_config
from pipelines.config.models import PipelineConfig
from pipelines.errors import ConfigError, ConfigIssue
from pipelines.graph import Pipeline, build_pipeline


def load_config(path: str | Path, *, require_data: bool = False) -> PipelineConfig:
    """Return the validated config at ``path`` or raise ``ConfigError`` listing every issue.

    Data the config names but that is not there yet (ExampleGen's input) is an issue only with
    ``require_data``, as before a run: data may arrive after the config is written.
    """
    return check_config(path, require_data=require_data)[0]


def check_config(
    path: str | Path, *, require_data: bool = False
) -> tuple[PipelineConfig, list[ConfigIssue]]:
    """The validated config and its warnings (missing data, unless ``require_data`` makes
    those errors); raises ``ConfigError`` listing every error."""
    config = parse_config(path)
    pipeline = build_pipeline(config)
    found = [*_user_code_missing(config), *_component_checks(pipeline, require_data)]
    errors = [issue for issue in found if not issue.warning]
    if errors:
        raise ConfigError(in_order(errors))
    return config, in_order(found)


def _user_code_missing(config: PipelineConfig) -> Iterable[ConfigIssue]:
    """Every param a spec names as user code must point at a file that exists."""
    for index, entry in enumerate(config.components):
        for name in entry.spec.user_code_params:
            value = getattr(entry.params, name, None)
            if value and not config.resolve_path(str(value)).exists():
                yield issue_at(config, ("components", index, "params", name),
                               f"{config.resolve_path(str(value))} does not exist (relative "
                               "paths are relative to the config's folder)")


def _component_checks(pipeline: Pipeline, require_data: bool) -> Iterable[ConfigIssue]:
    """The ``checks`` of each node's spec, placed at the lines of the params they are about;
    data findings are warnings unless ``require_data``."""
    config = pipeline.config
    for index, entry in enumerate(config.components):
        node = pipeline.nodes[entry.node_id]
        if node.spec.checks is None:
            continue
        checks = node.spec.checks
        check = load_callable(checks) if isinstance(checks, str) else checks
        upstream = {
            channel.name: (pipeline.nodes[channel.producer].spec,
                           pipeline.nodes[channel.producer].entry.params)
            for channel in node.channels if channel.producer
        }
        context = CheckContext(config.config_dir, node.id, upstream,
                               config.pipeline.allow_outside_home)
        for found in check(entry.params, context):
            finding = Finding(*found)
            issue = issue_at(config, ("components", index, "params", *finding.key_path),
                             finding.message)
            yield dataclasses.replace(issue, warning=finding.data and not require_data)
