"""fcp-doctor's front ends: the command line and the Textual wizard (tui.app, imported lazily)."""
