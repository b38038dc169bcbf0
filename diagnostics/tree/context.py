"""The first track: where the walk runs, and the local configuration."""

from . import DONE, node, track

track("context", "Where am I, and what is configured", "context.where")

node(
    "context.where",
    "Where is this running?",
    "Fly's private names only resolve inside the 6PN: a machine, a WireGuard peer, or through `fly proxy`.",
    "context.where",
    {"fly_machine": "config.fly_toml", "laptop_flyctl": "config.fly_toml", "laptop": "config.fly_toml"},
)
node(
    "config.fly_toml",
    "Does fly.toml read?",
    "The app name for every fly command comes from fly.toml when no flag names it.",
    "config.fly_toml",
    {"ok": DONE, "absent": DONE, "invalid": "cause:config.fly_toml_invalid"},
)
