"""gauntlet.harness.journal and gauntlet.harness.ledger: JSONL events and the resource ledger."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from gauntlet.harness.journal import Journal, iter_events, read_events, utc_now
from gauntlet.harness.ledger import Ledger, Resource, outstanding
from gauntlet.harness.redaction import MASK, redactor


@pytest.fixture
def journal(tmp_path):
    j = Journal(tmp_path / "run-1" / "journal.jsonl", "run-1")
    yield j
    j.close()


# --- Journal ------------------------------------------------------------------------------------

def test_journal_creates_parent_directories(tmp_path):
    path = tmp_path / "a" / "b" / "journal.jsonl"
    j = Journal(path, "r")
    try:
        assert path.parent.is_dir()
        assert path.exists()
    finally:
        j.close()


def test_write_returns_record_with_ts_run_id_and_event(journal):
    record = journal.write("step_started", step=3, name="Build")
    assert record["run_id"] == "run-1"
    assert record["event"] == "step_started"
    assert record["step"] == 3 and record["name"] == "Build"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"])


def test_utc_now_format():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", utc_now())


def test_each_write_is_one_json_line_visible_before_close(journal):
    """Flushed per event: another handle sees each line while the journal is still open."""
    with open(journal.path, encoding="utf-8") as reader:
        journal.write("run_started", target="offline")
        first = reader.readline()
        assert first.endswith("\n")
        assert json.loads(first)["event"] == "run_started"
        journal.write("step_started", step=1)
        second = reader.readline()
        assert json.loads(second)["step"] == 1
        assert reader.readline() == ""  # nothing else, no partial line
    # iter_events sees them too, while still open
    assert [e["event"] for e in iter_events(journal.path)] == ["run_started", "step_started"]


def test_one_line_per_event_even_with_newlines_in_values(journal):
    journal.write("step_finished", reason="line one\nline two\n")
    journal.close()
    lines = journal.path.read_text().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["reason"] == "line one\nline two\n"


def test_non_json_values_are_stringified(journal):
    journal.write("x", path=Path("/tmp/somewhere"))
    events = read_events(journal.path)
    assert events[0]["path"] == "/tmp/somewhere"


def test_secrets_are_redacted_in_the_file(journal):
    redactor.register("journal-registered-secret-9")
    returned = journal.write("command", argv="aws --secret journal-registered-secret-9",
                             env=["AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"],
                             note="password=hunter22")
    text = journal.path.read_text()
    assert "journal-registered-secret-9" not in text
    assert "AKIAIOSFODNN7EXAMPLE" not in text
    assert "hunter22" not in text
    event = read_events(journal.path)[0]
    assert event["argv"] == f"aws --secret {MASK}"
    assert event["env"] == [f"AWS_ACCESS_KEY_ID={MASK}"]
    assert event["note"] == f"password={MASK}"
    # the returned record is the caller's own, unredacted
    assert returned["argv"] == "aws --secret journal-registered-secret-9"


def test_appends_to_an_existing_journal(tmp_path):
    path = tmp_path / "journal.jsonl"
    first = Journal(path, "r")
    first.write("a")
    first.close()
    second = Journal(path, "r")
    second.write("b")
    second.close()
    assert [e["event"] for e in read_events(path)] == ["a", "b"]


def test_close_is_idempotent(journal):
    journal.write("a")
    journal.close()
    journal.close()
    with pytest.raises(ValueError):
        journal.write("after close")


def test_concurrent_writes_give_whole_lines(journal):
    def writer(n):
        for i in range(100):
            journal.write("tick", writer=n, i=i, payload="x" * 200)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    lines = journal.path.read_text().splitlines()
    assert len(lines) == 600
    records = [json.loads(line) for line in lines]
    for n in range(6):
        assert [r["i"] for r in records if r["writer"] == n] == list(range(100))


# --- reading ------------------------------------------------------------------------------------

def test_iter_events_of_missing_file_is_empty(tmp_path):
    assert list(iter_events(tmp_path / "nope.jsonl")) == []
    assert read_events(tmp_path / "nope.jsonl") == []


def test_torn_last_line_is_skipped(journal):
    journal.write("a")
    journal.write("b")
    journal.close()
    with open(journal.path, "a", encoding="utf-8") as handle:
        handle.write('{"ts": "2024-01-01T00:00:00.000Z", "run_id": "run-1", "event": "st')
    assert [e["event"] for e in read_events(journal.path)] == ["a", "b"]


def test_filter_by_event(journal):
    journal.write("step_started", step=1)
    journal.write("step_finished", step=1, status="passed")
    journal.write("step_started", step=2)
    journal.write("step_finished", step=2, status="failed")
    finished = read_events(journal.path, "step_finished")
    assert [(e["step"], e["status"]) for e in finished] == [(1, "passed"), (2, "failed")]
    assert [e["step"] for e in iter_events(journal.path, "step_started")] == [1, 2]
    assert read_events(journal.path, "nothing_like_this") == []


def test_reopening_after_a_torn_line_keeps_the_next_event(tmp_path):
    path = tmp_path / "journal.jsonl"
    first = Journal(path, "r")
    first.write("a")
    first.close()
    with open(path, "a", encoding="utf-8") as handle:  # a writer killed mid-line
        handle.write('{"ts": "2024-01-01T00:00:00.000Z", "event": "to')
    resumed = Journal(path, "r")
    resumed.write("resumed")
    resumed.write("b")
    resumed.close()
    assert [e["event"] for e in read_events(path)] == ["a", "resumed", "b"]


# --- Ledger -------------------------------------------------------------------------------------

def test_record_writes_a_resource_event_before_returning(journal):
    ledger = Ledger(journal)
    resource = ledger.record("process", 4242, name="moto", port=5000)
    assert resource == Resource("process", "4242", {"name": "moto", "port": 5000})
    assert resource.key == "process/4242"
    events = read_events(journal.path, "resource")
    assert events == [{**events[0], "kind": "process", "id": "4242",
                       "attrs": {"name": "moto", "port": 5000}}]


def test_outstanding_lists_unreleased_in_creation_order(journal):
    ledger = Ledger(journal)
    ledger.record("directory", "/tmp/run")
    ledger.record("process", 10)
    ledger.record("ec2:instance", "i-0abc", region="us-east-1", account="123456789012")
    ledger.record("port", 5000)
    ledger.release("process", 10)
    left = outstanding(journal.path)
    assert [r.key for r in left] == ["directory//tmp/run", "ec2:instance/i-0abc", "port/5000"]
    assert left[1].attrs == {"region": "us-east-1", "account": "123456789012"}


def test_release_matches_kind_and_id(journal):
    ledger = Ledger(journal)
    ledger.record("process", 10)
    ledger.record("port", 10)
    ledger.release("port", "10")
    assert [r.key for r in outstanding(journal.path)] == ["process/10"]


def test_release_of_unknown_resource_is_harmless(journal):
    ledger = Ledger(journal)
    ledger.record("process", 1)
    ledger.release("process", 999)
    assert [r.key for r in outstanding(journal.path)] == ["process/1"]


def test_re_record_moves_resource_to_the_end_with_new_attrs(journal):
    ledger = Ledger(journal)
    ledger.record("process", 1, name="old")
    ledger.record("process", 2)
    ledger.record("process", 1, name="new")
    left = outstanding(journal.path)
    assert [r.key for r in left] == ["process/2", "process/1"]
    assert left[1].attrs == {"name": "new"}


def test_record_after_release_is_outstanding_again(journal):
    ledger = Ledger(journal)
    ledger.record("s3:bucket", "b1")
    ledger.record("s3:bucket", "b2")
    ledger.release("s3:bucket", "b1")
    assert [r.ident for r in outstanding(journal.path)] == ["b2"]
    ledger.record("s3:bucket", "b1")
    assert [r.ident for r in outstanding(journal.path)] == ["b2", "b1"]
    ledger.release("s3:bucket", "b1")
    ledger.release("s3:bucket", "b2")
    assert outstanding(journal.path) == []


def test_outstanding_ignores_other_events_and_torn_lines(journal):
    ledger = Ledger(journal)
    journal.write("run_started")
    ledger.record("process", 7)
    journal.write("step_finished", step=1, status="passed")
    journal.close()
    with open(journal.path, "a", encoding="utf-8") as handle:
        handle.write('{"event": "resource", "kind": "process", "id": "8"')  # killed mid-write
    assert [r.key for r in outstanding(journal.path)] == ["process/7"]


def test_outstanding_of_missing_journal_is_empty(tmp_path):
    assert outstanding(tmp_path / "none.jsonl") == []


def test_ledger_survives_in_the_file_for_a_later_reader(tmp_path):
    """A killed run leaves the list: a fresh reader sees it without the writer closing."""
    path = tmp_path / "journal.jsonl"
    j = Journal(path, "r")
    try:
        Ledger(j).record("process", 99, cmd="etcd")
        assert [(r.kind, r.ident, r.attrs) for r in outstanding(path)] == [
            ("process", "99", {"cmd": "etcd"})]
    finally:
        j.close()
