"""``lockgate lineage serving`` and ``impact`` on a recorded penguin lineage (real MLMD, real
serving directory, no TensorFlow): two spans, both blessed and pushed, then a refused third."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.component import Artifact
from pipelines.lineage.graph import Records
from pipelines.lineage.serving import serving_lineage
from pipelines.lineage.target import NotFound
from pipelines.lineage.walk import impact, starts_for
from tests.pipelines.lineage.records import Penguin


@pytest.fixture
def penguin(lockgate_home: Path, tmp_path: Path) -> tuple[Penguin, list[Artifact]]:
    lineage = Penguin()
    models = [lineage.run("r1", 1, tmp_path / "data", 0.95),
              lineage.run("r2", 2, tmp_path / "data", 0.97),
              lineage.run("r3", 3, tmp_path / "data", 0.4, blessed=False)]
    return lineage, models


def test_serving_names_the_data_code_evaluation_and_baseline(
    penguin: tuple[Penguin, list[Artifact]], tmp_path: Path
) -> None:
    lineage, [first, second, _] = penguin
    found = serving_lineage(Records(lineage.store), "penguin")
    assert found["serving"]["version"] == 2 and found["serving"]["serving_now"]
    assert found["model"]["id"] == second.id
    [data] = found["data"]
    csv = str(tmp_path / "data" / "span-2.csv")
    assert data["span"] == 2 and data["files"] == [{"path": csv, "fingerprint": "file-fp-2"}]
    assert data["split_rows"] == {"train": 4, "eval": 2}
    assert found["code"] == [{"path": "/src/model.py", "fingerprint": "code-2",
                              "nodes": ["trainer"]}]
    assert {e["component_version"] for e in found["executions"]} == {"7"}
    evaluation = found["evaluation"]
    assert evaluation["baseline_model_id"] == first.id
    assert evaluation["metrics"]["sparse_categorical_accuracy"]["value"] == 0.97
    assert evaluation["verdict"]["line"] == (
        f"blessed: sparse_categorical_accuracy 0.97 >= 0.6; sparse_categorical_accuracy "
        f"+0.07 vs model {first.id} (>= -0.5)")


def test_serving_an_older_version_and_a_missing_one(
    penguin: tuple[Penguin, list[Artifact]]
) -> None:
    lineage, [first, *_] = penguin
    found = serving_lineage(Records(lineage.store), "penguin", version=1)
    assert found["model"]["id"] == first.id and not found["serving"]["serving_now"]
    assert found["data"][0]["span"] == 1
    assert found["evaluation"]["baseline_model_id"] is None
    with pytest.raises(NotFound, match="serves versions 1, 2"):
        serving_lineage(Records(lineage.store), "penguin", version=9)
    with pytest.raises(NotFound, match="pushed no model"):
        serving_lineage(Records(lineage.store), "other")


def test_impact_of_span_1_lists_its_model_push_and_the_comparisons(
    penguin: tuple[Penguin, list[Artifact]]
) -> None:
    lineage, [first, second, third] = penguin
    records = Records(lineage.store)
    found = impact(records, starts_for(records, "penguin", span=1))
    assert [m.id for m in found.models()] == [first.id]  # not span 2's, which compared with it
    report = found.to_json()
    assert [m["serving"] for m in report["models"]] == [False]
    assert [p["properties"]["version"] for p in report["pushed"]] == [1]
    assert found.serving["penguin"]["version"] == 2
    assert {e.node_id for e, a in found.comparisons} == {"evaluator"}
    assert {a.id for _, a in found.comparisons} == {first.id}
    span_2 = impact(records, starts_for(records, "penguin", span=2))
    assert [(m["id"], m["serving"]) for m in span_2.to_json()["models"]] == [(second.id, True)]
    assert third.id not in {m.id for m in span_2.models()}
    with pytest.raises(NotFound, match="spans read: 1, 2, 3"):
        starts_for(records, "penguin", span=7)


def test_impact_of_a_file_and_of_an_artifact(
    penguin: tuple[Penguin, list[Artifact]], tmp_path: Path
) -> None:
    lineage, [_, second, _] = penguin
    records = Records(lineage.store)
    [start] = starts_for(records, "penguin", file=str(tmp_path / "data" / "span-2.csv"))
    assert start.properties["span"] == 2
    by_id = impact(records, starts_for(records, "penguin", artifact=second.id))
    assert {a.type for a in by_id.artifacts} >= {"ModelBlessing", "PushedModel"}


def test_the_lineage_commands_print_text_and_json(
    penguin: tuple[Penguin, list[Artifact]], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, [first, second, _] = penguin
    assert main(["lineage", "serving", "penguin"]) == 0
    out = capsys.readouterr().out
    assert f"penguin version 2 (serving now) holds model {second.id}" in out
    assert "file-fp-2" in out and "baseline: model" in out
    assert main(["lineage", "impact", "penguin", "--span", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [m["id"] for m in report["models"]] == [first.id]
    assert main(["lineage", "impact", "penguin", "--span", "1"]) == 0
    assert "serving now: penguin version 2" in capsys.readouterr().out
    assert main(["lineage", str(second.id), "--depth", "3"]) == 0
    out = capsys.readouterr().out
    assert "<- Trainer trainer" in out and "-> Pusher pusher" in out
    assert main(["lineage", str(second.id), "--json"]) == 0
    tree = json.loads(capsys.readouterr().out)
    assert tree["upstream"]["executions"][0]["component"] == "Trainer"
    assert main(["lineage", "impact", "penguin"]) == 2
    assert main(["lineage", "nonsense"]) == 2


def test_serving_lists_an_override_of_its_gates(penguin: tuple[Penguin, list[Artifact]]) -> None:
    from pipelines.overrides import record_override

    lineage, [_, second, _] = penguin
    [blessing] = [b for b in lineage.store.artifacts_in(
        lineage.store.context("pipeline", "penguin"), "ModelBlessing")
        if b.properties.get("model_id") == second.id]
    execution, _ = record_override(lineage.store, "penguin", lineage.root, kind="baseline-set",
                                   by="ana", reason="compare with what serves",
                                   inputs={"model": [second]}, outputs={})
    found = serving_lineage(Records(lineage.store), "penguin")
    [override] = found["overrides"]
    assert (override["id"], override["kind"], override["by"]) == (execution, "baseline-set", "ana")
    assert found["evaluation"]["blessing_id"] == blessing.id
