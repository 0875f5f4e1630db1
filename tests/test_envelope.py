"""parse_error: one ErrorInfo from every API's error body, and never an exception."""

from __future__ import annotations

import json
import pickle
from typing import Any

import httpx
import pytest
import requests.structures
from hypothesis import given
from hypothesis import strategies as st

from retrykit import ErrorInfo, FieldError, RetryPolicy, StatusFamily, parse_error
from retrykit._core._envelope import MAX_BODY_BYTES
from tests.strategies import header_mappings

# 2024-01-01T00:00:00Z, the fake "now" of every date test.
NOW = 1_704_067_200.0


def _pickled(info: ErrorInfo) -> ErrorInfo:
    loaded: ErrorInfo = pickle.loads(pickle.dumps(info))  # noqa: S301 - bytes made a line above
    return loaded


ENVELOPES: list[tuple[str, int, dict[str, str], dict[str, Any], dict[str, Any]]] = [
    (
        "nested",
        422,
        {},
        {
            "error": {
                "code": "VALIDATION_ERROR",
                "message": "The request body is invalid.",
                "details": {"field": "phone_number", "reason": "must be a valid E.164 number"},
                "request_id": "req_8f3a2b",
                "timestamp": "2024-05-01T12:00:00Z",
            }
        },
        {
            "code": "VALIDATION_ERROR",
            "message": "The request body is invalid.",
            "request_id": "req_8f3a2b",
            "timestamp": "2024-05-01T12:00:00Z",
            "details": {"field": "phone_number", "reason": "must be a valid E.164 number"},
            "field_errors": (FieldError("phone_number", "must be a valid E.164 number"),),
        },
    ),
    (
        "flat with details.field",
        422,
        {},
        {
            "code": "VALIDATION_ERROR",
            "message": "phone_number must be a valid E.164 number.",
            "request_id": "req_123",
            "details": {"field": "phone_number"},
        },
        {
            "code": "VALIDATION_ERROR",
            "message": "phone_number must be a valid E.164 number.",
            "request_id": "req_123",
            "field_errors": (
                FieldError("phone_number", "phone_number must be a valid E.164 number."),
            ),
        },
    ),
    (
        "statusCode and relatedInfo",
        400,
        {},
        {
            "statusCode": 400,
            "code": "ERR_VALID_001",
            "message": "Validation failed",
            "timestamp": "2024-03-12T09:30:00.000Z",
            "path": "/api/emails/send",
            "relatedInfo": {"errors": [{"field": "to", "message": "Invalid email format"}]},
        },
        {
            "code": "ERR_VALID_001",
            "message": "Validation failed",
            "timestamp": "2024-03-12T09:30:00.000Z",
            "path": "/api/emails/send",
            "field_errors": (FieldError("to", "Invalid email format"),),
        },
    ),
    (
        "statusCode quota variant",
        429,
        {},
        {
            "statusCode": 429,
            "code": "ERR_QUOTA_002",
            "message": "Monthly email quota exceeded",
            "timestamp": "2024-01-01T00:00:00Z",
            "path": "/api/emails/send",
            "relatedInfo": {"limit": 1000, "used": 1000, "resetsAt": "2024-01-01T00:02:30Z"},
        },
        {
            "code": "ERR_QUOTA_002",
            "details": {"limit": 1000, "used": 1000, "resetsAt": "2024-01-01T00:02:30Z"},
            "retry_after": 150.0,
        },
    ),
    (
        "error_code with the code in error",
        400,
        {},
        {
            "error_code": 400,
            "message": "The request has no payload to send.",
            "error": "missing_send_payload",
            "request_id": "a1b2c3d4",
        },
        {
            "code": "missing_send_payload",
            "message": "The request has no payload to send.",
            "request_id": "a1b2c3d4",
        },
    ),
    (
        "message and errors with description",
        422,
        {},
        {
            "message": "Validation failed",
            "errors": [{"field": "name", "description": "already exists"}],
        },
        {
            "code": None,
            "message": "Validation failed",
            "field_errors": (FieldError("name", "already exists"),),
        },
    ),
    (
        "RFC 9457 problem with errors",
        422,
        {"Content-Type": "application/problem+json"},
        {
            "type": "https://example.net/validation-error",
            "title": "Your request is not valid.",
            "status": 422,
            "instance": "/v1/profiles/8d2c",
            "errors": [
                {"detail": "must be a positive integer", "pointer": "#/age"},
                {"detail": "must be 'green', 'red' or 'blue'", "pointer": "#/profile/color"},
            ],
        },
        {
            "code": "https://example.net/validation-error",
            "message": "Your request is not valid.",
            "path": "/v1/profiles/8d2c",
            "details": {
                "type": "https://example.net/validation-error",
                "title": "Your request is not valid.",
            },
            "field_errors": (
                FieldError("#/age", "must be a positive integer"),
                FieldError("#/profile/color", "must be 'green', 'red' or 'blue'"),
            ),
        },
    ),
    (
        "RFC 9457 problem with detail and an extension",
        403,
        {"Content-Type": "application/problem+json"},
        {
            "type": "https://example.com/probs/out-of-credit",
            "title": "You do not have enough credit.",
            "detail": "Your current balance is 30, but that costs 50.",
            "instance": "/account/12345/msgs/abc",
            "balance": 30,
        },
        {
            "code": "https://example.com/probs/out-of-credit",
            "message": "Your current balance is 30, but that costs 50.",
            "path": "/account/12345/msgs/abc",
            "details": {
                "type": "https://example.com/probs/out-of-credit",
                "title": "You do not have enough credit.",
                "balance": 30,
            },
        },
    ),
    (
        "Stripe-style nested error with param",
        402,
        {"Request-Id": "req_stripe_1"},
        {
            "error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
                "param": "card_number",
            }
        },
        {
            "code": "card_declined",
            "message": "Your card has insufficient funds.",
            "request_id": "req_stripe_1",
            "field_errors": (FieldError("card_number", "Your card has insufficient funds."),),
        },
    ),
    (
        "GitHub-style errors with codes",
        422,
        {"X-GitHub-Request-Id": "CA3E:1F2B:9C1D"},
        {
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
            "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
        },
        {
            "message": "Validation Failed",
            "request_id": "CA3E:1F2B:9C1D",
            "field_errors": (FieldError("title", "missing_field"),),
        },
    ),
    (
        "Twilio-style numeric code",
        404,
        {},
        {
            "code": 20404,
            "message": "The requested resource /Messages/SM123.json was not found",
            "more_info": "https://www.twilio.com/docs/errors/20404",
            "status": 404,
        },
        {"code": "20404", "message": "The requested resource /Messages/SM123.json was not found"},
    ),
    (
        "OAuth 2.0 error",
        400,
        {},
        {"error": "invalid_grant", "error_description": "The refresh token has expired."},
        {"code": "invalid_grant", "message": "The refresh token has expired."},
    ),
    (
        "Boom-style error phrase",
        400,
        {},
        {"statusCode": 400, "error": "Bad Request", "message": "Invalid request payload input"},
        {"code": None, "message": "Invalid request payload input"},
    ),
    (
        "GraphQL errors",
        401,
        {},
        {
            "errors": [
                {"message": "You must be signed in.", "extensions": {"code": "UNAUTHENTICATED"}}
            ]
        },
        {"code": "UNAUTHENTICATED", "message": "You must be signed in."},
    ),
    (
        "JSON:API errors",
        422,
        {},
        {
            "errors": [
                {
                    "status": "422",
                    "code": "too_short",
                    "source": {"pointer": "/data/attributes/firstName"},
                    "title": "Invalid Attribute",
                    "detail": "First name must contain at least two characters.",
                }
            ]
        },
        {
            "code": "too_short",
            "message": "First name must contain at least two characters.",
            "field_errors": (
                FieldError(
                    "/data/attributes/firstName",
                    "First name must contain at least two characters.",
                ),
            ),
        },
    ),
    (
        "FastAPI detail list",
        422,
        {},
        {
            "detail": [
                {
                    "loc": ["body", "email"],
                    "msg": "value is not a valid email address",
                    "type": "value_error.email",
                }
            ]
        },
        {
            "message": "value is not a valid email address",
            "field_errors": (FieldError("body.email", "value is not a valid email address"),),
        },
    ),
    (
        "Google-style status and fieldViolations",
        400,
        {},
        {
            "error": {
                "code": 400,
                "message": "Invalid value at 'page_size'",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": [
                            {"field": "page_size", "description": "must be at most 1000"}
                        ],
                    }
                ],
            }
        },
        {
            "code": "INVALID_ARGUMENT",
            "message": "Invalid value at 'page_size'",
            "field_errors": (FieldError("page_size", "must be at most 1000"),),
        },
    ),
    (
        "NestJS list of messages",
        400,
        {},
        {
            "statusCode": 400,
            "message": ["email must be an email", "password is too short"],
            "error": "Bad Request",
        },
        {"message": "email must be an email; password is too short"},
    ),
    (
        "traceId from ASP.NET problem details",
        404,
        {"Content-Type": "application/problem+json; charset=utf-8"},
        {
            "type": "https://tools.ietf.org/html/rfc9110#section-15.5.5",
            "title": "Not Found",
            "status": 404,
            "traceId": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        },
        {"request_id": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
    ),
]


