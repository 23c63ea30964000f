"""Typed callback data: one definition per button family, packed as `prefix:field:field`.

Callback data comes from the client and can be forged, so it only ever says what was pressed;
handlers look the object up and check the account's right to act on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from db.models import ROW_ID_MAX

MAX_BYTES = 64


@dataclass(frozen=True)
class CallbackSpec:
    prefix: str
    fields: tuple[str, ...]

    def pack(self, *values: str | int) -> str:
        if len(values) != len(self.fields):
            raise ValueError(f"{self.prefix} takes {len(self.fields)} values")
        parts = [self.prefix, *(str(v) for v in values)]
        if any(":" in p for p in parts[1:]):
            raise ValueError("callback values may not contain ':'")
        data = ":".join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise ValueError("callback data longer than Telegram's 64 bytes")
        return data

    @property
    def pattern(self) -> re.Pattern[str]:
        fields = ":".join(r"[^:]{1,40}" for _ in self.fields)
        return re.compile(rf"^{re.escape(self.prefix)}:{fields}$")

    def unpack(self, data: str | None) -> dict[str, str] | None:
        if not data or not self.pattern.match(data):
            return None
        return dict(zip(self.fields, data.split(":")[1:], strict=True))


def as_int(value: str | None) -> int | None:
    """Parse an id from callback data or a typed word without trusting it to be one (ASCII digits
    only: `²` is a digit to `str.isdigit` but not to `int`; and no more than a row id can be:
    a forged 11-digit id overflowed PostgreSQL's integer in the lookup)."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 12:
        return None
    number = int(value)
    return number if number <= ROW_ID_MAX else None


MENU = CallbackSpec("m", ("action",))
LANGUAGE = CallbackSpec("lang", ("code",))
CATEGORY = CallbackSpec("rc", ("id",))
DEPARTMENT = CallbackSpec("rd", ("id",))
TIME_PLACE = CallbackSpec("rt", ("action",))
EVIDENCE = CallbackSpec("rv", ("action",))
IDENTITY = CallbackSpec("ri", ("mode",))
SUMMARY = CallbackSpec("rs", ("action", "rev"))
EDIT = CallbackSpec("re", ("field",))
RECEIPT = CallbackSpec("rr", ("action",))
INBOX_ASSIGN = CallbackSpec("ia", ("report", "dept"))
"""Triage: assign the report to the unit (accept, or reassign a returned/escalated one)."""
INBOX_PAGE = CallbackSpec("ip", ("page",))
"""Triage: another page of the inbox's list, in place of the pressed one."""
INBOX_OPEN = CallbackSpec("io", ("report",))
"""Triage: open a listed report's card (its triage buttons)."""
INBOX_ACTION = CallbackSpec("ix", ("action", "report"))
"""Triage: `other` (search another unit), `reject` or `merge`; asks for the rest by text."""
CASE_SIGN = CallbackSpec("cs", ("report",))
"""Liaison: sign for the assigned report."""
CASE_ACTION = CallbackSpec("cx", ("action", "report"))
"""Liaison: `return` (asks for a reason), `reply` (the answer), `ask` (a question for the
reporter) or `extend` (days and reason of an extension request)."""
EXTENSION_DECISION = CallbackSpec("xd", ("decision", "report"))
"""Admin: `approve` or `deny` a pending extension request."""
REPORTER_ANSWER = CallbackSpec("qa", ("report",))
"""Reporter: answer the unit's question (asks for the text)."""
RATE = CallbackSpec("rg", ("rating", "report"))
"""Reporter: rate the answer (a `db.cases.rules.Rating` value); asks for an optional comment."""
RATE_NO_COMMENT = CallbackSpec("rn", ("report",))
"""Reporter: submit the chosen rating without a comment."""
INVITE_REVOKE = CallbackSpec("iv", ("invite",))
"""Admin: withdraw an unused invite link."""
GRANT_REVOKE = CallbackSpec("gr", ("grant",))
"""Admin: end a person's role grant."""
UNITS_PAGE = CallbackSpec("ul", ("page", "text"))
"""Admin: another page of /units; `text` is "q" + the search text (cut to fit)."""
ADMIN_MENU = CallbackSpec("am", ("task",))
"""Admin: a task of the /admin menu."""
HANDOVER_FROM = CallbackSpec("hf", ("grant", "target"))
"""Admin: the liaison grant a /handover ends, and the account named to take over (0: none)."""
HANDOVER_TO = CallbackSpec("ht", ("grant", "how", "target"))
"""Admin: how the department is handed over (see `handlers.people.roster`)."""
BROADCAST_AUDIENCE = CallbackSpec("bca", ("kind", "value"))
"""Admin: the audience of a broadcast (`db.delivery.broadcasts.AudienceKind`; value `-` for all, the
class name, or `-` for "one department", which asks for the code)."""
BROADCAST_SEND = CallbackSpec("bcx", ("action", "draft"))
"""Admin: `send` or `cancel` the previewed broadcast draft (its nonce: a newer draft or a sent
one makes the button stale)."""
CASES_PAGE = CallbackSpec("csp", ("page", "state", "unit", "cat", "overdue", "month"))
"""Admin: a page of /cases; the filters travel in the button (`-` for none, ids not codes) and
are checked again on every press."""
DUTY_OPEN = CallbackSpec("do", ("submission",))
"""Liaison: open a submission the unit owes (`/duties`) and file it, or file it again after a
return; the flow depends on the duty's kind (self-check or periodic report)."""
DUTY_REVIEW = CallbackSpec("dr", ("decision", "submission", "version"))
"""Admin: `accepted` or `returned` (asks for the comments) on a submission's latest round."""
DUTY_REMIND = CallbackSpec("dm", ("obligation", "period"))
"""Admin, from the `/duties status` matrix: remind every unit still missing that period now."""
LEDGER_ITEM = CallbackSpec("li", ("action", "item", "version"))
"""Ledger: a liaison's `progress` or `done` (asks for a note and evidence); an admin's
`confirm` or `reopen` (a `db.duties.rules.LedgerAction` value)."""
DUTY_STEP = CallbackSpec("ds", ("action",))
"""Filing a duty: a step's button (`skip`, `done`, `clear`, `found`, `clean`, or what to edit:
`q<N>`, `body`, `files`, `back`); the flow's state says which step it belongs to."""
DUTY_CONFIRM = CallbackSpec("dc", ("action", "rev"))
"""Filing a duty: `confirm`, `edit`, `restart` or `cancel` from the summary of draft revision
`rev` (an older summary's button is refused)."""
LEDGER_STEP = CallbackSpec("lu", ("action", "item"))
"""Liaison, in a ledger update: `files` (no more evidence), `submit` or `cancel` the draft of
that item."""
INSPECT = CallbackSpec("ins", ("action", "value"))
"""Admin, recording an inspection: `unit` or `category` (an id), `files` (no more evidence),
`submit` (the draft's revision) or `cancel`."""
SERVICE_RATE = CallbackSpec("svr", ("link", "value"))
"""A person served: rate the unit through the link just opened (a `ServiceRatingValue`); the
link must be the one stored for this chat when the deep link was opened."""
SERVICE_REASON = CallbackSpec("svw", ("rating", "reason"))
"""A person served: the reason of their 不满意 (a code of `handlers.ratings.rate.REASONS`,
`other` to type one, `skip`)."""
SERVICE_REPORT = CallbackSpec("svx", ("rating",))
"""A person served: turn their 不满意 with a reason into a report (the report flow, unit set)."""
ROUND_OPEN = CallbackSpec("apo", ("round",))
"""Evaluator: a round's units with the marks given so far, to rate the next or redo one."""
ROUND_UNIT = CallbackSpec("apu", ("round", "unit"))
"""Evaluator: rate (or rate again) one unit of the round, from its first dimension."""
BALLOT_MARK = CallbackSpec("apm", ("round", "unit", "marks"))
"""Evaluator: the marks given to the unit so far, the pressed one last (digits, one per
dimension); checked against the round's scale and dimensions on every press."""
BALLOT_SKIP = CallbackSpec("aps", ("round", "unit"))
"""Evaluator: 没有接触过, no marks for this unit."""
BALLOT_NO_COMMENT = CallbackSpec("apn", ("round", "unit"))
"""Evaluator: no comment on the unit just rated; on to the next."""
