"""endpoint_templates: declared routes name endpoints the id rules cannot guess."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

import retrykit
from retrykit import Backoff, Metrics, RetryPolicy, endpoint_templates
from retrykit._core._endpoint import route_endpoint
from retrykit.httpx import ENDPOINT_EXTENSION, AsyncRetryTransport, RetryTransport
from retrykit.testing import FakeClock, Reply

if TYPE_CHECKING:
    from retrykit.testing import FlakyServer

ROUTES = endpoint_templates(
    [
        "/v1/users/{id}",
        "/v1/users/{id}/posts/{post_id}",
        "/v1/orders/{order_id}/items/{item_id}",
    ]
)


def test_a_declared_route_names_a_path_no_rule_could() -> None:
    """A username is a plain word: only a declared template turns it into a placeholder."""
    assert ROUTES("GET", "https://api.example.com/v1/users/alice") == (
        "GET api.example.com/v1/users/{id}"
    )


def test_placeholder_names_are_kept_as_written() -> None:
    """The template is the name, as the user wrote it (like OpenTelemetry's http.route)."""
    assert ROUTES("get", "https://api.example.com/v1/orders/o1/items/i2") == (
        "GET api.example.com/v1/orders/{order_id}/items/{item_id}"
    )


@pytest.mark.parametrize(
    "templates",
    [["/v1/users/me", "/v1/users/{id}"], ["/v1/users/{id}", "/v1/users/me"]],
)
def test_a_literal_segment_beats_a_placeholder_in_any_order(templates: list[str]) -> None:
    """/v1/users/me is its own route whether it is declared before or after /v1/users/{id}."""
    routes = endpoint_templates(templates)
    assert routes("GET", "https://h/v1/users/me") == "GET h/v1/users/me"
    assert routes("GET", "https://h/v1/users/bob") == "GET h/v1/users/{id}"


def test_a_literal_that_leads_nowhere_gives_way_to_a_placeholder() -> None:
    """A path that matches only through the placeholder still finds its template."""
    routes = endpoint_templates(["/a/{x}/c", "/a/b/d"])
    assert routes("GET", "https://h/a/b/c") == "GET h/a/{x}/c"
    assert routes("GET", "https://h/a/b/d") == "GET h/a/b/d"


def test_an_unmatched_path_falls_back_to_the_id_rules() -> None:
    """Routes left undeclared still lose their ids of known shapes."""
    assert ROUTES("GET", "https://h/v1/invoices/INV-2024-001") == "GET h/v1/invoices/{id}"
    assert ROUTES("GET", "https://h/v1/users/alice/settings") == "GET h/v1/users/alice/settings"


def test_a_placeholder_never_matches_an_empty_segment() -> None:
    """/v1/users/ (a trailing slash) is not /v1/users/{id}."""
    assert ROUTES("GET", "https://h/v1/users/") == "GET h/v1/users/"


def test_host_port_query_and_user_info_follow_endpoint_template() -> None:
    """The host part reads as endpoint_template's, and nothing secret is kept."""
    name = ROUTES("GET", "http://me:pw@API.Example.com/v1/users/alice?token=secret#x")
    assert name == "GET api.example.com:80/v1/users/{id}"
    assert ROUTES("GET", "http://[bad") == "GET (invalid url)"


@given(st.text(min_size=1))
def test_any_segment_value_gives_the_template(value: str) -> None:
    """Whatever fills the placeholder, the name is the template: one series per route."""
    url = "https://h/v1/users/" + quote(value, safe="")
    assert ROUTES("GET", url) == "GET h/v1/users/{id}"


@pytest.mark.parametrize(
    ("templates", "error", "match"),
    [
        ("/v1/users/{id}", TypeError, "a list of paths"),
        ([42], TypeError, "must be a str"),
        (["v1/users/{id}"], ValueError, "starting with '/'"),
        (["/v1/search?q={q}"], ValueError, "without a query"),
        (["/v1/users/user-{id}"], ValueError, "whole path segment"),
        (["/v1/users/{id}", "/v1/users/{name}"], ValueError, "same paths as '/v1/users/{id}'"),
    ],
)
def test_a_bad_template_is_refused_when_built(
    templates: object, error: type[Exception], match: str
) -> None:
    """A mistake fails at construction, naming the template."""
    with pytest.raises(error, match=match):
        endpoint_templates(templates)  # type: ignore[arg-type]


def test_repr_lists_the_templates() -> None:
    """The adapter's repr shows which routes were declared."""
    assert repr(endpoint_templates(["/a/{id}"])) == "endpoint_templates(['/a/{id}'])"


def test_it_is_public() -> None:
    """endpoint_templates is exported with the rest of retrykit's names."""
    assert "endpoint_templates" in retrykit.__all__


def test_adapters_take_it_as_endpoint_func(flaky_server: FlakyServer) -> None:
    """Events, and so logs and metrics, carry the declared template of each call."""
    flaky_server.script("/v1/users/alice", [Reply(503), Reply(200)])
    flaky_server.script("/v1/users/bob", [Reply(200)])
    metrics = Metrics()
    clock = FakeClock()
    transport = RetryTransport(
        policy=RetryPolicy(backoff=Backoff(base=0.1)),
        endpoint_func=ROUTES,
        hooks=[metrics],
        sleep=clock.sleep,
        clock=clock,
    )
    with httpx.Client(transport=transport) as client:
        for name in ("alice", "bob"):
            client.get(flaky_server.url(f"/v1/users/{name}"))
    endpoints = metrics.snapshot()["endpoints"]
    assert list(endpoints) == [f"GET 127.0.0.1:{flaky_server.port}/v1/users/{{id}}"]
    assert next(iter(endpoints.values()))["requests"] == 2


def test_a_route_named_per_request_reads_like_a_template() -> None:
    """The name an adapter builds from a per-request route keeps host rules and the route."""
    url = "http://API.example.com/v1/users/alice?token=secret"
    assert (
        route_endpoint("get", url, "/v1/users/{user}") == "GET api.example.com:80/v1/users/{user}"
    )
    assert route_endpoint("GET", "http://[bad", "/x") == "GET (invalid url)"
    with pytest.raises(ValueError, match=r"route: .*whole path segment"):
        route_endpoint("GET", url, "/v1/users/u-{id}")
    with pytest.raises(TypeError, match="route: each template must be a str"):
        route_endpoint("GET", url, 42)  # type: ignore[arg-type]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_the_endpoint_extension_names_one_request(
    flaky_server: FlakyServer, asynchronous: bool
) -> None:
    """``extensions={"retry_endpoint": route}`` names that request's endpoint in every event."""
    flaky_server.script("/v1/users/alice", [Reply(503), Reply(200)])
    metrics = Metrics()
    events: list[retrykit.Event] = []
    policy = RetryPolicy(backoff=Backoff(base=0.001))
    url = flaky_server.url("/v1/users/alice")
    route = {ENDPOINT_EXTENSION: "/v1/users/{name}"}
    if asynchronous:

        async def main() -> None:
            transport = AsyncRetryTransport(policy=policy, hooks=[metrics, events.append])
            async with httpx.AsyncClient(transport=transport) as client:
                assert (await client.get(url, extensions=route)).status_code == 200

        anyio.run(main)
    else:
        transport = RetryTransport(policy=policy, hooks=[metrics, events.append])
        with httpx.Client(transport=transport) as client:
            assert client.get(url, extensions=route).status_code == 200
    name = f"GET 127.0.0.1:{flaky_server.port}/v1/users/{{name}}"
    assert {getattr(event, "endpoint", name) for event in events} == {name}
    assert list(metrics.snapshot()["endpoints"]) == [name]


def test_a_bad_endpoint_extension_is_a_clear_error(flaky_server: FlakyServer) -> None:
    """A route that is not a template fails the request before anything is sent."""
    with (
        httpx.Client(transport=RetryTransport()) as client,
        pytest.raises(ValueError, match="route: "),
    ):
        client.get(flaky_server.url("/x"), extensions={ENDPOINT_EXTENSION: "/v1/u-{id}"})
    assert flaky_server.hits("/x") == 0
