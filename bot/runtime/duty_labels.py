"""Words for the duty enums, in the catalogs: what the office sees in chat and in workbooks."""

from __future__ import annotations

from bot.runtime.i18n import N_, Translator
from db.duties.status import Cell
from db.models import (
    LedgerSource,
    LedgerState,
    ObligationKind,
    ReviewDecision,
    SubmissionState,
)

KIND_LABELS: dict[ObligationKind, str] = {
    ObligationKind.self_check: N_("self-check"),
    ObligationKind.plan: N_("implementation plan"),
    ObligationKind.quarterly: N_("quarterly report"),
    ObligationKind.summary: N_("summary"),
    ObligationKind.other: N_("other duty"),
}
SUBMISSION_STATE_LABELS: dict[SubmissionState, str] = {
    SubmissionState.due: N_("not filed"),
    SubmissionState.submitted: N_("waiting for review"),
    SubmissionState.returned: N_("returned for another round"),
    SubmissionState.accepted: N_("accepted"),
}
DECISION_LABELS: dict[ReviewDecision, str] = {
    ReviewDecision.accepted: N_("accepted"),
    ReviewDecision.returned: N_("returned"),
}
CELL_MARKS: dict[Cell, str] = {
    Cell.on_time: "✅",
    Cell.late: "⚠️",
    Cell.missing: "❌",
    Cell.pending: "⏳",
    Cell.returned: "↩️",
    Cell.accepted: "🟢",
}
CELL_LABELS: dict[Cell, str] = {
    Cell.on_time: N_("filed on time"),
    Cell.late: N_("filed late"),
    Cell.missing: N_("missing"),
    Cell.pending: N_("not due yet"),
    Cell.returned: N_("returned"),
    Cell.accepted: N_("accepted"),
}
SOURCE_LABELS: dict[LedgerSource, str] = {
    LedgerSource.self_check: N_("self-check"),
    LedgerSource.inspection: N_("inspection"),
    LedgerSource.report: N_("report"),
}
LEDGER_STATE_LABELS: dict[LedgerState, str] = {
    LedgerState.open: N_("open"),
    LedgerState.done: N_("done, awaiting confirmation"),
    LedgerState.confirmed: N_("confirmed"),
}


def kind_label(kind: ObligationKind | str, _: Translator) -> str:
    return _(KIND_LABELS[ObligationKind(kind)])
