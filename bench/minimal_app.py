"""The smallest Textual app: the baseline for the wizard's first screen."""

from textual.app import App
from textual.widgets import Static


class Minimal(App):
    def compose(self):
        yield Static("minimal Textual app")


if __name__ == "__main__":
    Minimal().run()
