"""endpoint_template and key_fingerprint: bounded endpoint names, credentials never shown."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retrykit import endpoint_template, key_fingerprint

if TYPE_CHECKING:
    import uuid


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://api.github.com/repos/octocat/hello-world/issues/1347/comments",
            "api.github.com/repos/octocat/hello-world/issues/{id}/comments",
        ),
        (
            "https://api.github.com/repos/o/r/commits/7fd1a60b01f91b314f59955a4e4d4e80d8edf11d",
            "api.github.com/repos/o/r/commits/{id}",
        ),
        (
            "https://api.github.com/repos/o/r/commits/a1b2c3d",
            "api.github.com/repos/o/r/commits/{id}",
        ),
        (
            "https://api.stripe.com/v1/customers/cus_NffrFeUfNV2Hib",
            "api.stripe.com/v1/customers/{id}",
        ),
        (
            "https://api.stripe.com/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm",
            "api.stripe.com/v1/payment_intents/{id}/confirm",
        ),
        (
            "https://api.stripe.com/v1/subscription_schedules/sub_sched_1Mr3YcLkdIwHu7ixYCFhXHNb",
            "api.stripe.com/v1/subscription_schedules/{id}",
        ),
        (
            "https://api.example.com/v2/orders/3fa85f64-5717-4562-b3fc-2c963f66afa6/items/17",
            "api.example.com/v2/orders/{id}/items/{id}",
        ),
        (
            "https://api.example.com/objects/507f1f77bcf86cd799439011",
            "api.example.com/objects/{id}",
        ),
        ("https://api.example.com/videos/dQw4w9WgXcQ", "api.example.com/videos/{id}"),
        ("https://api.example.com/ulid/01ARZ3NDEKTSV4RRFFQ69G5FAV", "api.example.com/ulid/{id}"),
        ("https://api.example.com/n/V1StGXR8_Z5jdHi6B-myT", "api.example.com/n/{id}"),
        (
            "https://api.example.com/b64/aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=",
            "api.example.com/b64/{id}",
        ),
        ("https://ec2.example.com/instances/i-0abcd1234ef567890", "ec2.example.com/instances/{id}"),
        ("https://api.example.com/reports/2024-01-31", "api.example.com/reports/{id}"),
        ("https://api.example.com/v1/orders/ord_8f7Q2", "api.example.com/v1/orders/{id}"),
        ("https://api.example.com/v1/users/user_12345", "api.example.com/v1/users/{id}"),
        ("https://api.example.com/v1/items/A-1", "api.example.com/v1/items/{id}"),
        ("https://api.example.com/v1/skus/SKU-123/stock", "api.example.com/v1/skus/{id}/stock"),
        ("https://api.example.com/invoices/INV-2024-001", "api.example.com/invoices/{id}"),
        ("https://api.example.com/seats/AB12", "api.example.com/seats/{id}"),
        ("https://api.example.com/quarters/2024-Q1", "api.example.com/quarters/{id}"),
        ("https://api.example.com/users/alice%40example.com", "api.example.com/users/{id}"),
        (
            "https://api.example.com/posts/" + "a-very-long-slug-that-is-data-and-not-a-route",
            "api.example.com/posts/{id}",
        ),
    ],
)
def test_ids_become_placeholders(url: str, expected: str) -> None:
    """Numbers, UUIDs, hex digests, prefixed and base64-like ids collapse to {id}."""
    assert endpoint_template("GET", url) == f"GET {expected}"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/users",
        "/v2/charges/search",
        "/apis/apps/v1beta1/namespaces/default/deployments",
        "/oauth2callback",
        "/v1/user-preferences",
        "/v1/payment_intents",
        "/v1/sha256/deadbeef",
        "/repos/octocat/hello-world",
        "/api/getUserProfile",
        "/V2/users",
        "/api_v2/users",
        "/v1/oauth_2fa",
        "/v1/ipv4/ranges",
        "/v1/USERS",
        "/v1/user_preferences",
    ],
)
def test_route_words_and_versions_stay(path: str) -> None:
    """Route names and API versions are kept, so endpoints stay readable."""
    assert endpoint_template("get", f"https://api.example.com{path}") == (
        f"GET api.example.com{path}"
    )


def test_query_and_fragment_are_dropped() -> None:
    """The query string (where tokens often travel) never reaches an endpoint name."""
    url = "https://api.example.com/v1/search?q=secret&api_key=sk_live_abc#frag"
    assert endpoint_template("GET", url) == "GET api.example.com/v1/search"


def test_userinfo_is_dropped() -> None:
    """Credentials embedded in the URL never reach an endpoint name."""
    template = endpoint_template("GET", "https://user:hunter2@api.example.com/v1/users")
    assert template == "GET api.example.com/v1/users"
    assert "hunter2" not in template


def test_explicit_port_is_kept_and_host_lowercased() -> None:
    """A non-default port tells services apart; host case does not."""
    url = "https://API.Example.com:8443/v1/users"
    assert endpoint_template("post", url) == "POST api.example.com:8443/v1/users"


@pytest.mark.parametrize(
    "url", ["https://api.example.com/v1/users", "https://api.example.com:443/v1/users"]
)
def test_port_443_is_left_out(url: str) -> None:
    """An endpoint without a port is on 443, whether the URL spelled it out or not."""
    assert endpoint_template("GET", url) == "GET api.example.com/v1/users"


@pytest.mark.parametrize(
    "url", ["http://api.example.com/v1/users", "http://api.example.com:80/v1/users"]
)
def test_any_other_port_is_shown_80_included(url: str) -> None:
    """A plain-http endpoint names port 80, so its name tells the server's port exactly."""
    assert endpoint_template("GET", url) == "GET api.example.com:80/v1/users"


