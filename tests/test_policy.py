"""RetryPolicy: its defaults, its validation and how variants are made."""

from __future__ import annotations

import math

import attrs
import pytest
from hypothesis import given

from retrykit import Backoff, RetryPolicy
from tests.strategies import policies


def test_default_max_attempts() -> None:
    """By default a call makes at most 4 attempts: the first and 3 retries."""
    assert RetryPolicy().max_attempts == 4


def test_default_retry_statuses() -> None:
    """By default 408, 429, 500, 502, 503 and 504 are retried."""
    assert RetryPolicy().retry_statuses == frozenset({408, 429, 500, 502, 503, 504})


def test_default_idempotent_methods() -> None:
    """By default GET, HEAD, OPTIONS, PUT, DELETE and TRACE are safe to repeat."""
    assert RetryPolicy().idempotent_methods == frozenset(
        {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"}
    )


def test_default_post_and_patch_not_idempotent() -> None:
    """POST and PATCH are not in the default idempotent methods."""
    assert {"POST", "PATCH"}.isdisjoint(RetryPolicy().idempotent_methods)


def test_default_respects_retry_after_up_to_sixty_seconds() -> None:
    """By default Retry-After is honoured, up to 60 seconds."""
    policy = RetryPolicy()
    assert policy.respect_retry_after is True
    assert policy.max_retry_after == 60.0


def test_default_deadline_is_finite() -> None:
    """By default every call has a finite worst case: a 60 s deadline."""
    assert RetryPolicy().deadline == 60.0


def test_deadline_none_means_no_bound() -> None:
    """deadline=None is still accepted, for those who want no bound."""
    assert RetryPolicy(deadline=None).deadline is None


def test_default_idempotency_header() -> None:
    """By default the idempotency header is Idempotency-Key and no key is added automatically."""
    policy = RetryPolicy()
    assert policy.idempotency_header == "Idempotency-Key"
    assert policy.auto_idempotency_key is False


def test_default_backoff() -> None:
    """By default the wait is the default Backoff (full jitter, 1 s doubling, 30 s cap)."""
    assert RetryPolicy().backoff == Backoff()


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "4", None])
def test_max_attempts_must_be_a_positive_int(value: object) -> None:
    """max_attempts below 1, or not an int, is refused."""
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=value)  # type: ignore[arg-type]


def test_one_attempt_allowed() -> None:
    """max_attempts=1 is valid: it turns retries off."""
    assert RetryPolicy(max_attempts=1).max_attempts == 1


@pytest.mark.parametrize("value", [0, 0.0, -1.0, -0.001, math.inf, -math.inf, math.nan])
def test_deadline_must_be_positive_and_finite(value: float) -> None:
    """A deadline of zero, below zero, NaN or infinite is refused (None means no deadline)."""
    with pytest.raises(ValueError, match="deadline"):
        RetryPolicy(deadline=value)


@pytest.mark.parametrize("value", [0.001, 1, 30.5])
def test_positive_deadline_accepted(value: float) -> None:
    """Any positive finite deadline is kept as given."""
    assert RetryPolicy(deadline=value).deadline == value


@pytest.mark.parametrize(
    "statuses", [{200}, {503, 200}, {301}, {100}, {600}, {-1}, {True}, {"503"}, {503.0}]
)
def test_retry_statuses_must_be_4xx_or_5xx(statuses: set[object]) -> None:
    """A retry status that is not a 4xx or 5xx int is refused."""
    with pytest.raises(ValueError, match="retry_statuses"):
        RetryPolicy(retry_statuses=statuses)  # type: ignore[arg-type]


def test_retry_statuses_any_iterable() -> None:
    """retry_statuses may be any iterable of ints and is stored as a frozenset."""
    policy = RetryPolicy(retry_statuses=[503, 429, 503])
    assert policy.retry_statuses == frozenset({429, 503})
    assert isinstance(policy.retry_statuses, frozenset)


