"""`python -m alert_explainer` runs the command line."""

from alert_explainer.cli import main

raise SystemExit(main())
