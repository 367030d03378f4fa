"""The deployment files stay true: the Kubernetes manifest validates against the API schemas, the HPA
scales on a metric the server exports, and every Grafana panel queries only shipped metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from bridge.server import metrics

ROOT = Path(__file__).parent.parent
SHIPPED = {m.describe()[0].name for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)}


def manifest() -> list[dict]:
    return list(yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "fastgate.yaml").read_text()))


def test_the_kubernetes_manifest_validates_against_the_api_schemas():
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    resources = manifest()
    assert [r["kind"] for r in resources] == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    for resource in resources:
        kubernetes_validate.validate(resource, kubernetes_validate.latest_version(), strict=True)


def test_the_deployment_drains_before_it_stops_and_the_hpa_scales_on_calls():
    deployment, _, hpa = manifest()
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    drain = int(next(e["value"] for e in container["env"] if e["name"] == "FASTGATE_DRAIN_SECONDS"))
    assert pod["terminationGracePeriodSeconds"] > drain + 5  # the preStop pause, then the drain
    assert container["lifecycle"]["preStop"] and container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["pods"]["metric"]["name"] == "fastgate_calls_active" in SHIPPED


def test_every_grafana_panel_queries_shipped_metrics():
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "fastgate-dashboard.json").read_text())
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= {
                re.sub(r"_(bucket|count|sum|total)$", "", m)
                for m in re.findall(r"fastgate_\w+", target["expr"])
            }
    shipped = {re.sub(r"_total$", "", name) for name in SHIPPED}
    assert used and used <= shipped, used - shipped
    assert shipped <= used  # and every shipped metric has a panel


def test_the_dockerfile_builds_the_wheel_in_one_stage_and_runs_serve_unprivileged():
    text = (ROOT / "Dockerfile").read_text()
    assert text.count("FROM ") == 2 and "pip wheel" in text and "USER fastgate" in text
    assert 'ENTRYPOINT ["fastgate-bridge"]' in text and "EXPOSE 8080" in text
