"""A rule's status read off its row and written back, for submissions and ledger items."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from db.duties.rules import SubmissionProblem, SubmissionStatus, file_round
from db.ledger.rules import ItemStatus, LedgerAction, LedgerProblem, ledger_step
from db.models import LedgerSource, LedgerState, RectificationItem, Submission, SubmissionState
from db.status_fields import read_status, write_status

NOW = datetime(2026, 4, 7, 2, tzinfo=UTC)
DUE = datetime(2026, 4, 8, 16, tzinfo=UTC)


def test_a_status_is_read_off_its_row_and_written_back_but_for_the_due_time() -> None:
    row = Submission(obligation_id=1, department_id=1, period="2026-Q2", due_at=DUE)
    status = read_status(SubmissionStatus, row)
    assert status == SubmissionStatus(SubmissionState.due, DUE)
    filed = file_round(status, NOW)
    assert not isinstance(filed, SubmissionProblem)
    write_status(row, replace(filed, due_at=DUE + timedelta(days=9)))
    assert (row.state, row.rounds, row.first_submitted_at, row.version) == (
        SubmissionState.submitted,
        1,
        NOW,
        2,
    )
    assert row.due_at == DUE
    item = RectificationItem(
        department_id=1, source=LedgerSource.self_check, description="x", due_at=DUE
    )
    done = ledger_step(read_status(ItemStatus, item), LedgerAction.done, "已整改", NOW)
    assert not isinstance(done, LedgerProblem)
    write_status(item, done)
    assert (item.state, item.done_at, item.version) == (LedgerState.done, NOW, 2)
