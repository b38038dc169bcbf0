"""Entry point of the single-file executable (same as `python -m tui`)."""

import sys

from tui.cli import main

sys.exit(main())
