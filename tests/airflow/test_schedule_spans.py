"""A ``@daily`` Lockgate DAG on real Airflow 3 reads the span of its data interval: each DAG run
of a day processes that day's files, with a window of the latest two days, and a day whose
files have not landed fails ExampleGen naming the path it expected (a retry picks them up)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.sdk import span_of_date
from tests.airflow.site import make_site
from tests.e2e.configs import component, config_variant
from tests.e2e.test_gates import SERVING_CHECKS, resampled, write_span

pytestmark = [pytest.mark.e2e, pytest.mark.airflow]
DAG = "penguin_daily"
DAYS = [date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)]


def daily_config(config_dir: Path, data: Path) -> Path:
    def edit(config: dict[str, Any]) -> None:
        config["pipeline"]["name"] = DAG
        config["airflow"].update(schedule="@daily", start_date="2026-11-01",
                                 span="data_interval", retries=0)
        config["components"] = [c for c in config["components"]
                                if c["component"] not in SERVING_CHECKS]
        gen = component(config, "ExampleGen")["params"]
        gen["input"] = str(data / "day={YYYY}-{MM}-{DD}" / "penguins.csv")
        gen["spans"] = {"latest": 2}
        component(config, "Evaluator")["params"]["metrics"][0]["threshold"]["change"][
            "absolute"] = -1.0
        component(config, "Pusher")["params"]["model_name"] = DAG

    return config_variant(config_dir, edit, name=DAG)


def test_each_daily_run_reads_the_day_of_its_data_interval(tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    site = make_site(tmp_path / "site")
    data = tmp_path / "data"
    for i, day in enumerate(DAYS):
        write_span(data, 0, resampled(i)).parent.rename(data / f"day={day.isoformat()}")
    daily_config(site.config_dir, data)
    assert site.airflow("db", "migrate").returncode == 0

    def dag_run(day: date) -> tuple[str, str, date, str]:
        """`airflow dags test` of one day: its run id, state, data interval start and output."""
        before = {r for (r,) in site.db("select run_id from dag_run")}
        done = site.airflow("dags", "test", DAG, day.isoformat(), timeout=600)
        [(run_id, state, start)] = [
            row for row in site.db("select run_id, state, data_interval_start from dag_run")
            if row[0] not in before]
        return run_id, state, datetime.fromisoformat(start).date(), done.stdout + done.stderr

    read: dict[date, list[int]] = {}
    for day in DAYS:
        run_id, state, start, output = dag_run(day)
        assert state == "success", output[-3000:]
        executions = {e.node_id: e for e in site.executions(run_id, pipeline=DAG)}
        [examples] = site.store().outputs_of(executions["example_gen"].id)["examples"]
        assert examples.properties["span"] == span_of_date(start)  # the interval's day
        read[start] = [a.properties["span"] for a in
                       site.store().inputs_of(executions["transform"].id)["examples"]]
    assert len(read) == 3
    for start, spans in read.items():  # the window: that day and the one before, if there
        expected = [span_of_date(start) - 1, span_of_date(start)]
        assert spans == [s for s in expected if s >= span_of_date(min(read))]

    # A day whose files are not there yet fails ExampleGen, naming where they are expected.
    run_id, state, start, output = dag_run(date(2026, 12, 5))
    assert state == "failed" and start not in read
    expected = data / f"day={start.isoformat()}" / "penguins.csv"
    assert f"no data for {start.isoformat()} (span {span_of_date(start)}) yet: expected " \
           f"{expected}" in output