@pytest.mark.parametrize(
    ("status", "headers", "document", "expected"),
    [case[1:] for case in ENVELOPES],
    ids=[case[0] for case in ENVELOPES],
)
def test_envelope(
    status: int, headers: dict[str, str], document: dict[str, Any], expected: dict[str, Any]
) -> None:
    """Each common error envelope lands in the same ErrorInfo fields."""
    info = parse_error(status, headers, json.dumps(document).encode(), now=NOW)
    actual = {name: getattr(info, name) for name in expected}
    assert actual == expected


def test_a_json_array_of_error_objects_reads_the_first() -> None:
    """A bare array of errors (Salesforce style) gives the first error's code and message."""
    body = b'[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]'
    info = parse_error(401, {}, body)
    assert (info.code, info.message) == ("INVALID_SESSION_ID", "Session expired or invalid")


def test_body_given_as_str_is_read_like_bytes() -> None:
    """A body already decoded to str gives the same result as its bytes."""
    body = '{"code": "NOT_FOUND", "message": "No such user: ünïcode"}'
    assert parse_error(404, {}, body) == parse_error(404, {}, body.encode())


@pytest.mark.parametrize(
    "name", ["X-Request-Id", "x-request-id", "X-REQUEST-ID", "Request-Id", "X-Amzn-RequestId"]
)
def test_request_id_falls_back_to_a_header(name: str) -> None:
    """With no request id in the body, a request-id header in any case supplies it."""
    info = parse_error(500, {name: "hdr-42"}, b'{"message": "boom"}')
    assert info.request_id == "hdr-42"


