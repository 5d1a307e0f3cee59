"""The lineage queries on one real two-span penguin run (TensorFlow, TFDV, TFT, TFMA), shared
by every test here: ``runs``, ``show``, ``lineage serving`` and ``lineage impact``, and the
console's gate lines. The serving checks after the Pusher are dropped, as in
tests/e2e/test_gates.py; the change threshold is loosened so that span 2's model is blessed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.cli import main
from pipelines.fingerprint import fingerprint_paths
from tests.e2e.configs import REPO, component, config_variant
from tests.e2e.test_gates import SERVING_CHECKS, resampled, write_span

pytestmark = pytest.mark.e2e


class Run:
    def __init__(self, config: Path, data: Path, output: str) -> None:
        self.config, self.data, self.output = config, data, output

    def json(self, capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
        capsys.readouterr()
        assert main([*argv, "--json"]) == 0
        return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def two_spans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    base = tmp_path_factory.mktemp("lineage-e2e")
    home, data = base / "home", base / "data"
    write_span(data, 1, resampled(1))
    write_span(data, 2, resampled(2))

    def edit(config: dict[str, Any]) -> None:
        config["components"] = [c for c in config["components"]
                                if c["component"] not in SERVING_CHECKS]
        # Absolute, so queries by config path find this store whatever LOCKGATE_HOME is.
        config["pipeline"]["root"] = str(home / "pipelines" / "penguin")
        config["metadata"] = {"kind": "sqlite", "path": str(home / "metadata.sqlite")}
        component(config, "ExampleGen")["params"]["input"] = str(
            data / "span-{SPAN}" / "penguins.csv")
        evaluator = component(config, "Evaluator")["params"]
        evaluator["metrics"][0]["threshold"]["change"]["absolute"] = -1.0
        component(config, "Pusher")["params"]["destination"] = str(home / "serving")

    (base / "cfg").mkdir()
    config = config_variant(base / "cfg", edit)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCKGATE_HOME", str(home))
        capture = base / "out.txt"
        import contextlib
        import io

        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = main(["run", str(config), "--spans", "1..2", "--run-id", "e2e"])
        capture.write_text(buffer.getvalue())
        assert code == 0, buffer.getvalue()
        yield Run(config, data, buffer.getvalue())


def test_the_console_prints_the_verdict_and_the_push(two_spans: Run) -> None:
    out = " ".join(two_spans.output.split())
    assert "evaluator: blessed: sparse_categorical_accuracy" in out
    assert ">= 0.6" in out and "vs model" in out  # span 2: the change against span 1's model
    assert "pusher: pushed penguin version 1" in out
    assert "pusher: pushed penguin version 2" in out


def test_runs_lists_both_spans(two_spans: Run, capsys: pytest.CaptureFixture[str]) -> None:
    runs = two_spans.json(capsys, "runs", str(two_spans.config))
    assert [(r["run_id"], r["status"], r["spans"], r["pushed"]) for r in runs] == [
        ("e2e-span-2", "ok", [2], "penguin version 2"),
        ("e2e-span-1", "ok", [1], "penguin version 1")]


def test_show_has_the_thresholds_anomalies_reports_and_config(
    two_spans: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    detail = two_spans.json(capsys, "show", "e2e-span-2", "--pipeline", str(two_spans.config))
    nodes = {n["node_id"]: n for n in detail["nodes"]}
    assert set(nodes) >= {"example_gen", "trainer", "evaluator", "pusher"}
    assert all(n["outcome"] == "complete" for n in nodes.values())
    [blessing] = detail["blessings"]
    checks = blessing["verdict"]["checks"]
    assert [(c["kind"], c["bound"], c["passed"]) for c in checks] == [
        ("lower", 0.6, True), ("change", -1.0, True)]
    assert checks[0]["value"] > 0.6
    [anomalies] = detail["anomalies"]
    assert anomalies["errors"] == 0
    reports = nodes["example_validator"]["reports"]
    assert any(r.endswith("report.html") and Path(r).is_file() for r in reports)
    snapshot = Path(detail["config"]["config_snapshot"])
    assert snapshot.is_file() and str(two_spans.data) in snapshot.read_text()
    pages = [Path(p) for p in detail["pages"]]  # `lockgate run` wrote them
    assert pages[0].name == "index.html" and all(p.is_file() for p in pages)
    assert {"statistics", "evaluation", "lineage"} <= {p.name.split("-")[0] for p in pages}


def test_serving_names_span_2_files_schema_code_config_and_metrics(
    two_spans: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    found = two_spans.json(capsys, "lineage", "serving", str(two_spans.config))
    assert found["serving"]["version"] == 2
    [data] = found["data"]
    csv = two_spans.data / "span-2" / "penguins.csv"
    assert data["span"] == 2
    assert data["files"] == [{"path": str(csv), "fingerprint": fingerprint_paths([csv])}]
    assert sum(data["split_rows"].values()) == len(csv.read_text().splitlines()) - 1
    [schema] = found["schema"]
    assert schema["fingerprint"] and Path(schema["path"]).is_file()
    code = {Path(c["path"]).name: c for c in found["code"]}
    assert {"preprocessing.py", "model.py"} <= set(code)
    model_py = REPO / "examples" / "penguin" / "model.py"
    assert code["model.py"]["fingerprint"] == fingerprint_paths([model_py.resolve()])
    assert code["model.py"]["nodes"] == ["trainer"]
    config = found["config"]
    assert config["intact"]
    assert hashlib.sha256(Path(config["path"]).read_bytes()).hexdigest() == config["hash"]
    metrics = found["evaluation"]["metrics"]
    assert 0.6 < metrics["sparse_categorical_accuracy"]["value"] <= 1.0
    assert found["evaluation"]["baseline_model_id"] is not None
    versions = {e["component"]: e["component_version"] for e in found["executions"]}
    assert {"ExampleGen", "Transform", "Trainer"} <= set(versions)
    assert found["anomalies"] and found["anomalies"][0]["errors"] == 0
    assert main(["lineage", "serving", str(two_spans.config)]) == 0
    assert fingerprint_paths([csv]) in capsys.readouterr().out


def test_impact_of_span_1_lists_its_model_and_that_it_is_not_serving(
    two_spans: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    serving = two_spans.json(capsys, "lineage", "serving", str(two_spans.config))
    found = two_spans.json(capsys, "lineage", "impact", str(two_spans.config), "--span", "1")
    [model] = found["models"]
    assert model["properties"]["span"] == 1 and model["serving"] is False
    assert model["id"] != serving["model"]["id"]
    assert [p["properties"]["version"] for p in found["pushed"]] == [1]
    assert found["serving"]["penguin"]["version"] == 2
    assert any(c["execution"]["node_id"] == "evaluator" for c in found["comparisons"])
    span_2 = two_spans.json(capsys, "lineage", "impact", str(two_spans.config), "--span", "2")
    assert [(m["id"], m["serving"]) for m in span_2["models"]] == [
        (serving["model"]["id"], True)]
