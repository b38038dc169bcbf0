"""Entry point of the full-screen wizard, called by tui/cli.py once it has
decided that the terminal can take a full-screen UI.

Textual itself is imported here only after the environment is set, so that
`--low-bandwidth` can lower Textual's frame rate (read once at import).
"""

from __future__ import annotations

import os
import sys
from functools import partial

LOW_BANDWIDTH_FPS = "10"


def run_app(args, ctx, runner=None, title: str = "") -> int:
    low = bool(getattr(args, "low_bandwidth", False))
    if low:
        os.environ.setdefault("TEXTUAL_FPS", LOW_BANDWIDTH_FPS)
        os.environ["TEXTUAL_ANIMATIONS"] = "none"
    from tui.cli import make_context

    try:
        from tui.wizard import WizardApp
    except ImportError:  # Textual missing: the same walk, in line mode
        from tui.cli import run_walk

        return run_walk(args, ctx, runner=runner, interactive=sys.stdin.isatty(), header=title)
    app = WizardApp(
        ctx,
        symptom=getattr(args, "symptom", None) or "everything",
        runner=runner,
        title=title,
        low_bandwidth=low,
        rediscover=None if runner is not None else partial(make_context, args),
    )
    app.run()
    if app.report is not None:  # the alternate screen is gone: the verdict and its fix stay in the terminal
        from diagnostics import render

        for line in render.verdict_lines(app.report, render.use_color(sys.stdout), with_not_run=False):
            print(line)
    return app.return_code if app.return_code is not None else 0
