"""Running fcp-doctor where the problem is: on an app's machines, through
flyctl (diagnostics/flyctl.py). Headless: the `ship` and `fleet` commands'
front end is tui/remote.py."""