def test_empty_retry_statuses_allowed() -> None:
    """An empty set of retry statuses is valid: only failures without a response are retried."""
    assert RetryPolicy(retry_statuses=()).retry_statuses == frozenset()


@pytest.mark.parametrize("methods", ["GET", "GET,PUT", ""])
def test_methods_given_as_a_str_rejected(methods: str) -> None:
    """A str of method names is refused instead of being split into letters."""
    with pytest.raises(TypeError, match="not a str"):
        RetryPolicy(idempotent_methods=methods)


@pytest.mark.parametrize("methods", [["GET", 1], [None], [b"GET"]])
def test_method_names_must_be_str(methods: list[object]) -> None:
    """A method name that is not a str is refused, naming idempotent_methods."""
    with pytest.raises(TypeError, match="idempotent_methods"):
        RetryPolicy(idempotent_methods=methods)  # type: ignore[arg-type]


def test_methods_upper_cased() -> None:
    """Method names are stored upper-cased, so 'get' and 'GET' are the same."""
    policy = RetryPolicy(idempotent_methods=["get", "Put", "DELETE"])
    assert policy.idempotent_methods == frozenset({"GET", "PUT", "DELETE"})


@pytest.mark.parametrize("value", [-1.0, math.inf, math.nan])
def test_max_retry_after_must_be_finite_and_non_negative(value: float) -> None:
    """max_retry_after below zero, NaN or infinite is refused."""
    with pytest.raises(ValueError, match="max_retry_after"):
        RetryPolicy(max_retry_after=value)


@pytest.mark.parametrize("value", ["", "Idempotency:Key", "Clé", 5])
def test_idempotency_header_must_be_an_ascii_name(value: object) -> None:
    """The idempotency header must be a non-empty ASCII header name."""
    with pytest.raises(ValueError, match="idempotency_header"):
        RetryPolicy(idempotency_header=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["respect_retry_after", "auto_idempotency_key"])
@pytest.mark.parametrize("value", [1, "yes", None])
def test_flags_must_be_bools(field: str, value: object) -> None:
    """The on/off settings take a bool, not a truthy value."""
    with pytest.raises(TypeError, match=field):
        RetryPolicy(**{field: value})  # type: ignore[arg-type]


def test_backoff_must_be_a_backoff() -> None:
    """backoff must be a Backoff instance."""
    with pytest.raises(TypeError, match="backoff"):
        RetryPolicy(backoff=1.0)  # type: ignore[arg-type]


def test_evolve_makes_a_variant() -> None:
    """attrs.evolve gives a new policy with one field changed and the rest kept."""
    policy = RetryPolicy(max_retry_after=5.0)
    variant = attrs.evolve(policy, max_attempts=2)
    assert variant.max_attempts == 2
    assert variant.max_retry_after == 5.0
    assert policy.max_attempts == 4


def test_evolve_validates() -> None:
    """attrs.evolve checks the new values as the constructor does."""
    with pytest.raises(ValueError, match="max_attempts"):
        attrs.evolve(RetryPolicy(), max_attempts=0)


def test_evolve_converts_methods() -> None:
    """attrs.evolve upper-cases new method names too."""
    variant = attrs.evolve(RetryPolicy(), idempotent_methods={"post"})
    assert variant.idempotent_methods == frozenset({"POST"})


def test_policy_is_frozen() -> None:
    """A policy cannot be changed after it is built, so sharing one is safe."""
    policy = RetryPolicy()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.max_attempts = 10  # type: ignore[misc]


def test_equal_policies_hash_alike() -> None:
    """Policies built from equal settings are equal and hash alike (usable as dict keys)."""
    assert RetryPolicy(retry_statuses=[503]) == RetryPolicy(retry_statuses={503})
    assert hash(RetryPolicy()) == hash(RetryPolicy())


@given(policies())
def test_evolve_round_trip(policy: RetryPolicy) -> None:
    """Rebuilding any valid policy from its own fields gives an equal policy."""
    assert attrs.evolve(policy) == policy
    assert RetryPolicy(**attrs.asdict(policy, recurse=False)) == policy
