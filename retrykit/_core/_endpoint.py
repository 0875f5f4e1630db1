"""Endpoint names for metrics and logs, and keyed fingerprints: bounded, and never a secret.

A path segment becomes ``{id}`` when it is data rather than a route name:

- a number, or numbers joined by ``.-_:`` (``123``, ``2024-01-31``, ``1.2.3``);
- a UUID, a hex string of 16 characters or more, or of 7 or more with a digit in it
  (digests, object ids, short git hashes);
- a prefixed id: a lowercase prefix, ``_`` or ``-``, then 8 or more letters and digits
  with a digit or a capital among them (``cus_4QpHjk2LkdIwHu``, ``i-0abc1234def5678``),
  or a lowercase prefix, ``_``, then 4 or more with a digit among them (``ord_8f7Q2``);
- a code in capitals with a digit in it, its parts joined by ``-``, ``_`` or ``.``
  (``A-1``, ``SKU-123``, ``INV-2024-001``, ``AB12``);
- an opaque token of 10 characters or more from the base64url alphabet whose letters and
  digits alternate at least three times (``dQw4w9WgXcQ``, ULIDs, nanoids), or of 16 or
  more with two changes from lower to upper case inside it;
- an e-mail address, or any segment longer than 40 characters.

Route words stay, version names too: ``v1``, ``V2``, ``v2beta1``, ``oauth2``, ``sha256``,
``user-preferences``, ``payment_intents``. A name no shape gives away (``/users/alice``)
stays too: declare the routes with `endpoint_templates` for those.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_NUMBER = r"[0-9]+(?:[.:_-][0-9]+)*"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_HEX = r"(?=[a-fA-F]*[0-9])[0-9a-fA-F]{7,}|[0-9a-fA-F]{16,}"
_PREFIXED = r"[a-z]{1,12}(?:_[a-z]{1,12})?[_-](?=[a-z]*[0-9A-Z])[A-Za-z0-9]{8,}"
# A shorter body needs the underscore and a digit: "api_v2" and "oauth_2fa" are too short.
_PREFIXED_SHORT = r"[a-z]{1,12}(?:_[a-z]{1,12})?_(?=[A-Za-z]*[0-9])[A-Za-z0-9]{4,}"
_CODE = r"(?=.*[0-9])(?=.*[A-Z])[A-Z0-9]+(?:[-_.][A-Z0-9]+)*"
_EMAIL = r"[^@]+@[^@]+\.[^@]+"
_ID_SEGMENT = re.compile(f"{_NUMBER}|{_UUID}|{_HEX}|{_PREFIXED}|{_PREFIXED_SHORT}|{_EMAIL}")
_CODE_SEGMENT = re.compile(_CODE)
_TOKEN = re.compile(r"[A-Za-z0-9_-]{10,}={0,2}")
_LETTER_DIGIT_CHANGE = re.compile(r"(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])")
_LOWER_UPPER_CHANGE = re.compile(r"(?<=[a-z])(?=[A-Z])")
_VERSION = re.compile(r"v[0-9]+(?:[a-z]+[0-9]*)?")
# A route template's placeholder: a whole segment such as {id} or {order_id}.
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
# The one port an endpoint name leaves out (any other is shown, 80 included).
_HTTPS_PORT = 443
_LONGEST_NAME = 40
_CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@functools.lru_cache(maxsize=4096)
def _is_id(segment: str) -> bool:
    """Return True if a path segment is data (an id, a token) rather than a route name."""
    if not segment:
        return False
    if len(segment) > _LONGEST_NAME:
        return True
    if "%" in segment:
        segment = unquote(segment)
    if _ID_SEGMENT.fullmatch(segment):
        return True
    if _CODE_SEGMENT.fullmatch(segment):
        return not _VERSION.fullmatch(segment.lower())
    if not _TOKEN.fullmatch(segment) or _VERSION.fullmatch(segment):
        return False
    if len(_LETTER_DIGIT_CHANGE.findall(segment)) >= 3:
        return True
    return len(segment) >= 16 and len(_LOWER_UPPER_CHANGE.findall(segment)) >= 2


def endpoint_template(method: str, url: str) -> str:
    """Return ``METHOD host/path-template`` for ``url``, with id-like path segments as ``{id}``.

    A metric keyed by endpoint then has as many series as the API has routes, not as it
    has records (the rules are in this module's docstring). The host is lower-cased and
    keeps its port unless that is 443 (``http://api.example.com/x`` gives
    ``api.example.com:80/x``), so the name tells the server's address and port exactly:
    no port means 443. The query string, the fragment and any user info in the URL are
    dropped. Never raises: an unreadable URL gives ``"METHOD (invalid url)"``.
    """
    method = method.upper()
    split = _host_and_path(url)
    if split is None:
        return f"{method} (invalid url)"
    host, path = split
    return f"{method} {host}{_path_template(path)}"


def _host_and_path(url: str) -> tuple[str, str] | None:
    """Return the host part of an endpoint name (``host[:port]``) and the URL's path."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None:
        port = _DEFAULT_PORTS.get(parts.scheme.lower())
    if port is not None and port != _HTTPS_PORT:
        host = f"{host}:{port}"
    return host, parts.path


def _path_template(path: str) -> str:
    template = "/".join("{id}" if _is_id(segment) else segment for segment in path.split("/"))
    return template if template.startswith("/") else "/" + template


def _template_segments(template: object, owner: str) -> tuple[str, list[str]]:
    """Return a route template and its segments after the first ``/``, or raise naming it."""
    if not isinstance(template, str):
        raise TypeError(
            f"{owner}: each template must be a str such as '/v1/users/{{id}}', got {template!r}"
        )
    if not template.startswith("/") or "?" in template or "#" in template:
        raise ValueError(
            f"{owner}: {template!r} must be a path starting with '/', without a query or a fragment"
        )
    segments = template.split("/")[1:]
    for segment in segments:
        if ("{" in segment or "}" in segment) and not _PLACEHOLDER.fullmatch(segment):
            raise ValueError(
                f"{owner}: in {template!r}, a placeholder such as {{id}} "
                f"must be a whole path segment, got {segment!r}"
            )
    return template, segments


def route_endpoint(method: str, url: str, route: str) -> str:
    """Return the endpoint name of a request whose caller named its route (``/v1/users/{id}``).

    ``METHOD host`` as `endpoint_template` gives them, then ``route`` as written: what an
    adapter uses for a per-request name, like OpenTelemetry's ``http.route``. Raises
    TypeError or ValueError, naming ``route``, when it is not a route template by
    `endpoint_templates`' rules.
    """
    _template_segments(route, "route")
    method = method.upper()
    split = _host_and_path(url)
    if split is None:
        return f"{method} (invalid url)"
    return f"{method} {split[0]}{route}"


class _Route:
    """A node of the route tree: literal segments, one placeholder, a template ending here."""

    __slots__ = ("literals", "placeholder", "template")

    def __init__(self) -> None:
        self.literals: dict[str, _Route] = {}
        self.placeholder: _Route | None = None
        self.template: str | None = None

    def match(self, segments: list[str], index: int) -> str | None:
        """Return the template matching ``segments[index:]``: literal segments first."""
        if index == len(segments):
            return self.template
        segment = segments[index]
        literal = self.literals.get(segment)
        if literal is not None:
            found = literal.match(segments, index + 1)
            if found is not None:
                return found
        if self.placeholder is not None and segment:
            return self.placeholder.match(segments, index + 1)
        return None


class _EndpointTemplates:
    """The ``endpoint_func`` `endpoint_templates` returns (see there)."""

    __slots__ = ("_root", "_templates")

    def __init__(self, templates: Iterable[str]) -> None:
        if isinstance(templates, str) or not isinstance(templates, Iterable):
            raise TypeError(
                f"endpoint_templates takes a list of paths such as '/v1/users/{{id}}', "
                f"got {templates!r}"
            )
        self._templates = tuple(templates)
        self._root = _Route()
        for template in self._templates:
            self._add(template)

    def _add(self, template: object) -> None:
        node = self._root
        template, segments = _template_segments(template, "endpoint_templates")
        for segment in segments:
            if _PLACEHOLDER.fullmatch(segment):
                if node.placeholder is None:
                    node.placeholder = _Route()
                node = node.placeholder
            else:
                node = node.literals.setdefault(segment, _Route())
        if node.template is not None:
            raise ValueError(
                f"endpoint_templates: {template!r} matches the same paths as {node.template!r}"
            )
        node.template = template

    def __call__(self, method: str, url: str) -> str:
        method = method.upper()
        split = _host_and_path(url)
        if split is None:
            return f"{method} (invalid url)"
        host, path = split
        template = self._root.match((path or "/").split("/"), 1)
        return f"{method} {host}{template or _path_template(path)}"

    def __repr__(self) -> str:
        return f"endpoint_templates({list(self._templates)!r})"


def endpoint_templates(templates: Iterable[str]) -> Callable[[str, str], str]:
    """Return an ``endpoint_func`` naming each request by the route template its path matches.

    ``templates`` are paths such as ``"/v1/users/{id}"``: a ``{name}`` (any name) stands
    for one non-empty path segment, and every other segment must be equal. Where several
    templates match, the one with a literal segment earliest wins (``/v1/users/me`` before
    ``/v1/users/{id}``). A path no template matches is named by `endpoint_template`'s
    rules, so ids of the shapes it knows still become ``{id}``. The names read like
    `endpoint_template`'s (``GET api.example.com/v1/users/{id}``): pass the result to an
    adapter or transport as ``endpoint_func=``.

    Raises TypeError or ValueError, naming the template, for a template that is not a
    path, puts a placeholder inside a segment, or matches the same paths as another.
    """
    return _EndpointTemplates(templates)


def key_fingerprint(headers: Mapping[str, str], key: bytes) -> str | None:
    """Return the request credential's fingerprint under ``key``: 8 hex characters, or None.

    The fingerprint is the first 8 hex characters of HMAC-SHA256(``key``, credential).
    The credential is read from ``Authorization`` (without its scheme: ``Bearer abc`` and
    ``X-API-Key: abc`` give the same fingerprint), ``X-API-Key`` or ``Api-Key``; None
    when the request carries none. The fingerprint tells keys apart in logs and metrics
    without revealing any of them, and without the key it is no test of a guess: a
    plain hash of a low-entropy secret (a Basic auth password) could be checked against
    a dictionary by anyone who reads the logs. ``key`` is a non-empty byte string: the
    same key gives the same fingerprints in every process (see the README's logging
    section for the deployment-wide one); the core never picks or reads a key itself.
    """
    if not isinstance(key, bytes):
        raise TypeError(f"key must be bytes, got {type(key).__name__}")
    if not key:
        raise ValueError("key must not be empty: an empty HMAC key is a plain, guessable hash")
    credential = credential_of(headers)
    if credential is None:
        return None
    return fingerprint_of(credential, key)


def fingerprint_of(credential: str, key: bytes) -> str:
    """Return the fingerprint of ``credential`` under ``key`` (see `key_fingerprint`)."""
    digest = hmac.new(key, credential.encode("utf-8", "surrogateescape"), hashlib.sha256)
    return digest.hexdigest()[:8]


def credential_of(headers: Mapping[str, str]) -> str | None:
    """Return the credential a request carries (its token, without a scheme), or None.

    What `key_fingerprint` fingerprints; never shown anywhere, never raises.
    """
    for name in _CREDENTIAL_HEADERS:
        # Typed as str, but requests lets bytes through: read both, never raise.
        raw: object = headers.get(name)
        if raw is None and isinstance(headers, dict):
            raw = next(
                (v for k, v in headers.items() if isinstance(k, str) and k.lower() == name),
                None,
            )
        if isinstance(raw, bytes):
            raw = raw.decode("latin-1")
        if not isinstance(raw, str) or not raw.strip():
            continue
        credential = raw.strip()
        if name == "authorization":
            scheme, _, token = credential.partition(" ")
            if token.strip() and scheme.isalnum():
                credential = token.strip()
        return credential
    return None
