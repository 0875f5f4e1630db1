"""The shipped Grafana dashboard and Prometheus alerting rules read only metrics that exist."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from retrykit import AlertRules
from retrykit._observe import _alerts
from retrykit.prometheus import PrometheusMetrics
from tests.test_otel import _every_kind_of_event

DASHBOARDS = resources.files("retrykit") / "dashboards"
_METRIC = re.compile(r"\bretrykit_[a-z_]+\b")
_SELECTOR = re.compile(r"\b(retrykit_[a-z_]+)\{([^}]*)\}")
_GROUPING = re.compile(r"\b(?:by|on|without|ignoring)\s*\(([^)]*)\)")
# A range selector: right after a metric name or its labels (a label's regex may hold [...]).
_DURATION = re.compile(r"(?<=[}\w])\[([^\]]+)\]")


# -- a YAML reader for the subset a rules file uses (PyYAML is not a dependency) ----------


class _Yaml:
    """Block mappings, block sequences of mappings, ``|`` literals and plain or quoted scalars."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.index = 0

    def _skip(self) -> None:
        while self.index < len(self.lines):
            stripped = self.lines[self.index].strip()
            if stripped and not stripped.startswith("#"):
                return
            self.index += 1

    def _indent(self) -> int:
        line = self.lines[self.index]
        return len(line) - len(line.lstrip(" "))

    def node(self) -> Any:
        self._skip()
        indent = self._indent()
        if self.lines[self.index].lstrip().startswith("- "):
            return self._sequence(indent)
        return self._mapping(indent)

    def _mapping(self, indent: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while True:
            self._skip()
            if self.index >= len(self.lines) or self._indent() != indent:
                return result
            line = self.lines[self.index].strip()
            if line.startswith("- "):
                return result
            key, colon, rest = line.partition(":")
            assert colon, f"line {self.index + 1}: expected 'key: value', got {line!r}"
            assert key not in result, f"line {self.index + 1}: {key!r} twice"
            self.index += 1
            rest = rest.strip()
            if rest == "|":
                result[key] = self._literal(indent)
            elif rest:
                result[key] = _scalar(rest)
            else:
                self._skip()
                assert self._indent() > indent, f"line {self.index + 1}: {key!r} has no value"
                result[key] = self.node()

    def _sequence(self, indent: int) -> list[Any]:
        items: list[Any] = []
        while True:
            self._skip()
            if self.index >= len(self.lines) or self._indent() != indent:
                return items
            line = self.lines[self.index]
            if not line.lstrip().startswith("- "):
                return items
            # "- key: value" starts a mapping whose keys sit two columns further in.
            self.lines[self.index] = " " * (indent + 2) + line.lstrip()[2:]
            items.append(self.node())

    def _literal(self, indent: int) -> str:
        block: list[str] = []
        while self.index < len(self.lines):
            line = self.lines[self.index]
            if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
                break
            block.append(line)
            self.index += 1
        depth = min(len(line) - len(line.lstrip(" ")) for line in block if line.strip())
        return "\n".join(line[depth:] for line in block).rstrip("\n") + "\n"


def _scalar(text: str) -> Any:
    if text[0] in "\"'":
        assert text[-1] == text[0], f"unterminated string: {text!r}"
        return text[1:-1]
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return text


def _load_yaml(text: str) -> Any:
    return _Yaml(text).node()


def test_the_yaml_reader_reads_what_it_claims() -> None:
    """The test's own YAML reader, on the shapes the rules file uses."""
    text = "a:\n  - b: 1\n    c: |\n      x\n        y\n    d: 'q: r'\n  - b: 2\n# note\ne: f\n"
    assert _load_yaml(text) == {
        "a": [{"b": 1, "c": "x\n  y\n", "d": "q: r"}, {"b": 2}],
        "e": "f",
    }


# -- what PrometheusMetrics registers ----------------------------------------------------


@pytest.fixture(scope="module")
def registered() -> dict[str, set[str]]:
    """Every sample name PrometheusMetrics exposes, with its label names."""
    registry = CollectorRegistry()
    exporter = PrometheusMetrics(registry)
    for event in _every_kind_of_event():
        exporter(event)
    names: dict[str, set[str]] = {}
    for family in registry.collect():
        for sample in family.samples:
            names.setdefault(sample.name, set()).update(sample.labels)
    return names


def _check_expression(expr: str, registered: dict[str, set[str]]) -> None:
    """Every metric an expression reads is registered, with the labels it selects on."""
    metrics = set(_METRIC.findall(expr))
    assert metrics, expr
    unknown = metrics - set(registered)
    assert not unknown, f"{sorted(unknown)} not registered; in {expr}"
    for metric, selector in _SELECTOR.findall(expr):
        labels = {part.split("=")[0].rstrip("!~").strip() for part in selector.split(",")}
        assert labels <= registered[metric], (metric, labels, expr)
    available = set().union(*(registered[metric] for metric in metrics))
    for grouping in _GROUPING.findall(expr):
        labels = {label.strip() for label in grouping.split(",") if label.strip()}
        assert labels <= available, (labels, expr)
    assert expr.count("(") == expr.count(")"), expr
    assert expr.count("{") == expr.count("}"), expr


# -- the Grafana dashboard ---------------------------------------------------------------


def _dashboard() -> dict[str, Any]:
    return json.loads((DASHBOARDS / "grafana.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _panels() -> list[dict[str, Any]]:
    return [panel for panel in _dashboard()["panels"] if panel["type"] != "row"]


def test_the_dashboard_ships_in_the_package() -> None:
    """Both files are package data, found next to the code they describe."""
    assert (DASHBOARDS / "grafana.json").is_file()
    assert (DASHBOARDS / "prometheus-alerts.yml").is_file()


@pytest.mark.parametrize("panel", _panels(), ids=lambda panel: panel["title"])
def test_every_panel_reads_registered_metrics(
    panel: dict[str, Any], registered: dict[str, set[str]]
) -> None:
    """A panel's queries name only metrics and labels PrometheusMetrics registers."""
    assert panel["targets"]
    assert panel["description"]
    for target in panel["targets"]:
        _check_expression(target["expr"], registered)
        assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}


def test_the_endpoint_variable_reads_a_registered_label(registered: dict[str, set[str]]) -> None:
    """The endpoint picker lists the endpoint label of a registered metric."""
    variables = {variable["name"]: variable for variable in _dashboard()["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    query = variables["endpoint"]["query"]["query"]
    assert query == "label_values(retrykit_requests_total, endpoint)"
    assert "endpoint" in registered["retrykit_requests_total"]


def test_panel_ids_are_unique_and_panels_do_not_overlap() -> None:
    """Grafana needs distinct ids; panels side by side must not cover one another."""
    panels = _dashboard()["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24
        area = {
            (x, y)
            for x in range(position["x"], position["x"] + position["w"])
            for y in range(position["y"], position["y"] + position["h"])
        }
        assert not area & cells, panel["title"]
        cells |= area


# -- the Prometheus alerting rules -------------------------------------------------------


def _rules() -> list[dict[str, Any]]:
    text = (DASHBOARDS / "prometheus-alerts.yml").read_text(encoding="utf-8")
    [group] = _load_yaml(text)["groups"]
    assert group["name"] == "retrykit"
    return group["rules"]  # type: ignore[no-any-return]


def test_the_rules_are_the_guides_alerts() -> None:
    """One Prometheus rule per AlertRules rule, named by its 'rule' label."""
    rules = {rule["labels"]["rule"]: rule for rule in _rules()}
    assert set(rules) == {
        _alerts.AUTH_SPIKE,
        _alerts.RATE_LIMIT_TREND,
        _alerts.UNAVAILABLE_SPIKE,
        _alerts.SERVER_ERROR_RATIO,
        _alerts.FALLBACK_SUSTAINED,
    }
    for rule in rules.values():
        assert rule["alert"].startswith("Retrykit")
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]


@pytest.mark.parametrize("rule", _rules(), ids=lambda rule: rule["alert"])
def test_every_rule_reads_registered_metrics(
    rule: dict[str, Any], registered: dict[str, set[str]]
) -> None:
    """A rule's expression names only metrics and labels PrometheusMetrics registers."""
    _check_expression(rule["expr"], registered)
    for window in _DURATION.findall(rule["expr"]):
        assert re.fullmatch(r"[0-9]+[smh]", window), window


def _seconds(window: str) -> float:
    return float(window[:-1]) * {"s": 1, "m": 60, "h": 3600}[window[-1]]


def test_the_rules_use_alert_rules_defaults() -> None:
    """The numbers in the file are AlertRules' defaults, so both say the same thing."""
    defaults = AlertRules(lambda alert: None)
    rules = {rule["labels"]["rule"]: rule["expr"] for rule in _rules()}
    windows = {name: set(map(_seconds, _DURATION.findall(expr))) for name, expr in rules.items()}
    auth = rules[_alerts.AUTH_SPIKE]
    assert f">= {defaults.auth_threshold}" in auth
    assert f"< {defaults.auth_rise_factor / defaults.auth_baseline_windows:g} *" in auth
    assert windows[_alerts.AUTH_SPIKE] == {
        defaults.auth_window,
        defaults.auth_window * defaults.auth_baseline_windows,
    }
    trend = rules[_alerts.RATE_LIMIT_TREND]
    assert f">= {defaults.rate_limit_min_count}" in trend
    assert trend.count(" > ") == (defaults.rate_limit_windows or 0) - 1
    assert windows[_alerts.RATE_LIMIT_TREND] == {defaults.rate_limit_window}
    assert f">= {defaults.unavailable_threshold}" in rules[_alerts.UNAVAILABLE_SPIKE]
    assert windows[_alerts.UNAVAILABLE_SPIKE] == {defaults.unavailable_window}
    ratio = rules[_alerts.SERVER_ERROR_RATIO]
    assert f"> {defaults.server_error_ratio}" in ratio
    assert f">= {defaults.server_error_min_requests}" in ratio
    assert windows[_alerts.SERVER_ERROR_RATIO] == {defaults.server_error_window}
    fallback = rules[_alerts.FALLBACK_SUSTAINED]
    assert f"> {defaults.fallback_share}" in fallback
    assert f">= {defaults.fallback_min_calls}" in fallback
    assert windows[_alerts.FALLBACK_SUSTAINED] == {defaults.fallback_window}
