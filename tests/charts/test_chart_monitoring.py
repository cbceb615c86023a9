"""Alerts, dashboard and KEDA queries: well-formed, valid PromQL (promql-parser), and about metrics the code exports.

There is no official PrometheusRule CRD among the fixtures, so its structure is checked here against the
prometheus-operator v1 field set: groups (name, rules), rules with exactly one of record/alert, expr, durations.
"""

from __future__ import annotations

import json
import re
from typing import Any

import promql_parser
import pytest
from prometheus_client import REGISTRY

from services import telemetry
from tests.charts.conftest import CHART, NAMESPACE, RELEASE

DURATION = re.compile(r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
GROUP_KEYS = {"name", "interval", "rules", "limit", "labels", "partial_response_strategy", "query_offset"}
RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
# Metrics from kube-state-metrics (kube-prometheus-stack), not from k2think.
EXTERNAL_METRICS = {"kube_deployment_status_replicas_available"}
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$namespace": NAMESPACE}
DASHBOARD = json.loads((CHART / "files" / "grafana-dashboard.json").read_text())


def exported_metrics() -> set[str]:
    """Every sample name the k2think processes can export (counters as *_total, histograms as *_bucket...)."""
    for subsystem in telemetry.SUBSYSTEMS:
        telemetry.service_metrics(subsystem)
    telemetry.observe_stages({})
    telemetry.observe_selection("majority")
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        if family.name.startswith("k2think_")
        for suffix in suffixes.get(family.type, [])
    }


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects; raises ValueError when it is not valid PromQL."""
    names: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def check_rule_structure(rule_object: dict[str, Any]) -> None:
    spec = rule_object["spec"]
    assert set(spec) == {"groups"} and spec["groups"]
    names = [g["name"] for g in spec["groups"]]
    assert len(names) == len(set(names)) and all(names)
    for group in spec["groups"]:
        assert set(group) <= GROUP_KEYS and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= RULE_KEYS, set(rule) - RULE_KEYS
            assert ("alert" in rule) != ("record" in rule)
            assert isinstance(rule["expr"], str) and rule["expr"].strip()
            if "alert" in rule:
                assert LABEL_VALUE.match(rule["alert"])
            for key in ("for", "keep_firing_for"):
                assert key not in rule or DURATION.match(rule[key])
            for key in ("labels", "annotations"):
                assert all(isinstance(v, str) for v in rule.get(key, {}).values()), rule.get(key)


def test_structure_check_catches_what_the_operator_would_refuse():
    good = {"spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0", "for": "5m"}]}]}}
    check_rule_structure(good)
    for bad_rule in ({"alert": "A", "record": "r", "expr": "up"}, {"alert": "A", "expr": "up", "for": "5 minutes"}):
        with pytest.raises(AssertionError):
            check_rule_structure({"spec": {"groups": [{"name": "g", "rules": [bad_rule]}]}})
    with pytest.raises(ValueError):
        metric_names("sum(rate(k2think_gateway_calls_total[5m])")


def test_prometheus_rule_is_well_formed_and_alerts_on_exported_metrics(render):
    m = render("keda")
    rule_object = m.one("PrometheusRule")
    assert rule_object["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    check_rule_structure(rule_object)
    exported = exported_metrics()
    services = {s["metadata"]["name"] for s in m.kind("Service")}
    alerts = {}
    for rule in rule_object["spec"]["groups"][0]["rules"]:
        names = metric_names(rule["expr"])
        assert names and names <= exported | EXTERNAL_METRICS, names - exported
        for service in re.findall(r'service="([^"]+)"', rule["expr"]):
            assert service in services
        assert f'namespace="{NAMESPACE}"' in rule["expr"]
        alerts.setdefault(rule["alert"], []).append(rule["labels"])
    assert set(alerts) == {
        "K2ThinkErrorRatioHigh",
        "K2ThinkStageLatencyHigh",
        "K2ThinkSaturated",
        "K2ThinkNoAvailableSolver",
    }
    assert {labels["stage"] for labels in alerts["K2ThinkStageLatencyHigh"]} == {"plan", "solve", "select", "total"}
    assert f'deployment="{RELEASE}-k2think-solver"' in str(rule_object)


def test_dashboard_is_sane_grafana_json_about_exported_metrics(render):
    m = render("keda")
    shipped = m.one("ConfigMap", f"{RELEASE}-k2think-dashboard")
    assert shipped["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(shipped["data"]["k2think.json"]) == DASHBOARD
    assert DASHBOARD["uid"] and DASHBOARD["title"] and isinstance(DASHBOARD["schemaVersion"], int)
    variables = {v["name"] for v in DASHBOARD["templating"]["list"]}
    assert variables == {"datasource", "namespace"}
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    exported, queried = exported_metrics(), set()
    for panel in DASHBOARD["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        xs, ys = range(grid["x"], grid["x"] + grid["w"]), range(grid["y"], grid["y"] + grid["h"])
        covered = {(x, y) for x in xs for y in ys}
        assert not covered & cells, f"panel {panel['id']} overlaps another"
        cells |= covered
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs))
        for target in panel["targets"]:
            expr = target["expr"]
            for variable in re.findall(r"\$\w+", expr):
                assert variable in GRAFANA_VARIABLES, variable
                expr = expr.replace(variable, GRAFANA_VARIABLES[variable])
            names = metric_names(expr)
            assert names <= exported, names - exported
            queried |= names
    wanted = {
        "k2think_gateway_request_seconds_bucket",  # per-stage latency
        "k2think_solver_completion_tokens_total",  # tokens/s
        "k2think_solver_inflight_requests",  # in-flight
        "k2think_judge_calls_total",  # judge calls
        "k2think_gateway_selections_total",  # selection kinds
    }
    assert wanted <= queried


def test_keda_queries_name_exported_gauges(render):
    exported = exported_metrics()
    for scaled in render("keda").kind("ScaledObject"):
        query = scaled["spec"]["triggers"][0]["metadata"]["query"]
        assert metric_names(query) <= exported and metric_names(query)
