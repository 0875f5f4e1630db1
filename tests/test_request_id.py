"""request_id: the one list of request-id headers, read case-insensitively, cleaned and capped."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import httpx
import pytest
import requests.structures

from retrykit._core._headers import MAX_REQUEST_ID, REQUEST_ID_HEADERS, request_id


@pytest.mark.parametrize("name", REQUEST_ID_HEADERS)
def test_every_listed_header_gives_the_id(name: str) -> None:
    """Each header of the list, in any letter case, supplies the request id."""
    assert request_id({name.upper(): "req-1"}) == "req-1"
    assert request_id(httpx.Headers({name: "req-1"})) == "req-1"
    assert request_id(requests.structures.CaseInsensitiveDict({name: "req-1"})) == "req-1"


def test_first_header_of_the_list_wins() -> None:
    """With several request-id headers, the most common one (X-Request-Id) is used."""
    assert request_id({"X-Amz-Request-Id": "amz", "X-Request-Id": "mine"}) == "mine"


def test_empty_value_falls_through_to_the_next_header() -> None:
    """A header present but blank gives way to the next one that has a value."""
    assert request_id({"X-Request-Id": " \t", "Request-Id": "req-2"}) == "req-2"


def test_value_is_one_clean_line() -> None:
    """Control characters and line breaks in a request id are cleaned away."""
    assert request_id({"X-Request-Id": "req\r\n-3\x00 4"}) == "req -3 4"


def test_value_is_capped() -> None:
    """A request id longer than MAX_REQUEST_ID characters is cut, so no header can flood a log."""
    value = request_id({"X-Request-Id": "x" * 10_000})
    assert value is not None
    assert len(value) == MAX_REQUEST_ID


def test_no_request_id_is_none() -> None:
    """Headers without any request-id header give None."""
    assert request_id({"Content-Type": "text/plain"}) is None


class _BrokenHeaders(Mapping[str, str]):
    def __getitem__(self, key: str) -> str:
        raise RuntimeError("broken")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("broken")

    def __len__(self) -> int:
        return 1


def test_broken_headers_object_gives_none() -> None:
    """A headers object that raises costs the request id, never the call."""
    assert request_id(_BrokenHeaders()) is None


def test_bytes_value_is_ignored() -> None:
    """A value that is not text (requests lets bytes through) is no request id."""
    headers = requests.structures.CaseInsensitiveDict({"X-Request-Id": b"raw"})
    assert request_id(headers) is None  # type: ignore[arg-type]
