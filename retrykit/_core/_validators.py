"""The validators of the core's settings: attrs' own, composed, plus one number check.

Every settings class validates every argument when it is built, so a mistake fails there,
with a message naming the parameter and what it accepts, in attrs' own style
(``'cap' must be >= 0: -1.0``). Python counts a bool as an int,
but no caller means ``True`` as a count or a duration: `number` is the one check that
refuses it, and the rest is `attrs.validators`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

from attrs.validators import and_, ge, gt, le

if TYPE_CHECKING:
    from collections.abc import Callable

    import attrs

    Validator = Callable[[Any, attrs.Attribute[Any], Any], None]


def number(*, whole: bool = False) -> Validator:
    """Return a validator accepting a finite int or float, or with ``whole`` only an int.

    A bool is refused either way. A value of the wrong type is a TypeError, except for a
    whole number, where it is a ValueError, as counts such as ``max_attempts=1.5`` have
    always been refused.
    """
    accepted = int if whole else (int, float)
    kind = "an int" if whole else "a number"
    error = ValueError if whole else TypeError

    def check(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise error(f"'{attribute.name}' must be {kind}: {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"'{attribute.name}' must be finite: {value!r}")

    return check


non_negative = and_(number(), ge(0))
"""A finite number >= 0: a duration, a ratio, a multiplier."""
positive = and_(number(), gt(0))
"""A finite number > 0: a window, a timeout."""
positive_int = and_(number(whole=True), ge(1))
"""An int >= 1: a count."""
fraction = and_(number(), gt(0), le(1))
"""A number in (0, 1]: a failure rate."""


_TOKEN_CHARACTERS: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def is_token(value: object) -> bool:
    """Return True for an RFC 9110 token (section 5.6.2): a header name, a method."""
    return isinstance(value, str) and bool(value) and _TOKEN_CHARACTERS.issuperset(value)


def header_name(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Accept a header name: an RFC 9110 token (no space, colon, CR, LF or control)."""
    if not is_token(value):
        raise ValueError(
            f"'{attribute.name}' must be a header name (letters, digits and !#$%&'*+-.^_`|~ "
            f"only): {value!r}"
        )


def method_names(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """Accept a collection of method names, each an RFC 9110 token."""
    for method in value:  # type: ignore[attr-defined] # the converter made a frozenset
        if not isinstance(method, str):
            raise TypeError(f"'{attribute.name}' must hold method names (str): {method!r}")
        if not is_token(method):
            raise ValueError(f"'{attribute.name}' must hold method names (tokens): {method!r}")
