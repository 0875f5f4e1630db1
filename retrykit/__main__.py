"""``python -m retrykit``: the demo, explain and schedule commands (see `retrykit._cli`)."""

from retrykit._cli import main

raise SystemExit(main())
