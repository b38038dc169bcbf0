"""The Textual wizard: a view of the engine's event stream.

Screens: start (what was found, where we are, the symptom), walk (timeline,
the current check's question, why and live evidence, what is not run), verdict
(root cause, evidence, numbered fix, copy, verify, export), plus help and a
question form for missing inputs. Every probe runs in its own worker
(group "probe:<node>", exit_on_error=False) so Esc cancels one hanging check
while the UI keeps answering.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from rich.color import ColorSystem
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.filter import LineFilter
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from diagnostics import render, tree
from diagnostics.context import Context
from diagnostics.engine import Engine, ReplayRunner, Runner
from diagnostics.model import (
    CRASHED,
    SKIPPED,
    Outcome,
    StepFinished,
    StepProgress,
    StepStarted,
    VerdictReady,
)
from diagnostics.secret import redact

# status -> (word, style); the word carries the meaning without colour (NO_COLOR, 16 colours)
STATUS = {
    "pass": ("PASS", "bold green"),
    "warn": ("WARN", "bold yellow"),
    "fail": ("FAIL", "bold red"),
    "skipped": ("SKIP", "dim"),
    "crashed": ("CRASH", "bold magenta"),
    "running": ("RUN", "bold cyan"),
}
VERDICT_STYLE = {"healthy": ("HEALTHY", "bold green"), "root_cause": ("ROOT CAUSE", "bold red"), "inconclusive": ("INCONCLUSIVE", "bold yellow")}
COLOUR_WORDS = {"standard": "16 colours", "256": "256 colours", "truecolor": "truecolor (16 million colours)", "windows": "Windows console colours"}
DEMO_BEAT = 0.6  # seconds per replayed check at --speed 1, so a viewer can follow
PROGRESS_KEEP = 8

KEYS = [
    ("Everywhere", [("? / F1", "this help"), ("ctrl+p", "command palette (every action)"), ("q", "quit")]),
    ("Start", [("up / down", "choose the symptom"), ("enter", "start the walk")]),
    (
        "Walk",
        [
            ("up / down", "select a check: its question, why and evidence"),
            ("b / left", "back a step"),
            ("r", "re-run the selected check"),
            ("esc", "cancel the running check"),
            ("v / enter", "show the verdict"),
        ],
    ),
    (
        "Verdict",
        [
            ("1-9", "copy the command of fix step N (OSC 52)"),
            ("c", "copy every fix command"),
            ("v", "re-run the walk to verify the fix"),
            ("e", "export the report (Markdown and JSON)"),
            ("b / esc", "back to the walk"),
        ],
    ),
]


def cancelled_outcome() -> Outcome:
    return Outcome("cancelled", SKIPPED, "cancelled with Esc", {"cancelled": "by the user (Esc)"})


def crashed_outcome(error: BaseException) -> Outcome:
    return Outcome(
        "crashed",
        CRASHED,
        f"the check crashed: {type(error).__name__}",
        {"exception": type(error).__name__, "message": redact(str(error))[:500]},
    )


def safe(t: Text) -> Text:
    """Styled text as is, unless redaction has something to mask (then plain)."""
    plain = redact(t.plain)
    return t if plain == t.plain else Text(plain)


class Downgrade16(LineFilter):
    """What a 16-colour terminal shows (TERM=xterm over `fly ssh console`):
    every colour reduced to the standard 16, so screenshots match the terminal."""

    def apply(self, segments: list[Segment], background) -> list[Segment]:
        out = []
        for text, style, control in segments:
            if style is not None and (style.color or style.bgcolor):
                style = style + Style(
                    color=style.color.downgrade(ColorSystem.STANDARD) if style.color else None,
                    bgcolor=style.bgcolor.downgrade(ColorSystem.STANDARD) if style.bgcolor else None,
                )
            out.append(Segment(text, style, control))
        return out


class UIRunner(Runner):
    """Runs each node's probe in its own worker (group per node), so one check
    can be cancelled with Esc; a worker error becomes a `crashed` step."""

    def __init__(self, inner: Runner, host: Screen, beat: float = 0.0):
        self.inner = inner
        self.host = host
        self.beat = beat

    async def run(self, node, ctx):
        t0 = time.monotonic()

        async def probe():
            if self.beat:
                await asyncio.sleep(self.beat)
            return await self.inner.run(node, ctx)

        w = self.host.run_worker(probe(), name=node.id, group=f"probe:{node.id}", exit_on_error=False)
        ms = lambda: int((time.monotonic() - t0) * 1000)  # noqa: E731
        try:
            return await w.wait()
        except WorkerCancelled:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # the whole walk is being cancelled
                raise asyncio.CancelledError from None
            return cancelled_outcome(), ms()
        except WorkerFailed as exc:
            return crashed_outcome(exc.error), ms()
        finally:
            if not w.is_finished:
                w.cancel()


@dataclass
class NodeView:
    node: str
    title: str
    status: str = "running"
    summary: str = ""
    elapsed_ms: int = 0
    branch: str = ""
    evidence: dict = field(default_factory=dict)
    progress: list = field(default_factory=list)
    reruns: int = 0


class Refresh(Message):
    """Something about a node changed; floods coalesce into one redraw."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Refresh) and message.node == self.node


