"""The offline report pages of a real penguin run, rendered in headless Chromium.

One module-scoped run: two spans of penguins (the second resampled), so the second run has a
previous span to compare statistics with and a blessed baseline model; the Evaluator also
slices by species. Each page must load with no console output, make no network request, hold
no remote URL, and show the run's own numbers (read back from its artifacts here).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipelines.cli import main
from pipelines.component import Artifact
from pipelines.graph import Pipeline, build_pipeline
from pipelines.loading import load_config
from pipelines.metadata.store import ExecutionRecord, LineageStore
from pipelines.reports import report_dir
from pipelines.reports.evaluation import MIN_SLICE_EXAMPLES
from pipelines.reports.html import num
from tests.e2e.configs import REPO, component, config_variant
from tests.e2e.test_gates import SERVING_CHECKS, penguin_rows, resampled, write_span
from tests.pipelines.reports.browser import Rendered, remote_references, render, screenshot

pytestmark = pytest.mark.e2e
RUN = "rep-span-2"  # `--spans 1..2 --run-id rep`: the second span's run
DOCS_ENV = "LOCKGATE_DOCS_SCREENSHOTS"  # set to 1 to refresh docs/reports-*.png


@dataclass
class Run:
    config: Path
    home: Path
    pipeline: Pipeline
    output: str
    store: LineageStore
    executions: dict[str, ExecutionRecord]
    shots: Path

    @property
    def reports(self) -> Path:
        return report_dir(self.pipeline, RUN)

    def output_of(self, node: str, port: str) -> Artifact:
        return self.store.outputs_of(self.executions[node].id)[port][0]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    base = tmp_path_factory.mktemp("reports")
    data = base / "data"
    write_span(data, 1, penguin_rows())
    write_span(data, 2, resampled(7))

    def edit(config: dict[str, Any]) -> None:
        config["components"] = [c for c in config["components"]
                                if c["component"] not in SERVING_CHECKS]
        component(config, "ExampleGen")["params"]["input"] = str(
            data / "span-{SPAN}" / "penguins.csv")
        evaluator = component(config, "Evaluator")["params"]
        evaluator["slices"] = [[], ["species"]]
        # Training is not bit-for-bit repeatable: let the candidate fall behind the baseline a
        # little, so it is blessed and pushed every time and the pushed model has a lineage.
        evaluator["metrics"][0]["threshold"]["change"]["absolute"] = -0.5

    config = config_variant(base, edit)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LOCKGATE_HOME", str(base / "home"))
        env.delenv("LOCKGATE_MLMD_KIND", raising=False)
        printed = io.StringIO()
        with redirect_stdout(printed):
            code = main(["run", str(config), "--spans", "1..2", "--run-id", "rep"])
        pipeline = build_pipeline(load_config(config, require_data=False))
    assert code == 0, printed.getvalue()
    store = LineageStore(pipeline.config.metadata)
    executions = {r.node_id: r for r in store.run_executions(pipeline.name, RUN)}
    return Run(config, base / "home", pipeline, printed.getvalue(), store, executions,
               base / "screenshots")


def checked(run: Run, name: str) -> tuple[Path, Rendered]:
    """Render a page of the run: no console output, no request, no remote URL; screenshot."""
    page = run.reports / name
    assert page.is_file(), f"{page} was not written"
    rendered = render(page, run.shots.parent / "chromium")
    assert rendered.console == [], rendered.console
    assert rendered.requests == [], rendered.requests
    assert remote_references(page.read_text()) == []
    shot = screenshot(page, run.shots / f"{page.stem}.png")
    assert shot.stat().st_size > 10_000
    return page, rendered


def keep_for_docs(shot: Path, name: str) -> None:
    if os.environ.get(DOCS_ENV) == "1":
        shutil.copyfile(shot, REPO / "docs" / name)


def element(dom: str, pattern: str) -> str:
    """The text from the first match of ``pattern`` to the end of its table row or card."""
    match = re.search(pattern, dom)
    assert match, f"no {pattern!r} in the page"
    end = min(i for i in (dom.find("</tr>", match.start()), dom.find("</div>", match.start()),
                          len(dom)) if i >= 0)
    return dom[match.start():end]


def test_lockgate_run_prints_the_index(run: Run) -> None:
    index = run.reports / "index.html"
    assert f"reports: {index}" in run.output
    assert index.is_file()


def test_index_shows_the_dag_and_links_every_report_and_lineage(run: Run) -> None:
    page, rendered = checked(run, "index.html")
    dom = rendered.dom
    for node in run.pipeline.order:
        assert f'data-id="{node}" data-status="complete"' in dom, node
    for up, node in [(u, n) for n in run.pipeline.order for u in run.pipeline.nodes[n].upstream]:
        assert f'data-from="{up}" data-to="{node}"' in dom
    statistics = run.output_of("statistics_gen", "statistics")
    evaluation = run.output_of("evaluator", "evaluation")
    anomalies = run.output_of("example_validator", "anomalies")
    pushed = run.output_of("pusher", "pushed_model")
    links = re.findall(r'<a class="report[^"]*" href="([^"]+)"', dom)
    assert f"statistics-{statistics.id}.html" in links
    assert f"evaluation-{evaluation.id}.html" in links
    assert f"lineage-{pushed.id}.html" in links
    assert os.path.relpath(Path(anomalies.uri) / "report.html", run.reports) in links
    for record in run.executions.values():
        for artifacts in run.store.outputs_of(record.id).values():
            for artifact in artifacts:
                assert (f'data-artifact="{artifact.id}" href="lineage-{artifact.id}.html"'
                        in dom), artifact
    for href in re.findall(r'href="([^"#]+)"', dom):
        assert (page.parent / href).is_file(), href


def test_statistics_page_shows_each_split_skew_and_drift(run: Run) -> None:
    import tensorflow_data_validation as tfdv

    statistics = run.output_of("statistics_gen", "statistics")
    _, rendered = checked(run, f"statistics-{statistics.id}.html")
    dom = rendered.dom
    rows = json.loads(statistics.properties["split_rows"])
    for split, count in rows.items():
        assert re.search(rf"<td>{split}</td><td class=\"num\" data-v=\"{count}\">", dom), split
    train = tfdv.load_stats_binary(str(Path(statistics.uri) / "Split-train" / "FeatureStats.pb"))
    evals = tfdv.load_stats_binary(str(Path(statistics.uri) / "Split-eval" / "FeatureStats.pb"))
    mass = next(f for f in train.datasets[0].features if f.path.step == ["body_mass_g"])
    card = dom[dom.index('data-name="body_mass_g"'):]
    card = card[:card.index('class="card feature"') if 'class="card feature"' in card else None]
    assert f">{num(mass.num_stats.mean)}<" in card and f">{num(mass.num_stats.max)}<" in card
    assert card.count('<svg class="hist"') == 1 and 'class="logscale"' in card
    assert "<title>span 1: " in card  # this span's histogram against the previous span's
    # Train/eval skew: TFDV's own comparator, computed here again.
    schema = tfdv.load_schema_text(str(Path(run.output_of("schema_gen", "schema").uri)
                                       / "schema.pbtxt"))
    for feature in schema.feature:
        feature.skew_comparator.jensen_shannon_divergence.threshold = 0.1
    anomalies = tfdv.validate_statistics(train, schema, serving_statistics=evals)
    skew = {".".join(i.path.step): i.skew_measurements[0].value
            for i in anomalies.drift_skew_info}
    assert set(skew) == {"species", "culmen_length_mm", "culmen_depth_mm", "flipper_length_mm",
                         "body_mass_g"}
    table = dom[dom.index('id="skew-table"'):dom.index("</table>", dom.index('id="skew-table"'))]
    for feature, value in skew.items():
        row = element(table, f'data-feature="{feature}"')
        assert f">{num(value)}<" in row, (feature, value, row)
    assert 'id="drift-table"' in dom and "against span 1" in dom


def cards_of(dom: str) -> list[tuple[str, float, bool]]:
    """(feature, skew, shown) of each feature card, in page order."""
    found = re.findall(r'<div class="card feature" data-name="([^"]+)"[^>]*data-skew="([^"]+)"'
                       r'[^>]*?( style="display: none;")?>', dom)
    return [(name, float(skew), not hidden) for name, skew, hidden in found]


def test_statistics_page_sorts_filters_and_switches_to_log_scale(run: Run) -> None:
    statistics = run.output_of("statistics_gen", "statistics")
    page = run.reports / f"statistics-{statistics.id}.html"
    work = run.shots.parent / "chromium"
    by_skew = render(page, work, "sort=skew")
    assert by_skew.console == []
    cards = cards_of(by_skew.dom)
    assert len(cards) == 5 and all(shown for _, _, shown in cards)
    skews = [skew for _, skew, _ in cards]
    assert skews == sorted(skews, reverse=True) and skews[0] > skews[-1]
    filtered = render(page, work, "filter=culmen&log=1")
    cards = cards_of(filtered.dom)
    assert sorted(name for name, _, shown in cards if shown) == [
        "culmen_depth_mm", "culmen_length_mm"]
    assert sorted(name for name, _, shown in cards if not shown) == [
        "body_mass_g", "flipper_length_mm", "species"]
    assert '<body class="log">' in filtered.dom


def test_evaluation_page_shows_slices_thresholds_and_plots(run: Run) -> None:
    evaluation = run.output_of("evaluator", "evaluation")
    blessing = json.loads((Path(run.output_of("evaluator", "blessing").uri)
                           / "blessing.json").read_text())
    summary = json.loads((Path(evaluation.uri) / "summary.json").read_text())
    page, rendered = checked(run, f"evaluation-{evaluation.id}.html")
    keep_for_docs(run.shots / f"{page.stem}.png", "reports-evaluation.png")
    dom = rendered.dom
    assert summary["baseline_model_id"] is not None  # span 2 compares with span 1's model
    assert set(summary["slices"]) == {"overall", "species=0", "species=1", "species=2"}
    metrics = dom[dom.index('id="metrics"'):]
    for slice_, values in summary["slices"].items():
        row = element(metrics, f'<td class="slice" data-slice="{re.escape(slice_)}">')
        for name in ("sparse_categorical_accuracy", "example_count"):
            assert f">{num(values[name]['value'])}<" in row
            assert f">{num(values[name]['baseline'])}<" in row
        few = values["example_count"]["value"] < MIN_SLICE_EXAMPLES
        assert ("few examples" in row) == few, (slice_, row)
    verdict = "BLESSED" if blessing["blessed"] else "NOT BLESSED"
    assert f'id="verdict">{verdict}<' in dom
    thresholds = dom[dom.index('id="thresholds"'):]
    checks = re.findall(r'data-status="(\w+)"', thresholds[:thresholds.index("</table>")])
    assert blessing["failures"] == []
    assert checks == ["pass", "pass"]  # SparseCategoricalAccuracy: lower and change, overall
    for model in ("candidate", "baseline"):
        confusion = dom[dom.index(f'class="plot confusion" data-model="{model}"'):]
        confusion = confusion[:confusion.index("</svg>")]
        counts = [float(c) for c in re.findall(r'data-count="([\d.]+)"', confusion)]
        assert sum(counts) == summary["slices"]["overall"]["example_count"]["value"]
    for kind in ("roc", "pr", "calibration"):
        assert f'<svg class="plot {kind}"' in dom
    assert dom.count('class="curve"') >= 4  # ROC and PR, candidate and baseline, per slice


def test_lineage_of_the_pushed_model_goes_from_data_files_to_serving(run: Run) -> None:
    pushed = run.output_of("pusher", "pushed_model")
    page, rendered = checked(run, f"lineage-{pushed.id}.html")
    keep_for_docs(run.shots / f"{page.stem}.png", "reports-lineage.png")
    dom = rendered.dom
    example_gen = run.executions["example_gen"].id
    examples = run.output_of("example_gen", "examples")
    [data_file] = json.loads(examples.properties["input_files"])
    assert data_file.endswith("span-2/penguins.csv")
    file_node = re.search(r'data-id="(f\d+)" data-kind="file">(?:(?!</g>).)*<title>'
                          + re.escape(data_file) + "</title>", dom, re.DOTALL)
    assert file_node, "no node for the data file"
    assert f'data-from="{file_node.group(1)}" data-to="e{example_gen}"' in dom
    model = pushed.properties["model_id"]
    assert f'data-from="a{model}" data-to="e{run.executions["pusher"].id}"' in dom
    assert f'data-from="a{pushed.id}" data-to="serving"' in dom
    assert f'data-kind="serving" data-version="{pushed.properties["version"]}"' in dom
    nodes = set(re.findall(r'<g class="node" data-id="([^"]+)"', dom))
    for a, b in re.findall(r'data-from="([^"]+)" data-to="([^"]+)"', dom):
        assert a in nodes and b in nodes
    # Every execution the pushed model depends on (all but the validator's, which no later
    # node reads) is drawn.
    assert {f"e{r.id}" for r in run.executions.values() if r.node_id != "example_validator"
            } <= nodes
    assert str(pushed.properties["path"]) in dom  # the serving version's properties


def test_lockgate_report_writes_and_prints_the_index(
    run: Run, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOCKGATE_HOME", str(run.home))
    index = run.reports / "index.html"
    index.unlink()
    assert main(["report", RUN, "--pipeline", str(run.config)]) == 0
    assert capsys.readouterr().out.strip() == str(index)
    assert index.is_file()
    assert main(["report", "no-such-run", "--pipeline", str(run.config)]) == 2


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_airflow_task_logs_the_index_every_time_also_on_a_cache_hit(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.airflow.operator import LockgateNodeOperator

    monkeypatch.setenv("LOCKGATE_HOME", str(run.home))
    task = LockgateNodeOperator(task_id="example_gen", config_path=str(run.config),
                                pipeline_node="example_gen")
    logger = logging.getLogger("lockgate.task.example_gen")  # the operator's task logger
    lines = Lines()
    logger.addHandler(lines)
    monkeypatch.setattr(logger, "level", logging.INFO)
    # The newest span's file touched: the first task reads it again, the second is a hit.
    newest = run.home.parent / "data" / "span-2" / "penguins.csv"
    os.utime(newest, ns=(newest.stat().st_atime_ns, newest.stat().st_mtime_ns + 10**9))
    try:
        for run_id, status in (("airflow-1", "complete"), ("airflow-2", "cached")):
            lines.lines.clear()
            task.execute({"run_id": run_id})  # type: ignore[arg-type]
            index = report_dir(run.pipeline, run_id) / "index.html"
            assert f"reports: {index}" in lines.lines
            page = index.read_text()
            assert f'data-id="example_gen" data-status="{status}"' in page
            assert 'data-id="trainer" data-status="not-run"' in page
    finally:
        logger.removeHandler(lines)
