"""The core's shared validators: every settings class refuses a bad value when it is built."""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest

from retrykit import AlertRules, Backoff, Metrics, RetryPolicy
from retrykit._core._breaker import BreakerConfig
from retrykit._core._budget import BudgetConfig
from retrykit._core._validators import non_negative, number, positive, positive_int

FLOAT_SETTINGS: list[tuple[type[Any], str]] = [
    (Backoff, "base"),
    (Backoff, "multiplier"),
    (Backoff, "cap"),
    (Backoff, "jitter_ratio"),
    (RetryPolicy, "max_retry_after"),
    (RetryPolicy, "deadline"),
    (BudgetConfig, "ratio"),
    (BudgetConfig, "min_per_second"),
    (BudgetConfig, "ttl"),
    (BreakerConfig, "recovery_timeout"),
    (BreakerConfig, "window"),
    (BreakerConfig, "failure_rate"),
]
COUNT_SETTINGS: list[tuple[type[Any], str]] = [
    (RetryPolicy, "max_attempts"),
    (BreakerConfig, "failure_threshold"),
    (BreakerConfig, "half_open_max_calls"),
    (BreakerConfig, "success_threshold"),
    (BreakerConfig, "minimum_calls"),
    (BreakerConfig, "max_keys"),
]


@attrs.frozen
class _Settings:
    duration: float = attrs.field(default=1.0, validator=non_negative)
    window: float = attrs.field(default=1.0, validator=positive)
    count: int = attrs.field(default=1, validator=positive_int)


@pytest.mark.parametrize(("cls", "name"), FLOAT_SETTINGS)
@pytest.mark.parametrize("value", [True, False])
def test_bool_for_a_float_setting_is_a_type_error(cls: type[Any], name: str, value: bool) -> None:
    """A bool passed where a duration or ratio belongs is refused with TypeError, naming it."""
    with pytest.raises(TypeError, match=name):
        cls(**{name: value})


@pytest.mark.parametrize(("cls", "name"), COUNT_SETTINGS)
@pytest.mark.parametrize("value", [True, 2.0, "3", None])
def test_count_that_is_not_an_int_is_refused(cls: type[Any], name: str, value: object) -> None:
    """A count given as a bool, a float, a str or None is refused, naming the setting."""
    with pytest.raises(ValueError, match=name):
        cls(**{name: value})


@pytest.mark.parametrize(("cls", "name"), FLOAT_SETTINGS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_float_setting_is_refused(cls: type[Any], name: str, value: float) -> None:
    """NaN and infinities are refused with ValueError for every float setting."""
    with pytest.raises(ValueError, match=name):
        cls(**{name: value})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("duration", -0.5, "'duration' must be >= 0: -0.5"),
        ("window", 0, "'window' must be > 0: 0"),
        ("count", 0, "'count' must be >= 1: 0"),
        ("duration", math.inf, "'duration' must be finite: inf"),
        ("count", 1.5, "'count' must be an int: 1.5"),
    ],
)
def test_message_names_the_parameter_and_what_it_accepts(
    field: str, value: object, message: str
) -> None:
    """The error says which parameter was wrong and what it would have accepted."""
    with pytest.raises(ValueError, match=message):
        _Settings(**{field: value})  # type: ignore[arg-type]


def test_number_message_for_a_wrong_type() -> None:
    """A value that is no number at all is a TypeError saying a number is expected."""
    with pytest.raises(TypeError, match="'duration' must be a number: '1'"):
        _Settings(duration="1")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, 1, 0.5, 10**6, 1e-300])
def test_number_accepts_finite_ints_and_floats(value: float) -> None:
    """Any finite int or float passes the number check."""
    validator = number()
    validator(None, attrs.fields(_Settings).duration, value)


@pytest.mark.parametrize(
    "config",
    [
        {"auth_window": True},
        {"rate_limit_window": "60"},
        {"unavailable_window": -1.0},
        {"server_error_window": math.nan},
        {"rate_limit_windows": 2.5},
        {"auth_baseline_windows": 0},
    ],
)
def test_alert_rules_use_the_shared_validators(config: dict[str, object]) -> None:
    """AlertRules refuses a bad window or count when built, naming it."""
    with pytest.raises((TypeError, ValueError), match=next(iter(config))):
        AlertRules(print, **config)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [True, 1.5, "10"])
def test_metrics_max_endpoints_must_be_an_int(value: object) -> None:
    """Metrics refuses a max_endpoints that is not an int, naming it."""
    with pytest.raises(ValueError, match="max_endpoints"):
        Metrics(max_endpoints=value)  # type: ignore[arg-type]
