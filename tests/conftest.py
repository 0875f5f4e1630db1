"""Test-suite settings shared by every test module."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# A loaded 2-core CI machine makes per-example deadlines flaky; examples stay bounded by count.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
