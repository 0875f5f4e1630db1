"""AlertRules: each rule fires once per episode, again after it cleared, on a fake clock."""

from __future__ import annotations

import pytest

from retrykit import Alert, AlertRules, AttemptFinished, CallFinished, FailureKind, Reason

EP = "GET api.example.com/v1/users/{id}"


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """An AlertRules on a fake clock, recording the alerts it raises."""

    def __init__(self, **config: object) -> None:
        self.clock = FakeClock()
        self.alerts: list[Alert] = []
        self.rules = AlertRules(self.alerts.append, clock=self.clock, **config)  # type: ignore[arg-type]

    def respond(
        self, status: int, count: int = 1, *, at: float | None = None, endpoint: str = EP
    ) -> None:
        if at is not None:
            self.clock.now = at
        for _ in range(count):
            self.rules(AttemptFinished("GET", endpoint, 1, status, None, 0.05))

    def rules_fired(self) -> list[str]:
        return [alert.rule for alert in self.alerts]


def test_auth_spike_fires_once_per_episode() -> None:
    """Five 401/403 in a minute alert once, however many follow."""
    harness = Harness()
    harness.respond(401, 4, at=1.0)
    assert harness.alerts == []
    harness.respond(403, at=2.0)
    assert harness.alerts == [Alert("auth_spike", EP, 5.0, 5.0, 60.0)]
    harness.respond(401, 50, at=3.0)
    assert harness.rules_fired() == ["auth_spike"]


def test_auth_spike_fires_again_after_clearing() -> None:
    """Once the window holds fewer than the threshold, a new spike alerts again."""
    harness = Harness()
    harness.respond(401, 5, at=1.0)
    harness.respond(200, at=2000.0)
    harness.respond(401, 5, at=2001.0)
    assert harness.rules_fired() == ["auth_spike", "auth_spike"]


def test_auth_spike_is_measured_against_the_usual_rate() -> None:
    """An endpoint that usually sees four bad tokens a minute alerts at three times that."""
    harness = Harness(auth_threshold=3)
    for minute in range(11):
        for quarter in range(4):
            harness.respond(401, at=minute * 60 + quarter * 15 + 1.0)
    harness.alerts.clear()  # the first minute had no history to compare with
    harness.respond(401, 11, at=710.0)
    assert harness.alerts == []
    harness.respond(401, at=710.5)
    assert harness.alerts == [Alert("auth_spike", EP, 12.0, 12.0, 60.0)]


def test_rate_limit_trend_fires_once_on_rising_windows() -> None:
    """429s rising over three consecutive minutes alert once, while they keep rising."""
    harness = Harness()
    harness.respond(429, 10, at=1.0)
    harness.respond(429, 15, at=61.0)
    harness.respond(429, 15, at=121.0)
    assert harness.alerts == []
    harness.respond(429, at=122.0)
    assert harness.alerts == [Alert("rate_limit_trend", EP, 16.0, 15.0, 60.0)]
    harness.respond(429, 10, at=123.0)
    harness.respond(429, 30, at=181.0)
    assert harness.rules_fired() == ["rate_limit_trend"]


def test_rate_limit_trend_fires_again_after_a_window_that_did_not_rise() -> None:
    """After a minute with fewer 429s than the one before, a new rise alerts again."""
    harness = Harness()
    for window, count in enumerate([10, 15, 20, 5, 11, 12]):
        harness.respond(429, count, at=window * 60 + 1.0)
    assert harness.rules_fired() == ["rate_limit_trend", "rate_limit_trend"]


def test_steady_rate_limits_are_not_a_trend() -> None:
    """Many 429s at a steady rate do not alert: they are capacity, not a change."""
    harness = Harness()
    for window in range(6):
        harness.respond(429, 20, at=window * 60 + 1.0)
    assert harness.alerts == []


def test_unavailable_spike_fires_once_per_episode() -> None:
    """Ten 503s in a minute alert once, however many follow."""
    harness = Harness()
    harness.respond(503, 9, at=1.0)
    assert harness.alerts == []
    harness.respond(503, 20, at=2.0)
    assert harness.alerts == [Alert("unavailable_spike", EP, 10.0, 10.0, 60.0)]


def test_unavailable_spike_fires_again_after_clearing() -> None:
    """When the outage is over, the next one alerts again."""
    harness = Harness()
    harness.respond(503, 10, at=1.0)
    harness.respond(200, at=130.0)
    harness.respond(503, 10, at=131.0)
    assert harness.rules_fired() == ["unavailable_spike", "unavailable_spike"]


def test_sparse_unavailable_does_not_alert() -> None:
    """Nine 503s a minute, hour after hour, never reach the threshold."""
    harness = Harness()
    for minute in range(60):
        for index in range(9):
            harness.respond(503, at=minute * 60 + index * 6 + 0.5)
    assert harness.rules_fired() == []


def test_endpoints_are_judged_apart() -> None:
    """Five 503s on each of two endpoints are not a spike on either."""
    harness = Harness()
    harness.respond(503, 5, at=1.0)
    harness.respond(503, 5, at=1.0, endpoint="GET api.example.com/v1/orders")
    assert harness.alerts == []


def test_server_error_ratio_waits_for_enough_requests() -> None:
    """5xx above 10 % alert only once 100 responses were seen."""
    harness = Harness(unavailable_threshold=None)
    harness.respond(500, 11, at=1.0)
    harness.respond(200, 88, at=2.0)
    assert harness.alerts == []
    harness.respond(200, at=3.0)
    assert harness.alerts == [Alert("server_error_ratio", EP, 0.11, 0.10, 300.0)]


