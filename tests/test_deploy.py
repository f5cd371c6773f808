"""What ships for production: a wheel without development tools that serves on its own, the
alert rules (checked and unit-tested with promtool) and the dashboard, which name only metrics
Maskline exposes, and the container and service recipes.

The image itself is built and run in tests/test_container.py; here its recipe is read for what
it must hold.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support import ROOT, Server, free_port, new_database_url, skip_or_fail

DEPLOY = ROOT / "deploy"
ALERTS = DEPLOY / "prometheus-alerts.yml"
DASHBOARD = DEPLOY / "grafana-dashboard.json"
METRIC = re.compile(r"\bmaskline_[a-z_]+")


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        skip_or_fail(
            "promtool", "promtool is not installed; install it with `apt-get install prometheus`"
        )
    return found


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_the_alert_rules_are_valid() -> None:
    done = subprocess.run(
        [_promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    names = {rule["alert"] for rule in _rules()}
    assert {"MasklinePoolExhausted", "MasklineCallbacksFailing", "MasklineWorkerLagging"} <= names


def _expected(alert: str, value: str = "", **labels: str) -> dict[str, Any]:
    """The alert as it fires with these labels (and this value, as its summary shows it):
    its rule's labels and annotations, filled."""
    rule = next(r for r in _rules() if r["alert"] == alert)
    annotations = {
        key: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text).replace(
            "{{ $value | humanizeDuration }}", value
        )
        for key, text in rule.get("annotations", {}).items()
    }
    return {"exp_labels": {**rule.get("labels", {}), **labels}, "exp_annotations": annotations}


