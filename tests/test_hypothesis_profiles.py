"""The hypothesis profiles: a fast one for developers, a deeper one for CI."""

from __future__ import annotations

from hypothesis import settings


def test_ci_profile_runs_more_examples_than_the_default() -> None:
    """HYPOTHESIS_PROFILE=ci tries five times the examples of a developer's run."""
    assert (
        settings.get_profile("ci").max_examples == 5 * settings.get_profile("default").max_examples
    )


def test_ci_profile_prints_the_blob_that_replays_a_failure() -> None:
    """A failure in CI prints the @reproduce_failure blob, so it can be replayed locally."""
    assert settings.get_profile("ci").print_blob


def test_ci_profile_draws_fresh_inputs_each_run() -> None:
    """CI runs are not derandomized: each run explores inputs the last one did not."""
    assert not settings.get_profile("ci").derandomize


def test_ci_profile_keeps_the_default_health_settings() -> None:
    """CI inherits the default's lack of a deadline, which a loaded machine would break."""
    assert settings.get_profile("ci").deadline is None
