"""Config loading: every error at once, with file:line: key: message and did-you-mean hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.config.models import PostgresMetadata, SqliteMetadata
from pipelines.errors import ConfigError
from pipelines.loading import load_config

REPO = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


MINIMAL = """\
pipeline:
  name: demo
components:
  - component: ExampleGen
    params:
      input: data.csv
  - component: StatisticsGen
"""


def issues(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(i) for i in caught.value.issues]


def test_shipped_configs_are_valid() -> None:
    for path in sorted((REPO / "configs").glob("*.yaml")):
        config = load_config(path)
        assert config.components, path


def test_minimal_config_gets_defaults(tmp_path: Path, lockgate_home: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert isinstance(config.metadata, SqliteMetadata)
    assert config.root == lockgate_home / "pipelines" / "demo"
    assert config.beam_args == []  # the DirectRunner mode is then chosen per execution
    assert [e.node_id for e in config.components] == ["example_gen", "statistics_gen"]
    assert config.resolve_path("data.csv") == tmp_path / "data.csv"


def test_typo_in_key_reports_line_and_suggestion(tmp_path: Path) -> None:
    text = MINIMAL.replace("    params:\n      input: data.csv",
                           "    params:\n      input: data.csv\n      splitz: {train: 1}")
    [issue] = issues(write(tmp_path, text))
    assert issue.startswith(f"{tmp_path / 'p.yaml'}:7: components[0].params.splitz: unknown "
                            "key; did you mean 'splits'?; valid keys: input, format, span")


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    text = """\
pipeline:
  name: demo
cach: true
components:
  - component: ExampleGen
    params: {input: data.csv, max_bad_row_fraction: 2}
  - component: StatisticGen
