"""The logs track: what the app's own logs say (evidence for the verdict, never a verdict alone)."""

from . import DONE, node, track

track("logs", "What the app's logs say", "logs.scan")

node(
    "logs.scan",
    "Do the logs of {app} show a known failure?",
    "A backend that cannot reach Postgres says why in its logs (`fly logs --no-tail`), in words the fact sheets list.",
    "logs.scan",
    {"failures": DONE, "clean": DONE, "unavailable": DONE},
    default=DONE,  # evidence only: whatever happens here never decides the walk (a replay without it included)
    budget=2.0,
)