def test_request_id_header_in_httpx_and_requests_headers() -> None:
    """Case-insensitive header objects from httpx and requests are read as well."""
    for headers in (
        httpx.Headers({"X-Request-ID": "h1"}),
        requests.structures.CaseInsensitiveDict({"X-Request-ID": "h1"}),
    ):
        assert parse_error(500, headers, None).request_id == "h1"


def test_body_request_id_wins_over_the_header() -> None:
    """When body and header both carry a request id, the body's is used."""
    info = parse_error(422, {"X-Request-Id": "from-header"}, b'{"request_id": "from-body"}')
    assert info.request_id == "from-body"


def test_no_request_id_anywhere_is_none() -> None:
    """Without a request id in body or headers, request_id is None."""
    assert parse_error(500, {"Content-Type": "text/plain"}, b"oops").request_id is None


def test_secret_headers_never_reach_the_error_info() -> None:
    """Credentials in the headers appear in no field and not in the repr."""
    headers = {
        "Authorization": "Bearer sk_live_secret",
        "X-API-Key": "key_secret",
        "Set-Cookie": "session=cookie_secret",
        "X-Request-Id": "req_1",
    }
    info = parse_error(401, headers, b'{"message": "bad key"}', now=NOW)
    assert "secret" not in repr(info)