# ---------------------------------------------------------------- screens


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def compose(self) -> ComposeResult:
        t = Text()
        t.append("Keys\n", style="bold")
        for section, keys in KEYS:
            t.append(f"\n{section}\n", style="bold")
            for key, what in keys:
                t.append(f"  {key:<11}", style="bold cyan")
                t.append(f" {what}\n")
        t.append("\nThis terminal\n", style="bold")
        t.append(f"  {COLOUR_WORDS.get(self.app.colours, self.app.colours or 'no colour')}\n")
        if self.app.colours in ("standard", "256"):
            t.append("  For more: export COLORTERM=truecolor (over SSH: SendEnv/AcceptEnv COLORTERM)\n")
        t.append("\nAll keys work over SSH and tmux. Esc, ? or q closes.", style="dim")
        yield VerticalScroll(Static(t), id="help")

    def action_close(self) -> None:
        self.dismiss(None)


class QuestionScreen(ModalScreen[str | None]):
    """The engine's asker: one missing input, secrets typed masked."""

    BINDINGS = [Binding("escape", "skip", "Skip")]

    def __init__(self, question) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        q = self.question
        with Vertical(id="question"):
            yield Static(Text(q.prompt, style="bold"), id="q-prompt")
            yield Static(Text(q.why, style="italic"), id="q-why")
            yield Input(password=q.secret, placeholder="typed value is masked" if q.secret else "", id="q-input")
            yield Static(Text("enter: answer · esc: skip (the check reports it missing)", style="dim"))

    @on(Input.Submitted)
    def answered(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_skip(self) -> None:
        self.dismiss(None)


class StartScreen(Screen):
    BINDINGS = [Binding("enter", "start", "Start", priority=True)]

    def __init__(self, symptom: str) -> None:
        super().__init__()
        self.symptom = symptom

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._found(), id="found")
        yield Static(Text("where   looking…", style="dim"), id="where")
        yield Static(Text("What is wrong? (enter to start)", style="bold"), id="ask")
        yield OptionList(*[Option(s.title, id=s.id) for s in tree.SYMPTOMS.values()], id="symptoms")
        yield Footer()

    def _found(self) -> Text:
        inputs = self.app.ctx.inputs
        t = Text()
        t.append("Found\n", style="bold")
        files = ", ".join(inputs.files_found) or "no fly.toml, .env.local or .env here"
        t.append(f"  {'files':<14} {files}\n")
        for name, v in sorted(inputs.values.items()):
            t.append(f"  {name:<14} ")
            t.append(redact(v.display), style="bold")
            t.append(f"\n  {'':<14} from {v.source}\n", style="dim")
        for p in inputs.problems:
            t.append(f"  WARN {p['file']}:{p['line']}: {p['message']}\n", style="yellow")
        return t

    def on_mount(self) -> None:
        ol = self.query_one("#symptoms", OptionList)
        ids = list(tree.SYMPTOMS)
        ol.highlighted = ids.index(self.symptom) if self.symptom in ids else len(ids) - 1
        ol.focus()
        self.run_worker(self._where(), group="where", exit_on_error=False)

    async def _where(self) -> None:
        tree.load()
        outcome, _ = await Runner().run(tree.NODES["context.where"], self.app.ctx)
        t = Text()
        t.append(f"{'where':<7} ", style="bold")
        t.append(redact(outcome.summary or outcome.outcome))
        self.query_one("#where", Static).update(t)

    def action_start(self) -> None:
        opt = self.query_one("#symptoms", OptionList).highlighted_option
        if opt is not None:
            self.app.start_walk(opt.id)


