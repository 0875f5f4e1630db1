"""The pytest plugin and the public surface of retrykit.testing."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

import pytest

import retrykit.testing

if TYPE_CHECKING:
    from retrykit.testing import FakeClock, FlakyServer

pytest_plugins = ["pytester"]

USES_FIXTURES = """
import urllib.request

from retrykit.testing import FakeClock, FlakyServer, Reply


def test_clock(fake_clock):
    assert isinstance(fake_clock, FakeClock)
    fake_clock.sleep(2)
    assert fake_clock() == 2.0


def test_server(flaky_server):
    assert isinstance(flaky_server, FlakyServer)
    flaky_server.script("/x", Reply(201, body=b"made"))
    with urllib.request.urlopen(flaky_server.url("/x"), timeout=5) as response:
        assert (response.status, response.read()) == (201, b"made")
"""


def test_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    """Installing retrykit registers the plugin with pytest through an entry point."""
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("retrykit") == "retrykit.testing._plugin"


def test_fixtures_work_in_a_fresh_pytest_process(pytester: pytest.Pytester) -> None:
    """A project with retrykit installed gets both fixtures without any conftest."""
    pytester.makepyfile(USES_FIXTURES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=2)


def test_fixtures_are_listed_with_their_docs(pytester: pytest.Pytester) -> None:
    """pytest --fixtures shows both fixtures and what they give."""
    result = pytester.runpytest("--fixtures", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*fake_clock*", "*new `FakeClock`*", "*flaky_server*"])


def test_flaky_server_is_closed_after_the_test(pytester: pytest.Pytester) -> None:
    """The server a test got is closed when that test ends."""
    pytester.makepyfile(
        """
        import urllib.error
        import urllib.request

        import pytest

        seen = []

        def test_uses(flaky_server):
            seen.append(flaky_server.url())

        def test_closed_afterwards():
            with pytest.raises(urllib.error.URLError):
                urllib.request.urlopen(seen[0], timeout=2)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_fake_clock_fixture_starts_fresh(fake_clock: FakeClock) -> None:
    """Each test gets a clock at 0 with no recorded sleeps."""
    assert fake_clock() == 0.0
    assert fake_clock.sleeps == []


def test_flaky_server_fixture_is_started(flaky_server: FlakyServer) -> None:
    """The flaky_server fixture is already listening when the test starts."""
    # S310: the URL is the fixture's own http://127.0.0.1 server.
    with urllib.request.urlopen(flaky_server.url("/ping"), timeout=5) as response:  # noqa: S310
        assert response.read() == b"ok"
    assert flaky_server.hits("/ping") == 1


def test_plugin_and_package_import_no_http_client() -> None:
    """Loading the plugin (done in every pytest run) imports neither httpx nor requests."""
    code = (
        "import sys, retrykit.testing, retrykit.testing._plugin; "
        "print(sorted({'httpx', 'requests', 'anyio'} & set(sys.modules)))"
    )
    output = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"


def test_all_is_sorted_and_every_name_resolves() -> None:
    """retrykit.testing.__all__ is sorted, and each name (lazy ones too) can be imported."""
    names = retrykit.testing.__all__
    assert names == sorted(names)
    for name in names:
        assert getattr(retrykit.testing, name) is not None


def test_unknown_attribute_is_an_attribute_error() -> None:
    """Asking retrykit.testing for a name it lacks raises AttributeError."""
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = retrykit.testing.Nope