def test_only_the_first_64_kib_are_parsed() -> None:
    """A 50 MB JSON body is cut at 64 KiB, so it is read as text, not parsed whole."""
    body = b'{"code": "HUGE", "message": "' + b"a" * 50_000_000 + b'"}'
    info = parse_error(500, {"Content-Type": "application/json"}, body)
    assert info.code is None
    assert info.message.startswith('{"code": "HUGE"')
    assert len(info.message) <= 200


def test_json_within_64_kib_is_parsed() -> None:
    """A JSON body that fits in 64 KiB is parsed, however much padding it holds."""
    body = b'{"code": "FITS", "pad": "' + b"a" * (MAX_BODY_BYTES - 100) + b'"}'
    assert parse_error(500, {}, body).code == "FITS"


def test_str_body_is_cut_at_64_ki_characters() -> None:
    """A str body is cut at 64 Ki characters, as bytes are at 64 KiB."""
    body = '{"code": "HUGE", "message": "' + "a" * 1_000_000 + '"}'
    assert parse_error(500, {}, body).code is None


def test_proxy_html_page_gives_its_title() -> None:
    """An HTML error page from a proxy gives its <title> as the message."""
    body = (
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n"
        b"</body>\r\n</html>\r\n"
    )
    info = parse_error(502, {"Content-Type": "text/html"}, body)
    assert info.message == "502 Bad Gateway"
    assert info.code is None


def test_html_without_title_gives_its_text_without_scripts() -> None:
    """An HTML page with no title gives its visible text, scripts and styles left out."""
    body = (
        b"<!DOCTYPE html><html><head><style>body { color: red }</style>"
        b"<script>var token = 'x';</script></head>"
        b"<body><h1>Service   Unavailable</h1><p>Back soon &amp; sorry.</p></body></html>"
    )
    info = parse_error(503, {}, body)
    assert info.message == "Service Unavailable Back soon & sorry."


def test_plain_text_gives_a_cleaned_excerpt() -> None:
    """A plain-text body gives its text on one line, control characters removed."""
    info = parse_error(500, {"Content-Type": "text/plain"}, b"upstream\tconnect error\r\n\x00\n")
    assert info.message == "upstream connect error"


def test_long_text_is_cut_to_a_short_excerpt() -> None:
    """A long text body gives an excerpt of at most 200 characters, ending in an ellipsis."""
    info = parse_error(500, {}, ("word " * 10_000).encode())
    assert len(info.message) <= 200
    assert info.message.endswith("word...")


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (404, None, "Not Found"),
        (404, b"", "Not Found"),
        (503, b"   \r\n ", "Service Unavailable"),
        (500, b"[1, 2, 3]", "Internal Server Error"),
        (500, b"42", "Internal Server Error"),
        (500, b"null", "Internal Server Error"),
        (500, b"true", "Internal Server Error"),
        (500, b"{}", "Internal Server Error"),
        (500, b'{"message": ""}', "Internal Server Error"),
        (500, b'"database is down"', "database is down"),
        (599, b"", "HTTP 599"),
    ],
)
def test_message_falls_back_to_the_reason_phrase(
    status: int, body: bytes | None, message: str
) -> None:
    """An empty body, or JSON that is not an error object, gives the status's reason phrase."""
    assert parse_error(status, {}, body).message == message


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    """Bytes that are not UTF-8 are replaced, and the rest of the text is kept."""
    info = parse_error(500, {}, b"caf\xe9 \xff\xfe closed")
    assert info.message == "caf\ufffd \ufffd\ufffd closed"


def test_invalid_utf8_inside_json_is_replaced() -> None:
    """A JSON body with a stray byte is still parsed, the byte replaced."""
    info = parse_error(400, {}, b'{"code": "BAD", "message": "caf\xe9"}')
    assert (info.code, info.message) == ("BAD", "caf\ufffd")


def test_content_type_charset_is_honoured() -> None:
    """A body in the charset its Content-Type names is decoded with it."""
    headers = {"Content-Type": "text/plain; charset=iso-8859-1"}
    assert parse_error(500, headers, "café fermé".encode("latin-1")).message == "café fermé"


