"""`python -m exporters.cli`: the `agent-tracing` command."""

import sys

from exporters.cli import main

sys.exit(main())
