"""The terminal driver of the wizard: Textual's own, with mouse clicks and the
wheel but no motion reporting. Textual turns on any-event tracking
(`?1003h`), so every mouse move over the window is a report and a repaint:
over `fly ssh console` that is kilobytes per second of nothing."""

from __future__ import annotations

from textual.drivers.linux_driver import LinuxDriver

MOUSE_ON = "\x1b[?1000h\x1b[?1006h"  # VT200 button press/release (wheel included), SGR coordinates


class ClickOnlyDriver(LinuxDriver):
    def _enable_mouse_support(self) -> None:
        if not self._mouse:
            return
        self.write(MOUSE_ON)
        self.flush()