def test_unknown_charset_falls_back_to_utf8() -> None:
    """A body in a charset Python does not know is read as UTF-8, not lost."""
    headers = {"Content-Type": "text/plain; charset=x-no-such-charset"}
    assert parse_error(500, headers, "café fermé".encode()).message == "café fermé"


def test_utf8_bom_is_skipped() -> None:
    """A JSON body starting with a UTF-8 byte order mark is still parsed."""
    assert parse_error(400, {}, b'\xef\xbb\xbf{"code": "BOM"}').code == "BOM"


def test_quota_reset_needs_now() -> None:
    """Without now, a resetsAt date gives no retry_after (the core reads no clock)."""
    body = b'{"code": "QUOTA", "relatedInfo": {"resetsAt": "2024-01-01T00:02:30Z"}}'
    assert parse_error(429, {}, body).retry_after is None


def test_quota_reset_with_an_offset() -> None:
    """A resetsAt with a UTC offset is converted to seconds from now."""
    body = b'{"relatedInfo": {"resetsAt": "2024-01-01T01:01:00+01:00"}}'
    assert parse_error(429, {}, body, now=NOW).retry_after == 60.0


def test_quota_reset_in_the_past_is_zero() -> None:
    """A resetsAt already past gives a wait of zero."""
    body = b'{"relatedInfo": {"resetsAt": "2023-12-31T23:00:00Z"}}'
    assert parse_error(429, {}, body, now=NOW).retry_after == 0.0


def test_retry_after_seconds_from_the_body() -> None:
    """A numeric retry_after in the body (Discord style) is a wait in seconds."""
    body = b'{"message": "You are being rate limited.", "retry_after": 64.57, "global": false}'
    assert parse_error(429, {}, body).retry_after == 64.57


def test_retry_after_header_in_seconds_needs_no_clock() -> None:
    """A Retry-After in seconds gives retry_after even without now."""
    assert parse_error(503, {"Retry-After": "120"}, None).retry_after == 120.0


def test_retry_after_header_date_uses_now() -> None:
    """A Retry-After HTTP-date gives the seconds from now to that date."""
    headers = {"retry-after": "Mon, 01 Jan 2024 00:00:45 GMT"}
    assert parse_error(503, headers, None, now=NOW).retry_after == 45.0
    assert parse_error(503, headers, None).retry_after is None


def test_retry_after_header_wins_over_the_body() -> None:
    """The Retry-After header is preferred to a reset time in the body."""
    body = b'{"relatedInfo": {"resetsAt": "2024-01-01T00:10:00Z"}}'
    assert parse_error(429, {"Retry-After": "5"}, body, now=NOW).retry_after == 5.0


def test_rate_limit_reset_header_on_a_429() -> None:
    """On a 429 without Retry-After, the rate-limit reset header gives the wait."""
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 30)}
    assert parse_error(429, headers, None, now=NOW).retry_after == 30.0
    assert parse_error(429, headers, None).retry_after is None
    assert parse_error(429, {"RateLimit-Reset": "12"}, None).retry_after == 12.0


def test_rate_limit_reset_header_is_ignored_on_other_statuses() -> None:
    """A rate-limit reset on a non-429 only describes the window; it asks for no wait."""
    assert parse_error(500, {"RateLimit-Reset": "12"}, None).retry_after is None


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        *[(status, True) for status in (408, 429, 500, 502, 503, 504)],
        *[(status, False) for status in (200, 400, 401, 404, 422, 501)],
    ],
)
def test_retryable_follows_decide_for_a_get(status: int, retryable: bool) -> None:
    """retryable is True exactly for the statuses decide retries on a GET."""
    assert parse_error(status, {}, None).retryable is retryable


def test_retryable_ignores_a_long_retry_after() -> None:
    """A Retry-After past max_retry_after keeps retryable True; retry_after shows the wait."""
    info = parse_error(503, {"Retry-After": "3600"}, None)
    assert (info.retryable, info.retry_after) == (True, 3600.0)


