"""``python -m retrykit``: the demo, explain and schedule commands (see `retrykit._cli._main`)."""

from retrykit._cli._main import console_main

raise SystemExit(console_main())