"""
    found = issues(write(tmp_path, text))
    assert len(found) == 3, found
    assert any(":3: cach: unknown key; did you mean 'cache'?" in i for i in found)
    assert any(":6: components[0].params.max_bad_row_fraction:" in i for i in found)
    assert any(
        ":7: components[1].component: unknown component 'StatisticGen'; "
        "did you mean 'StatisticsGen'?" in i for i in found
    )


def test_missing_required_param(tmp_path: Path) -> None:
    text = "pipeline: {name: demo}\ncomponents:\n  - component: ExampleGen\n"
    [issue] = issues(write(tmp_path, text))
    assert ":3: components[0].params" in issue


def test_env_expansion_and_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_DIR", "/data/x")
    text = MINIMAL.replace("input: data.csv", "input: ${DATA_DIR}/${FILE:-posts}.csv")
    config = load_config(write(tmp_path, text))
    assert config.components[0].params.input == "/data/x/posts.csv"  # type: ignore[attr-defined]


def test_unset_env_without_default_is_an_error(tmp_path: Path) -> None:
    text = MINIMAL.replace("input: data.csv", "input: ${LOCKGATE_TEST_UNSET_VAR}/x.csv")
    [issue] = issues(write(tmp_path, text))
    assert ":6: components[0].params.input: environment variable LOCKGATE_TEST_UNSET_VAR" in issue


def test_postgres_metadata_takes_password_from_env_name(tmp_path: Path) -> None:
    text = MINIMAL + "metadata: {kind: postgresql, host: db, password_env: PG_PASS}\n"
    config = load_config(write(tmp_path, text))
    assert isinstance(config.metadata, PostgresMetadata)
    assert config.metadata.password_env == "PG_PASS"
    typo = MINIMAL + "metadata: {kind: postgresql, pasword: hunter2}\n"
    [issue] = issues(write(tmp_path, typo, "typo.yaml"))
    assert "metadata.pasword: unknown key; did you mean 'password_env'?" in issue


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    [issue] = issues(write(tmp_path, "pipeline:\n  name: [demo\ncomponents: []\n"))
    assert "p.yaml:3" in issue and "invalid YAML" in issue


def test_evaluator_without_thresholds_is_a_config_error(tmp_path: Path) -> None:
    text = MINIMAL + (
        "  - component: Evaluator\n    params:\n      label_key: y\n"
        "      metrics: [{class_name: ExampleCount}]\n"
    )
    [issue] = issues(write(tmp_path, text))
    assert ":9: components[2].params:" in issue and "no metric has a `threshold`" in issue


def test_validate_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, MINIMAL, "good.yaml")
    bad = write(tmp_path, MINIMAL.replace("StatisticsGen", "StatsGen"), "bad.yaml")
    assert main(["validate", str(good)]) == 0
    assert main(["validate", str(good), str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:7: components[1].component: unknown component 'StatsGen'" in err


def test_a_yaml_alias_bomb_is_refused_within_a_memory_bound(tmp_path: Path) -> None:
    """A "billion laughs": nine levels of nine aliases each. `lockgate validate` must refuse it
    at its line, quickly and in bounded memory (the child's address space is capped, so an
    expansion would die with MemoryError instead of passing)."""
    import subprocess
    import sys

    levels = ["  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    config = write(tmp_path, "pipeline:\n  name: demo\n  description: x\nlaughs:\n"
                   + "\n".join(levels) + "\ncomponents:\n  - component: StatisticsGen\n")
    limit = 1 << 30  # 1 GiB of address space: the expanded document would need far more
    script = ("import resource, sys\n"
              f"resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))\n"
              "from pipelines.cli import main\n"
              f"sys.exit(main(['validate', {str(config)!r}]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"{config}:6: laughs.l1[0]: YAML anchors and aliases (&name, *name) are not " \
           "allowed" in done.stderr
    assert "MemoryError" not in done.stderr


def test_one_metadata_section_switches_store_by_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = MINIMAL + (
        "metadata:\n"
        "  kind: ${LOCKGATE_MLMD_KIND:-sqlite}\n"
        "  path: ${LOCKGATE_HOME}/metadata.sqlite\n"
        "  host: ${LOCKGATE_MLMD_HOST:-localhost}\n"
        "  port: ${LOCKGATE_MLMD_PORT:-5432}\n"
        "  password_env: LOCKGATE_MLMD_PASSWORD\n")
    path = write(tmp_path, text)
    for name in ("LOCKGATE_MLMD_KIND", "LOCKGATE_MLMD_HOST", "LOCKGATE_MLMD_PORT"):
        monkeypatch.delenv(name, raising=False)
    laptop = load_config(path).metadata
    assert isinstance(laptop, SqliteMetadata) and laptop.path is not None
    assert laptop.path.endswith("/metadata.sqlite")

    monkeypatch.setenv("LOCKGATE_MLMD_KIND", "postgresql")
    monkeypatch.setenv("LOCKGATE_MLMD_HOST", "db.internal")
    monkeypatch.setenv("LOCKGATE_MLMD_PORT", "55432")
    production = load_config(path).metadata
    assert isinstance(production, PostgresMetadata)
    assert (production.host, production.port) == ("db.internal", 55432)
    assert production.password_env == "LOCKGATE_MLMD_PASSWORD"

    # A key of neither store is still refused, with its line.
    [issue] = issues(write(tmp_path, text + "  hots: x\n", "typo.yaml"))
    assert "metadata.hots: unknown key" in issue
    monkeypatch.setenv("LOCKGATE_MLMD_PORT", "not-a-port")
    [issue] = issues(path)
    assert "metadata.port" in issue


def test_paths_a_config_writes_to_stay_inside_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("LOCKGATE_HOME", str(home))
    escaping = MINIMAL.replace("pipeline:\n", "pipeline:\n  root: ${LOCKGATE_HOME}/../x\n", 1)
    escaping += "metadata: {kind: sqlite, path: /var/tmp/elsewhere.sqlite}\n"
    issues_found = issues(write(tmp_path, escaping))
    assert len(issues_found) == 2
    root_issue, store_issue = issues_found
    assert f":2: pipeline.root: {tmp_path / 'x'} is outside LOCKGATE_HOME ({home})" in root_issue
    assert "allow_outside_home: true" in root_issue
    assert "metadata.path: /var/tmp/elsewhere.sqlite is outside LOCKGATE_HOME" in store_issue
    # On purpose, it is allowed; inside the home it always was.
    allowed = escaping.replace("pipeline:\n", "pipeline:\n  allow_outside_home: true\n", 1)
    assert load_config(write(tmp_path, allowed, "allowed.yaml")).root.resolve() == tmp_path / "x"
    inside = MINIMAL.replace("pipeline:\n", "pipeline:\n  root: ${LOCKGATE_HOME}/p/../q\n", 1)
    assert load_config(write(tmp_path, inside, "inside.yaml")).root.resolve() == home / "q"