@pytest.mark.parametrize("status", [0, -1, 99, 600, 10**20])
def test_status_outside_http_range_is_a_server_error(status: int) -> None:
    """A status no HTTP server may send is read as a broken server, without raising."""
    info = parse_error(status, {}, b"garbage")
    assert info.family is StatusFamily.SERVER
    assert not info.retryable


@pytest.mark.parametrize(
    ("status", "headers", "body", "user_message"),
    [
        (429, {"Retry-After": "30"}, None, "Too many requests. Please try again in 30 seconds."),
        (429, {"Retry-After": "1"}, None, "Too many requests. Please try again in 1 second."),
        (429, {"Retry-After": "0.2"}, None, "Too many requests. Please try again in 1 second."),
        (429, {"Retry-After": "90"}, None, "Too many requests. Please try again in 2 minutes."),
        (429, {"Retry-After": "7200"}, None, "Too many requests. Please try again in 2 hours."),
        (429, {"Retry-After": "0"}, None, "Too many requests. Please try again shortly."),
        (429, {"Retry-After": "864000"}, None, "Too many requests. Please try again later."),
        (429, {}, None, "Too many requests. Please try again shortly."),
        (
            422,
            {},
            (
                b'{"errors": [{"field": "to", "message": "Invalid email format"},'
                b' {"field": "name", "message": "Name is required."}]}'
            ),
            "Invalid email format. Name is required.",
        ),
        (423, {}, None, "This item is closed and can no longer be changed."),
        (401, {}, None, "Access was refused. Please sign in and try again."),
        (403, {}, None, "Access was refused. You do not have permission to do this."),
        (404, {}, None, "The requested item was not found."),
        (
            500,
            {},
            b"Traceback (most recent call last): ...",
            "The service is temporarily unavailable. Please try again later.",
        ),
        (503, {}, None, "The service is temporarily unavailable. Please try again later."),
        (418, {}, None, "The request could not be completed."),
    ],
)
def test_user_message(
    status: int, headers: dict[str, str], body: bytes | None, user_message: str
) -> None:
    """user_message is a plain sentence for end users, never the server's stack trace."""
    assert parse_error(status, headers, body).user_message == user_message


def test_details_are_read_only_and_hashable() -> None:
    """details cannot be changed after parsing, and an ErrorInfo can be a dict key."""
    info = parse_error(400, {}, b'{"details": {"fields": ["a", "b"], "nested": {"x": 1}}}')
    assert info.details["fields"] == ("a", "b")
    assert info.details["nested"] == {"x": 1}
    with pytest.raises(TypeError):
        info.details["new"] = 1  # type: ignore[index]
    assert {info: 1}[info] == 1


def test_error_info_pickles() -> None:
    """An ErrorInfo survives pickling, details and field errors included."""
    info = parse_error(422, {}, json.dumps(ENVELOPES[0][3]).encode(), now=NOW)
    assert _pickled(info) == info


def test_error_info_built_by_hand_derives_the_rest() -> None:
    """ErrorInfo(status=...) fills family, message, retryable and user_message from the status."""
    info = ErrorInfo(status=503)
    assert info.family is StatusFamily.UNAVAILABLE
    assert info.message == "Service Unavailable"
    assert info.retryable
    assert info.user_message == "The service is temporarily unavailable. Please try again later."


def test_message_is_one_line() -> None:
    """A multi-line server message is collapsed to one line."""
    info = parse_error(500, {}, b'{"message": "line one\\n  line two\\u202e"}')
    assert info.message == "line one line two"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "error",
                    "code",
                    "message",
                    "errors",
                    "details",
                    "detail",
                    "relatedInfo",
                    "resetsAt",
                    "field",
                    "param",
                    "loc",
                    "source",
                    "title",
                    "type",
                    "status",
                    "request_id",
                    "retry_after",
                    "extensions",
                    "fieldViolations",
                    "path",
                ]
            )
            | st.text(max_size=10),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)