@pytest.mark.parametrize(("status", "alerts"), [(504, True), (599, True), (408, False)])
def test_server_error_ratio_counts_the_5xx_class(status: int, alerts: bool) -> None:
    """Every 5xx counts toward the ratio, a 504 timeout included, and a 408 timeout never."""
    harness = Harness(unavailable_threshold=None)
    harness.respond(status, 11, at=1.0)
    harness.respond(200, 89, at=2.0)
    assert (harness.rules_fired() == ["server_error_ratio"]) is alerts


def test_server_error_ratio_at_ten_percent_does_not_alert() -> None:
    """Exactly 10 % of 5xx is within the limit."""
    harness = Harness()
    harness.respond(502, 10, at=1.0)
    harness.respond(200, 90, at=2.0)
    assert harness.alerts == []


def test_server_error_ratio_fires_once_then_again_after_clearing() -> None:
    """The ratio alert repeats only after the ratio went back to 10 % or less."""
    harness = Harness()
    harness.respond(200, 89, at=1.0)
    harness.respond(500, 11, at=2.0)
    harness.respond(500, 5, at=3.0)
    assert harness.rules_fired() == ["server_error_ratio"]
    harness.respond(200, 55, at=4.0)  # 16 of 160: back to 10 %
    harness.respond(500, at=5.0)
    assert harness.rules_fired() == ["server_error_ratio", "server_error_ratio"]


def test_server_error_ratio_forgets_old_traffic() -> None:
    """Responses older than the window no longer count toward the 100."""
    harness = Harness()
    harness.respond(200, 89, at=1.0)
    harness.respond(500, 11, at=400.0)
    assert harness.alerts == []


@pytest.mark.parametrize(
    ("config", "status"),
    [
        ({"auth_threshold": None}, 401),
        ({"unavailable_threshold": None, "server_error_ratio": None}, 503),
        ({"rate_limit_windows": None}, 429),
    ],
)
def test_rule_can_be_disabled(config: dict[str, object], status: int) -> None:
    """A rule whose threshold is None never fires."""
    harness = Harness(**config)
    for window, count in enumerate([10, 20, 40, 80]):
        harness.respond(status, count, at=window * 60 + 1.0)
    assert harness.alerts == []


def test_other_events_are_ignored() -> None:
    """Calls, and attempts without a response, do not feed the status rules."""
    harness = Harness()
    for _ in range(20):
        harness.rules(CallFinished("GET", EP, False, "attempts_exhausted", 4, 1.0, 503))
        harness.rules(AttemptFinished("GET", EP, 1, None, FailureKind.CONNECT, 0.1))
    assert harness.alerts == []


def test_state_is_bounded() -> None:
    """At most max_endpoints endpoints are tracked, least recently used dropped first."""
    harness = Harness(max_endpoints=3)
    for number in range(10):
        harness.respond(200, at=1.0, endpoint=f"GET h/{number}")
    assert list(harness.rules._endpoints) == ["GET h/7", "GET h/8", "GET h/9"]


def test_callback_may_feed_the_rules_again() -> None:
    """on_alert runs outside the lock, so it may itself emit events without deadlock."""
    clock = FakeClock()
    seen: list[Alert] = []

    def on_alert(alert: Alert) -> None:
        seen.append(alert)
        rules(AttemptFinished("GET", "GET other/x", 1, 200, None, 0.1))

    rules = AlertRules(on_alert, clock=clock)
    for _ in range(10):
        rules(AttemptFinished("GET", EP, 1, 503, None, 0.1))
    assert [alert.rule for alert in seen] == ["unavailable_spike"]


@pytest.mark.parametrize(
    "config",
    [
        {"auth_window": 0},
        {"server_error_window": float("inf")},
        {"rate_limit_windows": 1},
        {"max_endpoints": 0},
    ],
)
def test_invalid_configuration_is_refused(config: dict[str, object]) -> None:
    """A rule that could never work is refused at construction."""
    with pytest.raises(ValueError, match=next(iter(config))):
        AlertRules(print, **config)  # type: ignore[arg-type]


def test_alert_is_frozen() -> None:
    """An Alert is a value: it can be logged, compared and kept."""
    alert = Alert("unavailable_spike", EP, 10.0, 10.0, 60.0)
    with pytest.raises(AttributeError):
        alert.observed = 1.0  # type: ignore[misc]


def _served(endpoint: str, *, fallback: bool) -> CallFinished:
    return CallFinished(
        method="GET",
        endpoint=endpoint,
        succeeded=True,
        reason=Reason.SUCCESS,
        attempts=1,
        total_time=0.01,
        status=200,
        origin="https://eu.api.example.com:443" if fallback else "https://api.example.com:443",
        fallback=fallback,
    )


def test_fallback_sustained_fires_when_fallbacks_serve_most_calls() -> None:
    """An endpoint whose calls mostly land on a fallback raises fallback_sustained, once."""
    alerts: list[Alert] = []
    now = [0.0]
    rules = AlertRules(alerts.append, clock=lambda: now[0], fallback_min_calls=10)
    for index in range(30):
        now[0] += 1.0
        rules(_served("GET api.example.com/v1/items", fallback=index % 4 != 0))
    assert [alert.rule for alert in alerts] == ["fallback_sustained"]
    assert alerts[0].observed > 0.5


def test_an_occasional_fallback_raises_nothing() -> None:
    """A fallback that serves a few calls in a blip is not an escalation."""
    alerts: list[Alert] = []
    rules = AlertRules(alerts.append, clock=lambda: 0.0, fallback_min_calls=10)
    for index in range(40):
        rules(_served("GET api.example.com/v1/items", fallback=index % 5 == 0))
    assert alerts == []