class WalkScreen(Screen):
    BINDINGS = [
        Binding("escape", "cancel_probe", "Cancel check"),
        Binding("b,left", "back", "Back"),
        Binding("r", "rerun_node", "Re-run"),
        Binding("v,enter", "show_verdict", "Verdict", priority=True),
    ]

    def __init__(self, symptom: str) -> None:
        super().__init__()
        self.symptom = symptom
        self.views: dict[str, NodeView] = {}
        self.order: list[str] = []
        self.follow = True
        self.report = None
        self.engine: Engine | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="walk-title")
        yield OptionList(id="timeline")
        yield VerticalScroll(Static(id="detail"), id="detail-box")
        yield Static(id="not-run")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#walk-title", Static).update(Text(tree.SYMPTOMS[self.symptom].title, style="bold"))
        self.query_one("#timeline", OptionList).focus()
        self.start()

    # ------------------------------------------------------------ the walk
    def start(self) -> None:
        self.views.clear()
        self.order.clear()
        self.follow = True
        self.report = None
        self.query_one("#timeline", OptionList).clear_options()
        self._redraw_detail()
        self._redraw_not_run()
        self.run_worker(self._walk(), name="walk", group="walk", exclusive=True, exit_on_error=False)

    async def _walk(self) -> None:
        app: WizardApp = self.app  # type: ignore[assignment]
        ctx = app.fresh_context()
        runner = UIRunner(app.runner or Runner(), self, beat=app.beat)
        self.engine = Engine(ctx, self.symptom, runner=runner, asker=self._ask)
        async for ev in self.engine.events():
            if isinstance(ev, StepStarted):
                s = ev.step
                self.views[s.node] = NodeView(s.node, s.title)
                self.order.append(s.node)
                ol = self.query_one("#timeline", OptionList)
                ol.add_option(Option(self._line(self.views[s.node]), id=s.node))
                if self.follow:
                    ol.highlighted = len(self.order) - 1
                self.post_message(Refresh(s.node))
            elif isinstance(ev, StepProgress):
                v = self.views.get(ev.node)
                if v is not None:
                    v.progress = (v.progress + [ev.message])[-PROGRESS_KEEP:]
                    self.post_message(Refresh(ev.node))
            elif isinstance(ev, StepFinished):
                s = ev.step
                v = self.views[s.node]
                v.status, v.summary, v.elapsed_ms, v.branch, v.evidence = s.status, s.summary, s.elapsed_ms, s.branch, s.evidence
                self.post_message(Refresh(s.node))
            elif isinstance(ev, VerdictReady):
                self.report = ev.report
                app.report = ev.report
                self._redraw_not_run()
                app.show_verdict(ev.report)

    async def _ask(self, question) -> str | None:
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self.app.push_screen(QuestionScreen(question), callback=lambda answer: fut.done() or fut.set_result(answer))
        return await fut

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker errors land: the walk itself failing marks its
        running checks crashed and still ends in a (inconclusive) verdict view."""
        w = event.worker
        if event.state != WorkerState.ERROR:
            return
        if w.group == "walk":
            for v in self.views.values():
                if v.status == "running":
                    self._apply(v, crashed_outcome(w.error), 0)
            self.query_one("#walk-title", Static).update(Text(f"The walk stopped: {type(w.error).__name__}", style="bold red"))
        elif w.group.startswith("rerun:"):
            v = self.views.get(w.name)
            if v is not None:
                self._apply(v, crashed_outcome(w.error), 0)

    def _apply(self, v: NodeView, outcome: Outcome, elapsed: int) -> None:
        v.status, v.summary, v.elapsed_ms, v.evidence = outcome.status, redact(outcome.summary), elapsed, outcome.evidence
        self.post_message(Refresh(v.node))

    # ------------------------------------------------------------ drawing
    @on(Refresh)
    def _refresh_node(self, message: Refresh) -> None:
        v = self.views.get(message.node)
        if v is None:
            return
        ol = self.query_one("#timeline", OptionList)
        try:
            ol.replace_option_prompt(v.node, self._line(v))
        except Exception:  # the option list was cleared by a re-run in between
            return
        if self._selected() == v.node:
            self._redraw_detail()
        self._redraw_not_run()

    def _line(self, v: NodeView) -> Text:
        word, style = STATUS.get(v.status, (v.status.upper(), ""))
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"{word:<5} ", style=style)
        title = v.title if len(v.title) <= 40 else v.title[:39] + "…"
        t.append(f"{title:<40}")
        if v.status != "running":
            t.append(f" {render.fmt_ms(v.elapsed_ms):>7}", style="dim")
        tail = f"re-run {v.reruns}" if v.reruns else v.branch
        if tail:  # one line at 80 columns: the option list would wrap a longer one
            tail = tail if len(tail) <= 18 else tail[:17] + "…"
            t.append(f" → {tail}", style="bold" if tail.startswith("cause:") else "dim")
        return t

    def _selected(self) -> str | None:
        opt = self.query_one("#timeline", OptionList).highlighted_option
        return opt.id if opt else None

    @on(OptionList.OptionHighlighted, "#timeline")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.order and event.option.id != self.order[-1]:
            self.follow = False
        elif self.order:
            self.follow = True
        self._redraw_detail()

    def _redraw_detail(self) -> None:
        nid = self._selected()
        box = self.query_one("#detail", Static)
        if nid is None or nid not in self.views:
            box.update(Text("Starting the walk…", style="dim"))
            return
        v = self.views[nid]
        n = tree.NODES.get(nid)
        t = Text()
        word, style = STATUS.get(v.status, (v.status.upper(), ""))
        t.append(v.title, style="bold")
        t.append(f"  [{nid}]\n", style="dim")
        if n is not None:
            t.append("Why: ", style="bold")
            t.append(n.why + "\n", style="italic")
        t.append(f"{word} ", style=style)
        if v.status == "running":
            t.append("checking… (esc cancels)\n")
        else:
            t.append(f"{v.summary}\n")
            if v.branch:
                t.append(f"→ {v.branch}\n", style="bold")
        for key, val in v.evidence.items():
            t.append(f"  {key}: ", style="bold")
            t.append(render._short(val, 200) + "\n")
        for line in v.progress:
            t.append(f"  · {line}\n", style="dim")
        box.update(safe(t))

    def _redraw_not_run(self) -> None:
        box = self.query_one("#not-run", Static)
        if self.report is not None:
            nodes = [n["node"] for n in self.report.not_run]
            label = f"Not run ({len(nodes)}): " + (", ".join(nodes) if nodes else "none")
        else:
            tracks = [tid for tid in tree.SYMPTOMS[self.symptom].tracks if tid in tree.TRACKS]
            pending = [nid for tid in tracks for nid in tree.reachable(tree.TRACKS[tid].entry) if nid not in self.views]
            label = f"Not run yet ({len(pending)}): " + ", ".join(pending)
        box.update(Text(label, style="dim", no_wrap=True, overflow="ellipsis"))

    # ------------------------------------------------------------ actions
    def action_back(self) -> None:
        ol = self.query_one("#timeline", OptionList)
        if ol.highlighted is not None and ol.highlighted > 0:
            ol.highlighted -= 1
            self.follow = False
        elif not self.app.replaying:
            self.app.back_to_start()
        else:
            self.notify("This is the first step.")

    def action_cancel_probe(self) -> None:
        running = [w for w in self.workers if w.group.startswith(("probe:", "rerun:")) and not w.is_finished]
        for w in running:
            w.cancel()
        if running:
            self.notify(f"Cancelled: {', '.join(w.name for w in running)}")

    def action_rerun_node(self) -> None:
        nid = self._selected()
        v = self.views.get(nid or "")
        if v is None or v.status == "running" or self.engine is None:
            self.notify("Select a finished check to re-run it.")
            return
        v.status, v.progress, v.reruns = "running", [], v.reruns + 1
        self.post_message(Refresh(nid))
        self.run_worker(self._rerun(v), name=nid, group=f"rerun:{nid}", exclusive=True, exit_on_error=False)

    async def _rerun(self, v: NodeView) -> None:
        node = tree.NODES[v.node]
        engine = self.engine
        engine.ctx.progress = lambda message: (v.progress.append(redact(message)), self.post_message(Refresh(v.node)))
        t0 = time.monotonic()
        try:
            outcome, elapsed = await (self.app.runner or Runner()).run(node, engine.ctx)
        except asyncio.CancelledError:
            self._apply(v, cancelled_outcome(), int((time.monotonic() - t0) * 1000))
            raise
        v.branch = node.target(outcome.outcome, outcome.facts) or "inconclusive"
        self._apply(v, outcome, elapsed)

    def action_show_verdict(self) -> None:
        if self.report is None:
            self.notify("The walk has not reached a verdict yet.")
            return
        self.app.show_verdict(self.report)


class VerdictScreen(Screen):
    BINDINGS = [
        Binding("c", "copy_all", "Copy fix"),
        Binding("v", "verify", "Re-run to verify"),
        Binding("e", "export", "Export"),
        Binding("b,left,escape", "back", "Back"),
    ] + [Binding(str(i), f"copy({i})", f"Copy step {i}", show=False) for i in range(1, 10)]

    def __init__(self, report) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        yield Header()
        yield VerticalScroll(Static(self._text(), id="verdict"), id="verdict-box")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#verdict-box").focus()

    def _commands(self) -> list[tuple[int, str]]:
        d = self.report.root_cause
        if d is None:
            return []
        return [(i, s.command) for i, s in enumerate(d.fix.steps, 1) if s.command]

    def _text(self) -> Text:
        r = self.report
        word, style = VERDICT_STYLE.get(r.verdict, (r.verdict.upper(), "bold"))
        t = Text()
        t.append(f" {word} ", style=f"{style} reverse")
        d = r.root_cause
        if d is not None:
            t.append(f" {d.title}\n", style="bold")
            t.append(f"{d.id} · found at {d.node}\n\n", style="dim")
            t.append(d.explanation + "\n")
            if d.evidence:
                t.append("\nEvidence\n", style="bold")
                for k, v in d.evidence.items():
                    t.append(f"  {k}: ", style="bold")
                    t.append(render._short(v, 200) + "\n")
            t.append("\nFix: ", style="bold")
            t.append(d.fix.summary + "\n")
            for i, s in enumerate(d.fix.steps, 1):
                t.append(f" {i}. ", style="bold")
                t.append(s.text + "\n")
                if s.command:
                    for line in s.command.split("\n"):
                        t.append(f"    $ {line}\n", style="bold cyan")
                    t.append(f"    press {i} to copy\n" if i < 10 else "", style="dim")
            for url in d.docs:
                t.append(f"Docs: {url}\n", style="dim")
        elif r.verdict == "healthy":
            t.append(f" every check on the walk passed ({len(r.steps)} checks)\n\n")
            for s in r.steps:
                word, style = STATUS.get(s.status, (s.status.upper(), ""))
                t.append(f"{word:<5} ", style=style)
                t.append(f"{s.title}\n")
                if s.summary:
                    t.append(f"      {s.summary}\n", style="dim")
        else:
            t.append(" the walk could not decide\n")
            for s in r.steps:
                if s.status in ("fail", "crashed") or s.branch == "inconclusive":
                    t.append(f"  {s.node}: {s.outcome}" + (f" — {s.summary}" if s.summary else "") + "\n")
        for f in r.findings:
            t.append(f"\nAlso seen ({f.severity}): ", style="bold yellow")
            t.append(f"{f.title} [{f.id}]\n")
        if r.not_run:
            t.append(f"\nNot run ({len(r.not_run)}): ", style="bold")
            t.append(", ".join(n["node"] for n in r.not_run) + "\n", style="dim")
        return safe(t)

    def _status(self, text: str) -> None:
        self.query_one("#status", Static).update(Text(redact(text), no_wrap=True, overflow="ellipsis"))

    def action_copy(self, n: int) -> None:
        cmds = dict(self._commands())
        if n not in cmds:
            self._status(f"Fix step {n} has no command to copy.")
            return
        self.app.copy_to_clipboard(cmds[n])
        self._status(f"Copied step {n}: {cmds[n].splitlines()[0]}")

    def action_copy_all(self) -> None:
        cmds = self._commands()
        if not cmds:
            self._status("This verdict has no command to copy.")
            return
        self.app.copy_to_clipboard("\n".join(c for _, c in cmds))
        self._status(f"Copied {len(cmds)} command(s) (OSC 52); they stay shown above.")

    def action_export(self) -> None:
        try:
            paths = self.app.export_report(self.report)
        except OSError as exc:  # a read-only folder in a machine, a full disk
            self._status(f"Could not export to {self.app.export_dir}: {exc.strerror or exc}")
            return
        self._status("Exported " + " and ".join(str(p) for p in paths))
        self.notify("Report exported: " + ", ".join(p.name for p in paths))

    def action_verify(self) -> None:
        self.app.verify()

    def action_back(self) -> None:
        self.app.pop_screen()


# ---------------------------------------------------------------- the app

ACTIONS = [
    ("start", "Start the walk", "walk the tree for the highlighted symptom"),
    ("back", "Back a step", "select the previous check, or go back"),
    ("rerun_node", "Re-run the selected check", "run the selected check's probe again"),
    ("cancel_probe", "Cancel the running check", "stop a check that hangs (esc)"),
    ("show_verdict", "Show the verdict", "root cause, evidence and fix"),
    ("copy_all", "Copy the fix commands", "OSC 52; the commands stay on screen"),
    ("verify", "Re-run to verify", "walk again after fixing"),
    ("export", "Export the report", "Markdown and JSON files"),
]


def _driver_class():
    import sys

    if sys.platform == "win32":
        return None
    from .driver import ClickOnlyDriver

    return ClickOnlyDriver


class WizardApp(App):
    CSS_PATH = "wizard.tcss"
    TITLE = "fcp-doctor"
    BINDINGS = [
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit_app", "Quit"),
        Binding("ctrl+c", "interrupt", "Interrupt", show=False, priority=True),
    ]

    def __init__(
        self,
        ctx: Context,
        symptom: str = "everything",
        runner: Runner | None = None,
        title: str = "",
        low_bandwidth: bool = False,
        color_system: str | None = None,
        export_dir: str | Path | None = None,
        rediscover=None,
    ) -> None:
        super().__init__(driver_class=_driver_class())
        self.ctx = ctx
        self.rediscover = rediscover  # () -> Context: inputs read again (flags, env, .env, fly.toml)
        self.walks = 0
        self.symptom = symptom if symptom in tree.SYMPTOMS else "everything"
        self.runner = runner
        self.replaying = isinstance(runner, ReplayRunner) or ctx.replay
        speed = getattr(runner, "speed", 0.0) if self.replaying else 0.0
        self.beat = DEMO_BEAT * speed if speed else 0.0
        self.sub_title = title
        self.low_bandwidth = low_bandwidth
        self.export_dir = Path(export_dir) if export_dir else Path.cwd()
        self.report = None
        if low_bandwidth:
            self.animation_level = "none"
        system = color_system or (self.console.color_system or "")
        self.colours = system
        if system == "standard":  # 16 colours: the terminal's own palette reads best
            self.theme = "ansi-dark"
            self._filters.append(Downgrade16())

    def on_mount(self) -> None:
        if self.replaying:
            self.push_screen(WalkScreen(self.symptom))
        else:
            self.push_screen(StartScreen(self.symptom))

    # ------------------------------------------------------------ flow
    def fresh_context(self) -> Context:
        """Each walk starts from the inputs alone, not from the facts of an
        earlier walk. A walk after the first reads the inputs again (the user
        may have fixed .env or fly.toml), keeping answers given in the wizard."""
        self.walks += 1
        if self.walks > 1 and self.rediscover is not None:
            try:
                new = self.rediscover()
            except Exception as exc:  # e.g. a fly.toml half-edited: keep what we had
                self.notify(f"Inputs not read again: {redact(str(exc))}", severity="warning")
            else:
                for name, v in self.ctx.inputs.values.items():
                    if v.source == "answered" and new.inputs.get(name) is None:
                        new.inputs.values[name] = v
                self.ctx = new
        return Context(inputs=self.ctx.inputs, timeout=self.ctx.timeout, replay=self.ctx.replay)

    def start_walk(self, symptom: str) -> None:
        self.symptom = symptom
        self.push_screen(WalkScreen(symptom))

    def back_to_start(self) -> None:
        while isinstance(self.screen, (WalkScreen, VerdictScreen)):
            self.pop_screen()

    def show_verdict(self, report) -> None:
        if isinstance(self.screen, VerdictScreen):
            self.pop_screen()
        if isinstance(self.screen, WalkScreen):
            self.push_screen(VerdictScreen(report))

    def verify(self) -> None:
        if isinstance(self.screen, VerdictScreen):
            self.pop_screen()
        if isinstance(self.screen, WalkScreen):
            self.screen.start()

    def export_report(self, report) -> list[Path]:
        self.export_dir.mkdir(parents=True, exist_ok=True)
        md = self.export_dir / "fcp-doctor-report.md"
        js = self.export_dir / "fcp-doctor-report.json"
        md.write_text(render.markdown(report))
        js.write_text(redact(json.dumps(report.to_json(), indent=2)) + "\n")
        return [md, js]

    # ------------------------------------------------------------ actions
    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_quit(self) -> None:  # ctrl+q, the palette's Quit: the same exit status as q
        self.action_quit_app()

    def action_quit_app(self) -> None:
        self.exit(return_code=self.report.exit_code if self.report is not None else 130)

    def action_interrupt(self) -> None:
        """ctrl+c quits at once with the contract's 130, as in any terminal program."""
        self.exit(return_code=130)

    def get_system_commands(self, screen: Screen):
        for cmd in super().get_system_commands(screen):  # theme, screenshot, ...
            if cmd.title == "Keys":  # Textual's panel: "Help: keys" below says more
                continue
            if cmd.title == "Quit":  # with the verdict's exit status, as `q`
                cmd = SystemCommand("Quit", "Quit with the verdict's exit status", self.action_quit_app)
            yield cmd
        yield SystemCommand("Help: keys", "every key of the wizard", self.action_help)
        for name, title, help_ in ACTIONS:
            if hasattr(screen, f"action_{name}"):
                yield SystemCommand(title, help_, partial(self.call_later, screen.run_action, name))
        for i, _ in getattr(screen, "_commands", lambda: [])():
            yield SystemCommand(f"Copy the command of fix step {i}", "OSC 52", partial(self.call_later, screen.run_action, f"copy({i})"))
