"""The lineage commands, behind ``pipelines/cli.py``: open the store, query, print."""

from __future__ import annotations

import json
from typing import Any

from pipelines.lineage import render
from pipelines.lineage.graph import Records
from pipelines.lineage.runs import list_runs, show_run
from pipelines.lineage.serving import serving_lineage
from pipelines.lineage.target import Target, target
from pipelines.lineage.walk import downstream, impact, starts_for, upstream


def runs(config_or_pipeline: str | None, limit: int, as_json: bool) -> int:
    where = target(config_or_pipeline)
    found = list_runs(where.store(), where.pipeline, limit)
    _print([r.to_json() for r in found] if as_json else render.runs_table(found), as_json)
    return 0


def show(run_id: str, config_or_pipeline: str | None, as_json: bool) -> int:
    where = target(config_or_pipeline)
    detail = show_run(where.store(), run_id, where.pipeline)
    _print(detail.to_json() if as_json else render.run_detail(detail), as_json)
    return 0


def serving(config_or_pipeline: str, model: str | None, version: int | None,
            as_json: bool) -> int:
    where = _named(config_or_pipeline)
    assert where.pipeline is not None
    found = serving_lineage(Records(where.store()), where.pipeline, model, version)
    if not as_json:
        found = {k: v for k, v in found.items() if k != "artifacts"}
    _print(found if as_json else render.serving(found), as_json)
    return 0


def impact_of(config_or_pipeline: str, span: int | None, artifact: int | None,
              file: str | None, as_json: bool) -> int:
    where = _named(config_or_pipeline)
    records = Records(where.store())
    found = impact(records, starts_for(records, where.pipeline, span=span, artifact=artifact,
                                       file=file))
    _print(found.to_json() if as_json else render.impact(found), as_json)
    return 0


def artifact(artifact_id: int, config_or_pipeline: str | None, depth: int,
             as_json: bool) -> int:
    where = target(config_or_pipeline)
    records = Records(where.store())
    up, down = upstream(records, artifact_id, depth), downstream(records, artifact_id, depth)
    if as_json:
        _print({"artifact": up.artifact.to_json(), "upstream": up.to_json(),
                "downstream": down.to_json()}, True)
    else:
        _print(f"upstream:\n{render.tree(up, 'upstream')}\n\ndownstream:\n"
               f"{render.tree(down, 'downstream')}", False)
    return 0


def _named(config_or_pipeline: str) -> Target:
    return target(config_or_pipeline)


def _print(value: Any, as_json: bool) -> None:
    print(json.dumps(value, indent=2, default=str) if as_json else value)
