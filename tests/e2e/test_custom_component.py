"""An author's own components (tests/e2e/custom_pipeline/penguin_steps), named by import path in
a config, run exactly as the standard ones do: under ``lockgate run`` and ``airflow dags test``,
with lineage, a cache hit on the second run, a re-run after their code is edited, and a halt.

Each run is its own ``lockgate run`` process, as an author's would be, so an edited module is
imported afresh.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.config.models import SqliteMetadata
from pipelines.metadata.store import LineageStore
from tests.airflow.site import make_site
from tests.e2e.configs import REPO

pytestmark = pytest.mark.e2e

SOURCE = Path(__file__).parent / "custom_pipeline"
PENGUIN_CSV = REPO / "examples" / "penguin" / "data" / "penguins_processed.csv"
LOCKGATE = str(Path(sys.executable).with_name("lockgate"))
NODES = ["example_gen", "split_summary", "class_balance_gate"]


@pytest.fixture
def author_folder(tmp_path: Path) -> Path:
    """A copy of the author's folder (config beside its package), which the test may edit."""
    folder = tmp_path / "author"
    shutil.copytree(SOURCE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def run(folder: Path, home: Path, run_id: str, *, resume: bool = False,
        **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "LOCKGATE_HOME": str(home),
                   "PENGUIN_CSV": str(PENGUIN_CSV), **env}
    return subprocess.run(
        [LOCKGATE, "run", str(folder / "penguin_custom.yaml"),
         "--resume" if resume else "--run-id", run_id],
        capture_output=True, text=True, timeout=300, env=environment, cwd=folder,
    )


def outcomes(store: LineageStore, run_id: str) -> dict[str, str]:
    return {r.node_id: r.outcome for r in store.run_executions("penguin_custom", run_id)}


def test_custom_components_run_cache_rerun_and_halt(author_folder: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = run(author_folder, home, "run-1")
    assert first.returncode == 0, first.stdout + first.stderr
    store = LineageStore(SqliteMetadata(path=str(home / "metadata.sqlite")))
    assert outcomes(store, "run-1") == dict.fromkeys(NODES, "complete")

    # Lineage: the summary read ExampleGen's Examples and wrote the author's own type, which
    # the gate read. Every artifact is on an INPUT or OUTPUT event of its execution.
    records = {r.node_id: r for r in store.run_executions("penguin_custom", "run-1")}
    [examples] = store.outputs_of(records["example_gen"].id)["examples"]
    assert [a.id for a in store.inputs_of(records["split_summary"].id)["examples"]] == [
        examples.id]
    [summary] = store.outputs_of(records["split_summary"].id)["summary"]
    assert summary.type == "LabelSummary"
    assert summary.properties["splits"] == 2
    assert (Path(summary.uri) / "label_summary.json").is_file()
    assert [a.id for a in store.inputs_of(records["class_balance_gate"].id)["summary"]] == [
        summary.id]
    [verdict] = store.outputs_of(records["class_balance_gate"].id)["verdict"]
    assert verdict.type == "BalanceVerdict"
    assert records["split_summary"].type == "lockgate.SplitSummary"

    # Unchanged: every node is a cache hit.
    second = run(author_folder, home, "run-2")
    assert second.returncode == 0, second.stdout + second.stderr
    assert outcomes(store, "run-2") == dict.fromkeys(NODES, "cached")

    # A module nothing imports changes nothing; the helper the summary imports re-runs it,
    # and the gate after it (its input is a new artifact), but not ExampleGen.
    (author_folder / "penguin_steps" / "unused.py").write_text('NOTE = "edited"\n')
    assert run(author_folder, home, "run-3").returncode == 0
    assert outcomes(store, "run-3") == dict.fromkeys(NODES, "cached")
    counting = author_folder / "penguin_steps" / "counting.py"
    counting.write_text(counting.read_text() + "\n# edited\n")
    assert run(author_folder, home, "run-4").returncode == 0
    assert outcomes(store, "run-4") == {
        "example_gen": "cached", "split_summary": "complete", "class_balance_gate": "complete"}

    # The author's gate halts the run like ExampleValidator does.
    halted = run(author_folder, home, "run-5", MIN_SHARE="0.3")
    assert halted.returncode == 1
    assert "HALTED at class_balance_gate" in halted.stdout
    assert "classes below 30%" in halted.stdout
    assert outcomes(store, "run-5")["class_balance_gate"] == "halted"

    # Resumed with the author's fix (a lower bar), only the gate runs again.
    resumed = run(author_folder, home, "run-5", resume=True, MIN_SHARE="0.1")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "kept example_gen, split_summary" in " ".join(resumed.stdout.split())
    gates = [r.outcome for r in store.run_executions("penguin_custom", "run-5")
             if r.node_id == "class_balance_gate"]
    assert gates == ["halted", "complete"]


@pytest.mark.airflow
def test_custom_components_under_airflow_dags_test(author_folder: Path, tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    site = make_site(tmp_path / "site")
    shutil.copytree(author_folder, site.config_dir, dirs_exist_ok=True)
    site.env["PENGUIN_CSV"] = str(PENGUIN_CSV)
    migrated = site.airflow("db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]

    def dags_test(logical_date: str) -> str:
        """One `airflow dags test` run; its run id."""
        before = {r for (r,) in site.db("select run_id from dag_run")}
        tested = site.airflow("dags", "test", "penguin_custom", logical_date, timeout=600)
        assert tested.returncode == 0, (tested.stdout + tested.stderr)[-5000:]
        [(new_run, state)] = [row for row in site.db("select run_id, state from dag_run")
                              if row[0] not in before]
        assert state == "success"
        return str(new_run)

    def run_outcomes(airflow_run: str) -> dict[str, str]:
        return {r.node_id: r.outcome
                for r in site.executions(airflow_run, pipeline="penguin_custom")}

    run_id = dags_test("2026-01-01")
    tasks = dict(site.db("select task_id, state from task_instance where run_id = ?", run_id))
    assert tasks == dict.fromkeys(NODES, "success")
    records = site.executions(run_id, pipeline="penguin_custom")
    assert {r.node_id: r.state for r in records} == dict.fromkeys(NODES, "COMPLETE")
    [summary] = site.store().outputs_of(
        next(r.id for r in records if r.node_id == "split_summary"))["summary"]
    assert summary.type == "LabelSummary"
    # The data engineer's view of an Airflow run is the same as of a local one.
    listed = subprocess.run(
        [LOCKGATE, "runs", str(site.config_dir / "penguin_custom.yaml"), "--json"],
        capture_output=True, text=True, timeout=120, env=site.env,
    )
    assert listed.returncode == 0, listed.stderr
    assert run_id in listed.stdout and '"ok"' in listed.stdout

    # A second DAG run is all cache hits; after the helper the summary imports is edited,
    # the summary and the gate after it run again, and ExampleGen does not.
    assert run_outcomes(dags_test("2026-01-02")) == dict.fromkeys(NODES, "cached")
    counting = site.config_dir / "penguin_steps" / "counting.py"
    counting.write_text(counting.read_text() + "\n# edited\n")
    assert run_outcomes(dags_test("2026-01-03")) == {
        "example_gen": "cached", "split_summary": "complete", "class_balance_gate": "complete"}