def test_the_alerts_fire_when_they_should(tmp_path: Path) -> None:
    pool = 'maskline_pool_numbers{service_sid="KSbusy",state="%s"}'
    cases = {
        "rule_files": [str(ALERTS)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # One refusal at minute 3, then none.
                    {
                        "series": 'maskline_pool_exhausted_total{service_sid="KSfull"}',
                        "values": "0 0 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
                    },
                    {"series": pool % "free", "values": "1x30"},
                    {"series": pool % "in_use", "values": "19x30"},
                    {
                        "series": 'maskline_pool_numbers{service_sid="KSok",state="free"}',
                        "values": "10x30",
                    },
                    {
                        "series": 'maskline_pool_numbers{service_sid="KSok",state="in_use"}',
                        "values": "10x30",
                    },
                    {"series": "maskline_worker_lag_seconds", "values": "0 0 0 120x20"},
                    # Two deliveries a minute, one failed for good each minute from the start.
                    {
                        "series": 'maskline_callback_deliveries_total{outcome="delivered"}',
                        "values": "0+2x30",
                    },
                    {
                        "series": 'maskline_callback_deliveries_total{outcome="failed"}',
                        "values": "0+1x30",
                    },
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "5m",
                        "alertname": "MasklinePoolExhausted",
                        "exp_alerts": [_expected("MasklinePoolExhausted", service_sid="KSfull")],
                    },
                    # Ten minutes without a refusal: the alert is over.
                    {"eval_time": "19m", "alertname": "MasklinePoolExhausted", "exp_alerts": []},
                    {
                        "eval_time": "10m",
                        "alertname": "MasklinePoolNearlyExhausted",
                        "exp_alerts": [],
                    },
                    {
                        "eval_time": "20m",
                        "alertname": "MasklinePoolNearlyExhausted",
                        "exp_alerts": [
                            _expected("MasklinePoolNearlyExhausted", service_sid="KSbusy")
                        ],
                    },
                    {"eval_time": "5m", "alertname": "MasklineWorkerLagging", "exp_alerts": []},
                    {
                        "eval_time": "10m",
                        "alertname": "MasklineWorkerLagging",
                        "exp_alerts": [_expected("MasklineWorkerLagging", "2m 0s")],
                    },
                    {
                        "eval_time": "20m",
                        "alertname": "MasklineCallbacksFailing",
                        "exp_alerts": [_expected("MasklineCallbacksFailing")],
                    },
                ],
            }
        ],
    }
    path = tmp_path / "alerts-test.yml"
    path.write_text(yaml.safe_dump(cases))
    done = subprocess.run(
        [_promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _named_metrics() -> set[str]:
    exprs = [rule["expr"] for rule in _rules()]
    dashboard = json.loads(DASHBOARD.read_text())
    exprs += [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    names = set()
    for expr in exprs:
        for name in METRIC.findall(expr):
            names.add(re.sub(r"_(total|bucket|count|sum)$", "", name))
    return names


def test_the_dashboard_and_alerts_name_only_metrics_maskline_exposes(server: Server) -> None:
    text = httpx.get(server.base_url + "/metrics").text
    exposed = {family.name for family in text_string_to_metric_families(text)}
    named = _named_metrics()
    assert len(named) >= 10
    assert named <= exposed, f"not exposed: {sorted(named - exposed)}"
    dashboard = json.loads(DASHBOARD.read_text())
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_wheel_serves_without_development_tools(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "dist").glob("maskline-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        files = archive.namelist()
        metadata = next(archive.read(f).decode() for f in files if f.endswith("METADATA"))
    migrations = sorted((ROOT / "src/maskline/migrations/versions").glob("[0-9]*.py"))
    for migration in migrations:
        assert f"maskline/migrations/versions/{migration.name}" in files
    assert not [f for f in files if f.startswith(("tests/", "bench/"))]
    console = ROOT / "src/maskline/console"
    for page in [*console.glob("templates/*.html"), *console.glob("static/*")]:
        assert f"maskline/console/{page.parent.name}/{page.name}" in files
    required = [
        line.split(":", 1)[1].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    runtime = [r for r in required if "extra ==" not in r]
    for tool in ("pytest", "ruff", "mypy", "matplotlib", "schemathesis"):
        assert not [r for r in runtime if r.startswith(tool)], runtime

    # Installed alone (its dependencies from this environment), it migrates and serves.
    target = tmp_path / "installed"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    where = subprocess.run(
        [sys.executable, "-c", "import maskline; print(maskline.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert where.stdout.startswith(str(target))
    server = Server(
        database_url=new_database_url(tmp_path),
        env={"PYTHONPATH": str(target)},
        port=free_port(),
    ).start()
    try:
        assert httpx.get(server.base_url + "/readyz").json() == {"status": "ok"}
        assert server.http().get("/v1/Services").status_code == 200
        # The console's templates and files came with it.
        assert "Sign in" in httpx.get(server.base_url + "/console/sign-in").text
        assert httpx.get(server.base_url + "/console/static/console.css").status_code == 200
    finally:
        server.stop()


def test_the_container_recipe_runs_maskline_as_a_user_of_its_own() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    entrypoint = [line for line in lines if line.startswith("ENTRYPOINT ")]
    assert entrypoint and json.loads(entrypoint[-1].split(" ", 1)[1]) == ["maskline", "serve"]
    # Only the package goes in: no tests, no benchmark, no development extras.
    copied = [line for line in lines if line.startswith("COPY ") and "--from" not in line]
    assert {word for line in copied for word in line.split()[1:-1]} == {
        "pyproject.toml",
        "README.md",
        "src",
    }
    assert not [line for line in lines if "[dev]" in line]

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert services["migrate"]["entrypoint"] == ["maskline", "migrate"]
    assert services["maskline"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    url = services["maskline"]["environment"]["MASKLINE_DATABASE_URL"]
    assert url.startswith("postgresql://") and "@postgres:5432/" in url


@pytest.mark.parametrize(
    ("unit", "command"),
    [("maskline.service", "maskline serve"), ("maskline-worker.service", "maskline worker")],
)
def test_the_service_units_run_maskline_unprivileged(unit: str, command: str) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read(DEPLOY / unit)
    service = parser["Service"]
    assert command in service["ExecStart"]
    assert service["User"] == "maskline"
    assert service["NoNewPrivileges"] == "yes"
    assert service["KillSignal"] == "SIGTERM"
    assert parser["Install"]["WantedBy"] == "multi-user.target"
    settings = (DEPLOY / "maskline.env.example").read_text()
    named = set(re.findall(r"^(MASKLINE_[A-Z_]+)=", settings, re.M))
    documented = set(re.findall(r"`(MASKLINE_[A-Z_]+)`", (ROOT / "README.md").read_text()))
    assert named and named <= documented
