"""The shipped pupdates pipeline end to end on the real libraries, from generated data.

The Pooch Predictor's story: a good model is blessed and pushed; the buggy model (negative likes
outside the US) is refused by the Evaluator's per-country slice, and nothing is pushed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.fingerprint import fingerprint_dir, fingerprint_paths
from pipelines.loading import load_config
from pipelines.metadata.store import LineageStore
from tests.e2e.configs import REPO, component, config_variant

pytestmark = pytest.mark.e2e
PUPDATES = REPO / "configs" / "pupdates.yaml"


@pytest.fixture(scope="module")
def lockgate_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("pupdates-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCKGATE_HOME", str(home))
        # Two daily spans with a few malformed rows, within the config's 1% quarantine.
        assert main(["datagen", "pupdates", "--rows", "3000", "--spans", "2",
                     "--bad-row-fraction", "0.004",
                     "--out", str(home / "data" / "pupdates")]) == 0
        yield home


@pytest.fixture(scope="module")
def store(lockgate_home: Path) -> LineageStore:
    return LineageStore(load_config(PUPDATES).metadata)


@pytest.fixture(scope="module")
def green_run(lockgate_home: Path) -> str:
    assert main(["run", str(PUPDATES), "--run-id", "green"]) == 0
    return "green"


def test_shipped_pupdates_runs_green_and_pushes(green_run: str, store: LineageStore,
                                                lockgate_home: Path) -> None:
    executions = store.run_executions("pupdates", green_run)
    assert len(executions) == 8 and {e.state for e in executions} == {"COMPLETE"}
    assert {e.outcome for e in executions} == {"complete"}
    [examples] = store.outputs_of(executions[0].id)["examples"]
    assert examples.properties["span"] == 2  # the latest of spans 1 and 2
    assert examples.properties["bad_rows"] > 0
    assert Path(examples.uri, examples.properties["quarantine"]).is_file()
    assert sorted(p.name for p in (lockgate_home / "serving" / "pupdates").iterdir()) == ["1"]


def test_lineage_of_the_serving_model_names_span_2(green_run: str, lockgate_home: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """`lockgate lineage serving pupdates`: span 2's files with their fingerprints, the schema
    hash, the code hashes, the config snapshot and the evaluation metrics."""
    capsys.readouterr()
    assert main(["lineage", "serving", "pupdates", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    [data] = found["data"]
    posts = lockgate_home / "data" / "pupdates" / "span-2" / "posts.csv"
    assert data["span"] == 2
    assert data["files"] == [{"path": str(posts), "fingerprint": fingerprint_paths([posts])}]
    [schema] = found["schema"]
    assert schema["fingerprint"] == fingerprint_paths([Path(schema["path"])])
    code = {Path(c["path"]).name: c["fingerprint"] for c in found["code"]}
    model_py = REPO / "examples" / "pupdates" / "model.py"
    assert code["model.py"] == fingerprint_paths([model_py.resolve()])
    assert "preprocessing.py" in code
    config = found["config"]
    assert config["intact"] and Path(config["path"]).is_file()
    assert found["evaluation"]["metrics"]


def test_pooch_bug_is_not_blessed_and_not_pushed(green_run: str, store: LineageStore,
                                                 lockgate_home: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    def pooch_bug(config: dict) -> None:  # type: ignore[type-arg]
        component(config, "Trainer")["params"]["hyperparameters"]["pooch_bug"] = True

    served = fingerprint_dir(lockgate_home / "serving")
    capsys.readouterr()
    config = config_variant(tmp_path, pooch_bug, source="pupdates")
    assert main(["run", str(config), "--run-id", "pooch"]) == 0
    out = capsys.readouterr().out
    assert "not blessed" in out.lower() and "mean_prediction" in out
    executions = {e.node_id: e for e in store.run_executions("pupdates", "pooch")}
    assert executions["trainer"].state == "COMPLETE"  # a new model was trained, and refused
    assert executions["pusher"].outcome == "skipped"
    assert fingerprint_dir(lockgate_home / "serving") == served
    [blessing] = store.outputs_of(executions["evaluator"].id)["blessing"]
    failures = json.loads(Path(blessing.uri, "blessing.json").read_text())["failures"]
    negative = [f for f in failures if f["metric"] == "mean_prediction"]
    assert negative and all(f["value"] < 0 for f in negative)
    assert any(f["slice"].startswith("country=") and f["slice"] != "country=US"
               for f in negative)
    # The evaluation page shows the refusal: every failed threshold as a FAIL row.
    index = Path(next(w for w in out.split() if w.endswith("index.html")))
    [page] = index.parent.glob("evaluation-*.html")
    html = page.read_text()
    assert 'id="verdict">NOT BLESSED<' in html
    thresholds = html[html.index('id="thresholds"'):]
    thresholds = thresholds[:thresholds.index("</table>")]
    failed_rows = [row for row in thresholds.split("<tr>") if 'data-status="fail"' in row]
    assert len(failed_rows) == len(failures)
    for failure in negative:
        assert any(f"<td>{failure['slice']}</td>" in row and "mean_prediction" in row
                   for row in failed_rows), failure