statuses = st.integers(min_value=-1000, max_value=1000) | st.integers()
request_id_headers = st.dictionaries(
    st.sampled_from(["X-Request-Id", "request-id", "Content-Type", "Retry-After"]),
    st.text(max_size=30),
    max_size=3,
)
headers = header_mappings() | request_id_headers
nows = st.none() | st.floats(allow_nan=True, allow_infinity=True)


def _assert_sound(info: ErrorInfo) -> None:
    assert info.message.strip()
    assert "\n" not in info.message
    assert info.user_message.strip()
    assert info.retry_after is None or info.retry_after >= 0


@given(status=statuses, headers=headers, body=st.binary(max_size=300), now=nows)
def test_arbitrary_bytes_never_raise(
    status: int, headers: dict[str, str], body: bytes, now: float | None
) -> None:
    """Any bytes, headers and status give an ErrorInfo with a message; never an exception."""
    _assert_sound(parse_error(status, headers, body, now=now))


@given(status=statuses, headers=headers, body=st.text(max_size=300), now=nows)
def test_arbitrary_text_never_raises(
    status: int, headers: dict[str, str], body: str, now: float | None
) -> None:
    """Any text body gives an ErrorInfo with a message; never an exception."""
    _assert_sound(parse_error(status, headers, body, now=now))


@given(status=statuses, headers=headers, value=json_values, now=nows)
def test_arbitrary_json_never_raises(
    status: int, headers: dict[str, str], value: Any, now: float | None
) -> None:
    """Any JSON value, envelope-like or not, gives an ErrorInfo with a message."""
    info = parse_error(status, headers, json.dumps(value).encode(), now=now)
    _assert_sound(info)
    # repr, not ==: a NaN in details is unequal to itself.
    assert repr(_pickled(info)) == repr(info)


@pytest.mark.parametrize(
    ("retry_statuses", "status", "retryable"),
    [
        ({503}, 503, True),
        ({503}, 500, False),
        ({429, 500}, 500, True),
        ({418}, 418, True),
        ((), 503, False),
    ],
)
def test_retryable_follows_the_policy_given(
    retry_statuses: set[int], status: int, retryable: bool
) -> None:
    """With policy=, retryable follows that policy's retry_statuses, not the default ones."""
    policy = RetryPolicy(retry_statuses=retry_statuses)
    assert parse_error(status, {}, None, policy=policy).retryable is retryable


def test_retryable_ignores_attempts_and_deadline() -> None:
    """A policy with one attempt or a tiny deadline still calls a transient status retryable."""
    policy = RetryPolicy(max_attempts=1, deadline=0.001)
    assert parse_error(503, {}, None, policy=policy).retryable


def test_retryable_uses_the_policy_even_for_an_unreadable_body() -> None:
    """The policy decides retryable whatever the body holds, garbage included."""
    policy = RetryPolicy(retry_statuses={418})
    assert parse_error(418, {"Content-Type": "text/html"}, b"<<<\xff", policy=policy).retryable


@pytest.mark.parametrize("code", ["404", " 404 ", 404, 404.0])
def test_code_equal_to_the_status_is_dropped(code: object) -> None:
    """An error code that only repeats the HTTP status (as text or number) names no error."""
    assert parse_error(404, {}, json.dumps({"code": code, "message": "m"}).encode()).code is None


@pytest.mark.parametrize(("code", "kept"), [("422", "422"), ("4040", "4040"), (4041, "4041")])
def test_code_other_than_the_status_is_kept(code: object, kept: str) -> None:
    """A numeric code different from the status is the API's own code, kept as text."""
    assert parse_error(404, {}, json.dumps({"code": code}).encode()).code == kept


@pytest.mark.parametrize(
    ("retry_after", "sentence"),
    [
        ("3599", "Too many requests. Please try again in 60 minutes."),
        ("3600", "Too many requests. Please try again in 1 hour."),
        ("3660", "Too many requests. Please try again in 2 hours."),
    ],
)
def test_cooldown_sentence_at_the_one_hour_edge(retry_after: str, sentence: str) -> None:
    """Up to 59 min 59 s the wait is told in minutes, from 60 min in hours, rounded up."""
    assert parse_error(429, {"Retry-After": retry_after}, None).user_message == sentence
