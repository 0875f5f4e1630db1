"""RetryAdapter composes with the adapters people already mount, and with responses."""

from __future__ import annotations

import warnings

import pytest
import requests
import responses
import urllib3
from requests.adapters import HTTPAdapter

from retrykit import Backoff, RetryPolicy, get_history
from retrykit.requests import RetryAdapter, mount_retries
from retrykit.testing import FlakyServer, Reply, ScriptedAdapter

QUICK = RetryPolicy(backoff=Backoff(base=0.001))


def test_every_attempt_goes_through_the_inner_adapter() -> None:
    """RetryAdapter(adapter=inner) retries over the adapter you give it: no sockets needed."""
    inner = ScriptedAdapter([503, 503, (200, {}, "done")])
    session = requests.Session()
    session.mount("https://", RetryAdapter(adapter=inner, policy=QUICK))
    response = session.get("https://api.example.invalid/v1/items", timeout=5)
    assert (response.status_code, response.text) == (200, "done")
    assert len(inner.requests) == 3
    history = get_history(response)
    assert history is not None
    assert [a.status for a in history.attempts] == [503, 503, 200]


def test_mount_retries_wraps_what_the_session_has_mounted() -> None:
    """mount_retries puts retries above the adapter already mounted for a prefix."""
    session = requests.Session()
    inner = ScriptedAdapter([502, 200])
    session.mount("https://", inner)
    adapter = mount_retries(session, "https://", policy=QUICK)
    assert session.get_adapter("https://api.example.invalid/") is adapter
    assert adapter.inner is inner
    assert session.get("https://api.example.invalid/x", timeout=5).status_code == 200
    assert len(inner.requests) == 2


def test_closing_the_adapter_closes_the_inner_one() -> None:
    """session.close() reaches the adapter beneath."""
    closed = []

    class Recording(ScriptedAdapter):
        def close(self) -> None:
            closed.append(True)

    session = requests.Session()
    session.mount("https://", RetryAdapter(adapter=Recording([])))
    session.close()
    assert closed == [True]


def test_an_inner_adapter_that_retries_is_warned_about() -> None:
    """An inner HTTPAdapter with urllib3 retries would multiply the attempts: a warning says so."""
    with pytest.warns(UserWarning, match="multiply"):
        RetryAdapter(adapter=HTTPAdapter(max_retries=urllib3.Retry(total=2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RetryAdapter(adapter=HTTPAdapter(max_retries=0))


def test_a_retry_adapter_cannot_wrap_another() -> None:
    """Nesting two RetryAdapters is refused: their attempts would multiply."""
    with pytest.raises(ValueError, match="RetryAdapter"):
        RetryAdapter(adapter=RetryAdapter())
    with pytest.raises(TypeError, match="adapter"):
        RetryAdapter(adapter="https://")  # type: ignore[arg-type]


@responses.activate
def test_retries_run_under_the_responses_library() -> None:
    """responses patches HTTPAdapter.send, beneath retrykit: tests without sockets just work."""
    url = "https://api.example.invalid/v1/users/1"
    responses.add(responses.GET, url, status=503)
    responses.add(responses.GET, url, status=200, json={"id": 1})
    session = requests.Session()
    session.mount("https://", RetryAdapter(policy=QUICK))
    response = session.get(url, timeout=5)
    assert response.json() == {"id": 1}
    assert len(responses.calls) == 2


def test_httpx_inner_transport_that_retries_is_warned_about() -> None:
    """HTTPTransport(retries=2) beneath RetryTransport multiplies attempts: a warning says so."""
    import httpx

    from retrykit.httpx import RetryTransport

    with pytest.warns(UserWarning, match="multiply"):
        RetryTransport(httpx.HTTPTransport(retries=2))


def test_a_real_server_through_an_inner_http_adapter() -> None:
    """An HTTPAdapter of your own beneath RetryAdapter keeps its pool settings and retries."""
    with FlakyServer() as server:
        server.script("/x", [Reply(503), Reply(200, body=b"ok")])
        session = requests.Session()
        session.mount("http://", RetryAdapter(adapter=HTTPAdapter(pool_maxsize=2), policy=QUICK))
        assert session.get(server.url("/x"), timeout=5).text == "ok"
        assert server.hits("/x") == 2