def test_ipv6_host_keeps_brackets() -> None:
    """An IPv6 host stays readable next to its port."""
    assert endpoint_template("GET", "http://[::1]:8080/x/") == "GET [::1]:8080/x/"


def test_empty_path_is_root() -> None:
    """A bare origin is the root endpoint."""
    assert endpoint_template("GET", "https://api.example.com") == "GET api.example.com/"


def test_invalid_url_does_not_raise() -> None:
    """An unreadable URL gives a fixed name instead of breaking the request."""
    assert endpoint_template("GET", "http://[bad") == "GET (invalid url)"


@given(st.uuids(), st.integers(min_value=0))
def test_uuid_and_number_never_leak(record: uuid.UUID, number: int) -> None:
    """Any UUID or number in a path collapses, so endpoints stay bounded."""
    url = f"https://api.example.com/v1/orgs/{record}/members/{number}"
    assert endpoint_template("GET", url) == "GET api.example.com/v1/orgs/{id}/members/{id}"


@given(st.binary(min_size=16, max_size=32))
def test_hex_digests_never_leak(digest: bytes) -> None:
    """Any hex digest of 16 bytes or more collapses to {id}."""
    url = f"https://api.example.com/blobs/{digest.hex()}"
    assert endpoint_template("GET", url) == "GET api.example.com/blobs/{id}"


KEY = b"a deployment's fingerprint key"


def _hmac8(value: str) -> str:
    return hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()[:8]


@pytest.mark.parametrize(
    ("headers", "credential"),
    [
        ({"Authorization": "Bearer sk_live_abc"}, "sk_live_abc"),
        ({"authorization": "token ghp_abc"}, "ghp_abc"),
        ({"X-API-Key": "k-123"}, "k-123"),
        ({"api-key": "k-456"}, "k-456"),
        ({"AUTHORIZATION": "opaque-credential"}, "opaque-credential"),
    ],
)
def test_fingerprint_is_the_keyed_hash_of_the_credential(
    headers: dict[str, str], credential: str
) -> None:
    """A user who holds the key finds which credential it was with HMAC-SHA256(key, it)[:8]."""
    assert key_fingerprint(headers, KEY) == _hmac8(credential)


def test_fingerprint_is_none_without_credential() -> None:
    """Unauthenticated requests carry no fingerprint."""
    assert key_fingerprint({"Accept": "application/json"}, KEY) is None


def test_fingerprint_ignores_the_scheme() -> None:
    """The same key sent as a bearer token or an API-key header is recognisable."""
    bearer = key_fingerprint({"Authorization": "Bearer abc"}, KEY)
    assert bearer == key_fingerprint({"X-Api-Key": "abc"}, KEY)


@given(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8))
def test_fingerprint_never_contains_the_credential(secret: str) -> None:
    """The fingerprint is 8 hex characters, never a piece of the key itself."""
    fingerprint = key_fingerprint({"Authorization": f"Bearer {secret}"}, KEY)
    assert fingerprint is not None
    assert len(fingerprint) == 8
    assert int(fingerprint, 16) >= 0
    assert secret not in fingerprint


# --- the edges of the id rules (each pins one boundary a mutation moved) ----------------


def test_three_letter_digit_changes_make_an_id() -> None:
    """A 10-character token whose letters and digits alternate 3 times is data: {id}."""
    assert endpoint_template("GET", "https://h/x/abcd1efgh2") == "GET h/x/{id}"


def test_two_letter_digit_changes_stay_a_route_word() -> None:
    """A token whose letters and digits alternate only twice stays a route word."""
    assert endpoint_template("GET", "https://h/x/abcde1fghij") == "GET h/x/abcde1fghij"


def test_sixteen_character_mixed_case_token_is_an_id() -> None:
    """A 16-character token with two lower-to-upper changes is an opaque token: {id}."""
    assert endpoint_template("GET", "https://h/x/abcDefGhijklmnop") == "GET h/x/{id}"


def test_fifteen_character_mixed_case_token_stays() -> None:
    """The same shape one character shorter (15) stays a name: the rule starts at 16."""
    assert endpoint_template("GET", "https://h/x/abcDefGhijklmno") == "GET h/x/abcDefGhijklmno"


def test_one_lower_to_upper_change_stays() -> None:
    """A long camelCase name with a single case change (getUserPreferences) stays a name."""
    assert endpoint_template("GET", "https://h/x/abcDefghijklmnop") == "GET h/x/abcDefghijklmnop"
