"""Test-suite settings shared by every test module."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# A loaded 2-core CI machine makes per-example deadlines flaky; examples stay bounded by count.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
# CI digs deeper than a developer's run: five times the examples (ten would take the
# suite past five minutes on two cores), a fresh random seed each run (so runs explore
# different inputs), and the blob that replays any failure with @reproduce_failure.
settings.register_profile(
    "ci",
    parent=settings.get_profile("default"),
    max_examples=500,
    print_blob=True,
    derandomize=False,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
