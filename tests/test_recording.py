"""Recordings (diagnostics/recording.py): a walk recorded to a file, loaded
back and replayed gives the same report; a malformed file is one line of error."""

import asyncio
import json
import socket

import pytest

from diagnostics import recording
from diagnostics.context import Context
from diagnostics.engine import Engine, RecordingRunner
from diagnostics.inputs import discover

PASSWORD = "rec-S3cret-pw"


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: a real refused connection
    return port


def live_walk(tmp_path):
    url = f"postgres://app:{PASSWORD}@127.0.0.1:{closed_port()}/appdb"
    ctx = Context(inputs=discover({"database_url": url}, env={}, cwd=tmp_path), timeout=2.0)
    runner = RecordingRunner()
    report = asyncio.run(Engine(ctx, "laptop-cant-reach-postgres", runner=runner).run())
    return ctx, runner, report


def comparable(report) -> dict:
    d = report.to_json()
    for s in d["steps"]:
        s.pop("elapsed_ms")
    d.pop("elapsed_ms")
    return d


def test_record_to_a_file_load_and_replay_gives_the_same_report(tmp_path):
    ctx, runner, live = live_walk(tmp_path)
    assert live.root_cause.id == "net.connection_refused"
    path = tmp_path / "walk.json"
    recording.save(recording.from_walk(ctx, "laptop-cant-reach-postgres", runner), path)
    text = path.read_text()
    assert PASSWORD not in text and json.loads(text)["schema"] == recording.SCHEMA
    rec = recording.load(path)
    assert rec.symptom == "laptop-cant-reach-postgres" and sorted(s["node"] for s in rec.steps) == sorted(s.node for s in live.steps)
    replayed = asyncio.run(Engine(rec.context(), rec.symptom, runner=rec.runner(speed=0)).run())
    assert comparable(replayed) == comparable(live)
    # and once more: a replay recorded again is the same file's walk
    again = RecordingRunner(rec.runner(speed=0))
    ctx2 = rec.context()
    asyncio.run(Engine(ctx2, rec.symptom, runner=again).run())
    by_node = lambda steps: sorted(steps, key=lambda s: s["node"])  # noqa: E731 (the tracks run side by side)
    assert by_node(recording.from_walk(ctx2, rec.symptom, again).steps) == by_node(rec.steps)


def test_a_recording_is_paced_by_its_recorded_durations(tmp_path):
    rec = recording.load(recording.demo_scenarios()["fly-ssl-require"])
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    asyncio.run(Engine(rec.context(), rec.symptom, runner=rec.runner(speed=0.5, sleep=sleep)).run())
    assert sorted(slept) == sorted(s["elapsed_ms"] / 1000 * 0.5 for s in rec.steps)


@pytest.mark.parametrize(
    "content,words",
    [
        ("{not json", "is not a recording"),
        ('{"schema": "something/else", "steps": []}', "is not a fcp-doctor.recording/1 file"),
        ('{"schema": "fcp-doctor.recording/1"}', "is malformed"),
        ('{"schema": "fcp-doctor.recording/1", "steps": [{"outcome": "ok"}]}', "a step lacks its node or outcome"),
        ('{"schema": "fcp-doctor.recording/1", "steps": 7}', "is malformed"),
        ('{"schema": "fcp-doctor.recording/1", "steps": [], "inputs": [1]}', "is malformed"),
        ('{"schema": "fcp-doctor.recording/1", "steps": [], "timeout": "soon"}', "is malformed"),
        ("[]", "is not a fcp-doctor.recording/1 file"),
        ("\udcff", "is not a recording"),
    ],
)
def test_a_malformed_recording_is_one_line_of_error(tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(recording.RecordingError) as exc:
        recording.load(path)
    message = str(exc.value)
    assert words in message and str(path) in message
    assert "\n" not in message and "Traceback" not in message


def test_a_missing_file_is_one_line_of_error(tmp_path):
    with pytest.raises(recording.RecordingError, match="cannot read .*nothing.json: No such file"):
        recording.load(tmp_path / "nothing.json")
