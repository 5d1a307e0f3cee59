"""The deployment files in infra/ are at least well-formed and say what they claim."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from tests.e2e.configs import REPO

INFRA = REPO / "infra"


def test_airflow_scripts_are_valid_bash() -> None:
    for script in ("airflow.sh", "airflow-cluster.sh", "postgres.sh"):
        subprocess.run(["bash", "-n", str(INFRA / script)], check=True)


def test_beam_args_snippets_are_options_beam_knows() -> None:
    from apache_beam.options.pipeline_options import PipelineOptions

    snippets = yaml.safe_load((INFRA / "airflow" / "beam_args.yaml").read_text())
    assert set(snippets) == {"flink", "spark", "dataflow"}
    for name, block in snippets.items():
        options = PipelineOptions(block["beam_args"])
        unknown = set(options.get_all_options(retain_unknown_options=True)) - set(
            options.get_all_options())
        assert not unknown, (name, unknown)
        assert options.get_all_options()["runner"].lower().startswith(name)


def load_env(*files: str) -> dict[str, str]:
    script = "set -a; " + "; ".join(f". {INFRA / 'airflow' / f}" for f in files) + "; env"
    secrets = {"LOCKGATE_HOME": "/srv/lockgate", "LOCKGATE_REPO": "/srv/repo",
               "LOCKGATE_PG_HOST": "db", "REDIS_HOST": "broker", "AIRFLOW_JWT_SECRET": "jwt",
               "LOCKGATE_MLMD_PASSWORD": "mlmd"}
    out = subprocess.run(["bash", "-c", script], env={"PATH": os.environ["PATH"], **secrets},
                         check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_env_files_choose_their_executor_and_read_secrets_from_the_environment() -> None:
    local = load_env("local-postgres.env")
    assert local["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert local["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
        "postgresql+psycopg2://lockgate:mlmd@db:5432/airflow")
    assert local["AIRFLOW_HOME"] == "/srv/lockgate/airflow"
    assert local["AIRFLOW__CORE__DAGS_FOLDER"] == "/srv/repo/dags"
    # The shipped configs switch to PostgreSQL MLMD from these alone.
    assert (local["LOCKGATE_MLMD_KIND"], local["LOCKGATE_MLMD_HOST"]) == ("postgresql", "db")
    celery = load_env("local-postgres.env", "celery.env")
    assert celery["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert celery["AIRFLOW__CELERY__BROKER_URL"] == "redis://:mlmd@broker:6379/0"
    kube = load_env("local-postgres.env", "kubernetes.env")
    assert kube["AIRFLOW__CORE__EXECUTOR"] == "KubernetesExecutor"
    template = Path(kube["AIRFLOW__KUBERNETES_EXECUTOR__POD_TEMPLATE_FILE"]).name
    pod = yaml.safe_load((INFRA / "airflow" / template).read_text())
    assert [c["name"] for c in pod["spec"]["containers"]] == ["base"]  # Airflow's requirement


def test_env_files_set_only_options_airflow_has() -> None:
    import airflow

    template = Path(airflow.__file__).parent / "config_templates" / "config.yml"
    known = {section: set(body["options"])
             for section, body in yaml.safe_load(template.read_text()).items()}
    # Sections of providers, not in Airflow's own template (celery, cncf.kubernetes).
    provider_sections = {"celery", "kubernetes_executor"}
    settings = load_env("local-postgres.env", "celery.env", "kubernetes.env")
    seen = set()
    for name in (n for n in settings if n.startswith("AIRFLOW__")):
        section, option = (part.lower() for part in name.removeprefix("AIRFLOW__").split("__"))
        seen.add(section)
        if section not in provider_sections:
            assert option in known.get(section, set()), f"{name}: Airflow has no such option"
    assert provider_sections <= seen
