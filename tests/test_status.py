"""classify_status: the family of every status code, and what it refuses."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrykit import StatusFamily, classify_status
from retrykit._core._status import family_of, is_server_error, reason_phrase
from tests.strategies import statuses

_SPECIFIC = {400, 401, 403, 404, 408, 409, 410, 413, 422, 423, 429, 500, 502, 503, 504}


@pytest.mark.parametrize(
    ("status", "family"),
    [
        (400, StatusFamily.VALIDATION),
        (422, StatusFamily.VALIDATION),
        (401, StatusFamily.AUTH),
        (403, StatusFamily.POLICY),
        (404, StatusFamily.NOT_FOUND),
        (410, StatusFamily.NOT_FOUND),
        (408, StatusFamily.TIMEOUT),
        (409, StatusFamily.CONFLICT),
        (413, StatusFamily.PAYLOAD_TOO_LARGE),
        (423, StatusFamily.LOCKED),
        (429, StatusFamily.RATE_LIMITED),
        (500, StatusFamily.SERVER),
        (502, StatusFamily.UPSTREAM),
        (503, StatusFamily.UNAVAILABLE),
        (504, StatusFamily.TIMEOUT),
    ],
)
def test_status_with_a_rule_of_its_own(status: int, family: StatusFamily) -> None:
    """Each status with its own retry or error rule maps to its own family."""
    assert classify_status(status) is family


@pytest.mark.parametrize(
    "status", [402, 405, 406, 407, 411, 412, 414, 415, 416, 417, 418, 421, 424, 428, 431, 451, 499]
)
def test_other_4xx_is_client(status: int) -> None:
    """A 4xx without a rule of its own is a generic client error."""
    assert classify_status(status) is StatusFamily.CLIENT


@pytest.mark.parametrize("status", [501, 505, 506, 507, 508, 510, 511, 520, 599])
def test_other_5xx_is_server(status: int) -> None:
    """A 5xx without a rule of its own is a generic server error."""
    assert classify_status(status) is StatusFamily.SERVER


@pytest.mark.parametrize(
    ("status", "family"),
    [
        (200, StatusFamily.SUCCESS),
        (201, StatusFamily.SUCCESS),
        (204, StatusFamily.SUCCESS),
        (299, StatusFamily.SUCCESS),
        (300, StatusFamily.REDIRECT),
        (301, StatusFamily.REDIRECT),
        (304, StatusFamily.REDIRECT),
        (308, StatusFamily.REDIRECT),
        (399, StatusFamily.REDIRECT),
        (100, StatusFamily.INFORMATIONAL),
        (101, StatusFamily.INFORMATIONAL),
        (103, StatusFamily.INFORMATIONAL),
        (199, StatusFamily.INFORMATIONAL),
    ],
)
def test_1xx_2xx_3xx_by_class(status: int, family: StatusFamily) -> None:
    """1xx, 2xx and 3xx statuses are classified by their first digit."""
    assert classify_status(status) is family


@pytest.mark.parametrize("status", [99, 600, -1, 0, 1000, -404])
def test_out_of_range_status_raises(status: int) -> None:
    """A number outside 100..599 is not a status code and raises ValueError."""
    with pytest.raises(ValueError, match="100 to 599"):
        classify_status(status)


@pytest.mark.parametrize("status", [400.0, 200.0, "404", True, None])
def test_non_int_status_raises(status: object) -> None:
    """A status that is not an int raises ValueError, even one equal to a listed code."""
    with pytest.raises(ValueError, match="must be an int"):
        classify_status(status)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "family"),
    [
        (HTTPStatus.OK, StatusFamily.SUCCESS),
        (HTTPStatus.TOO_MANY_REQUESTS, StatusFamily.RATE_LIMITED),
        (HTTPStatus.SERVICE_UNAVAILABLE, StatusFamily.UNAVAILABLE),
        (HTTPStatus.NOT_IMPLEMENTED, StatusFamily.SERVER),
    ],
)
def test_http_status_enum_accepted(status: HTTPStatus, family: StatusFamily) -> None:
    """http.HTTPStatus members, being ints, classify like the plain numbers."""
    assert classify_status(status) is family


@given(statuses().filter(lambda status: status not in _SPECIFIC))
def test_unlisted_status_follows_its_class(status: int) -> None:
    """Every status without its own rule gets the family of its hundred."""
    expected = {
        1: StatusFamily.INFORMATIONAL,
        2: StatusFamily.SUCCESS,
        3: StatusFamily.REDIRECT,
        4: StatusFamily.CLIENT,
        5: StatusFamily.SERVER,
    }[status // 100]
    assert classify_status(status) is expected


@given(st.integers().filter(lambda status: not 100 <= status <= 599))
def test_any_int_outside_the_range_raises(status: int) -> None:
    """No integer outside 100..599 is ever given a family."""
    with pytest.raises(ValueError, match="100 to 599"):
        classify_status(status)


@pytest.mark.parametrize(
    ("status", "phrase"),
    [(200, "OK"), (404, "Not Found"), (429, "Too Many Requests"), (503, "Service Unavailable")],
)
def test_reason_phrase(status: int, phrase: str) -> None:
    """A standard status gives its reason phrase, as a status line or an error message shows it."""
    assert reason_phrase(status) == phrase


@pytest.mark.parametrize("status", [599, 0, -1, 10**20, "404", None, 404.5])
def test_reason_phrase_of_no_standard_status_is_empty(status: object) -> None:
    """A status without a standard phrase, or not a status at all, gives "" and never raises."""
    assert reason_phrase(status) == ""  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "expected"), [(499, False), (500, True), (599, True), (600, False)]
)
def test_is_server_error_is_the_5xx_class(status: int, expected: bool) -> None:
    """Exactly the 5xx statuses are server errors, whatever their own family."""
    assert is_server_error(status) is expected


@given(statuses())
def test_family_of_a_valid_status_is_its_classification(status: int) -> None:
    """For a real status, family_of agrees with classify_status."""
    assert family_of(status) is classify_status(status)


@pytest.mark.parametrize("status", [0, 99, 600, -5, 10**20, "503", None])
def test_family_of_an_impossible_status_is_server(status: object) -> None:
    """A status no server may send is read as a broken server, never an exception."""
    assert family_of(status) is StatusFamily.SERVER  # type: ignore[arg-type]
