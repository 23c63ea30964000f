"""The ledger's states: progress, done, confirm and reopen, as plain rules."""

from __future__ import annotations

from datetime import UTC, datetime

from db.ledger.rules import ItemStatus, LedgerAction, LedgerProblem, ledger_step
from db.models import LedgerState

NOW = datetime(2026, 4, 7, 2, tzinfo=UTC)
DUE = datetime(2026, 4, 8, 16, tzinfo=UTC)


def test_ledger_states() -> None:
    item = ItemStatus(LedgerState.open, DUE)
    assert ledger_step(item, LedgerAction.progress, "", NOW) is LedgerProblem.note_required
    moved = ledger_step(item, LedgerAction.progress, "已约谈窗口负责人", NOW)
    assert isinstance(moved, ItemStatus) and moved.state is LedgerState.open
    assert ledger_step(moved, LedgerAction.confirm, None, NOW) is LedgerProblem.not_done
    done = ledger_step(moved, LedgerAction.done, "制度已印发", NOW)
    assert isinstance(done, ItemStatus) and done.state is LedgerState.done
    assert ledger_step(done, LedgerAction.done, "again", NOW) is LedgerProblem.not_open
    reopened = ledger_step(done, LedgerAction.reopen, "证明材料不全", NOW)
    assert isinstance(reopened, ItemStatus)
    assert (reopened.state, reopened.reopen_count, reopened.done_at) == (LedgerState.open, 1, None)
    assert ledger_step(reopened, LedgerAction.reopen, "x", NOW) is LedgerProblem.still_open
    done = ledger_step(reopened, LedgerAction.done, "补充了材料", NOW)
    assert isinstance(done, ItemStatus)
    confirmed = ledger_step(done, LedgerAction.confirm, None, NOW, version=done.version)
    assert isinstance(confirmed, ItemStatus) and confirmed.state is LedgerState.confirmed
    assert ledger_step(done, LedgerAction.confirm, None, NOW, version=1) is LedgerProblem.stale
