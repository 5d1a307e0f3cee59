"""``lockgate gc`` on a penguin lineage recorded into a real SQLite store and serving folder:
what is outside the retention goes (files deleted, artifacts DELETED), and nothing a served
version, the baseline or the reference set depends on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.fingerprint import fingerprint_dir
from tests.pipelines.lineage.records import Penguin
from tests.pipelines.test_rollback import PENGUIN


def test_gc_keeps_what_serving_and_the_baseline_need_and_deletes_the_rest(
    lockgate_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lineage = Penguin()
    data = tmp_path / "data"
    served_1 = lineage.run("r1", 1, data, 0.95)  # pushed: version 1
    refused = [lineage.run(f"r{s}", s, data, 0.4, blessed=False) for s in (2, 3)]
    served_4 = lineage.run("r4", 4, data, 0.97)  # pushed: version 2, the baseline
    store = lineage.store
    live = {a.id: a for a in store.mlmd.get_artifacts() if a.state == store.pb.Artifact.LIVE}

    def made_from(model_id: int) -> set[int]:
        """What executions that read the model as theirs (not as a baseline) wrote."""
        return {e.artifact_id for x in store.mlmd.get_events_by_artifact_ids([model_id])
                if x.type == store.pb.Event.INPUT and x.path.steps[0].key == "model"
                for e in store.mlmd.get_events_by_execution_ids([x.execution_id])
                if e.type == store.pb.Event.OUTPUT}

    examples = {a.properties["span"].int_value: a.id for a in live.values()
                if "span" in a.properties and a.uri.endswith(tuple("0123456789"))
                and "/example_gen/" in a.uri}
    doomed = {examples[2], examples[3]} | {m.id for m in refused}
    doomed |= {a for m in refused for a in made_from(m.id or 0)}
    serving = fingerprint_dir(lockgate_home / "serving")

    assert main(["gc", str(PENGUIN), "--keep-spans", "1", "--keep-models", "1",
                 "--dry-run"]) == 0
    listed = capsys.readouterr().out
    assert "keeping spans 4 and models " in listed
    assert {int(line.split()[3].rstrip(":")) for line in listed.splitlines()
            if line.strip().startswith("would delete")} == doomed
    assert all(Path(live[a].uri).exists() for a in doomed)  # a dry run deletes nothing

    assert main(["gc", str(PENGUIN), "--keep-spans", "1", "--keep-models", "1"]) == 0
    assert f"deleted {len(doomed)} artifacts" in capsys.readouterr().out
    after = {a.id: a for a in store.mlmd.get_artifacts()}
    assert {a for a in after if after[a].state == store.pb.Artifact.DELETED} == doomed
    assert not any(Path(live[a].uri).exists() for a in doomed)
    # Version 1 still serves model 1: its data, model, blessing and evaluation all stay,
    # and its lineage still answers. Nothing in serving changed.
    assert fingerprint_dir(lockgate_home / "serving") == serving
    kept = {examples[1], examples[4], served_1.id, served_4.id}
    kept |= made_from(served_1.id or 0) | made_from(served_4.id or 0)
    assert all(after[a].state == store.pb.Artifact.LIVE for a in kept)
    assert main(["lineage", "serving", "penguin", "--version", "1", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [d["span"] for d in found["data"]] == [1]
    assert found["evaluation"]["metrics"]
