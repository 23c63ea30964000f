"""The daily 督办 summary: one message per admin (and the office's robot) and per unit leader.

However many reports pass their deadlines, an admin or a leader reads one message a working day,
queued by the first deadline scan at or after the ladder's hour (09:00): how many reports are
overdue, the most overdue first, cut to fit with "… and N more" (admins: `/cases overdue` lists
them all). The key names the day and the recipient (`overdue:2026-12-04:<chat>`,
`overdue:2026-12-04:U<unit>:<chat>` for a leader), so a second scan that day, or a restart,
queues nothing more; the summary expires when the next one is due, so one held by quiet hours or
the bot's downtime never arrives beside its successor. Per-report rungs to the leaders and the
office are no longer queued (`scheduler.deadlines.reports`); the liaisons' stay.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.runtime.i18n import N_, Translator, gettext_for
from bot.runtime.render import MESSAGE_MAX, esc, local_time
from db.calendar.reminders import overdue_working_days
from db.calendar.workdays import local_date, next_working_day
from db.cases.overdue import OverdueList, overdue_list, overdue_units
from db.delivery.outbox import enqueue
from db.engine import off_the_loop
from db.models import Department, OutboxMessage, Role
from db.people.roles import admin_recipients, recipients_by_department
from scheduler.deadlines.reports import WHAT
from scheduler.deadlines.scan import WECOM_MAX_BYTES, ScanContext

OFFICE_HEAD = N_("督办 {day}: {count} reports are past their deadlines, the most overdue first:")
UNIT_HEAD = N_(
    "督办 {day}: {unit} has {count} reports past their deadlines, the most overdue first:"
)
OFFICE_LINE = N_("• {number} ({unit}): {what}, due {due}, {days} working days late")
UNIT_LINE = N_("• {number}: {what}, due {due}, {days} working days late")
MORE = N_("… and {count} more.")
OFFICE_TAIL = N_("Send /cases overdue to see them all.")


def summary_text(
    overdue: OverdueList,
    scan: ScanContext,
    _: Translator,
    fits: Callable[[str], bool],
    *,
    unit: str | None = None,
) -> str:
    """The summary in one language; `unit` names the unit of a leader's summary."""
    day = local_date(scan.now, scan.tz).isoformat()
    if unit is None:
        head = _(OFFICE_HEAD).format(day=day, count=overdue.total)
    else:
        head = _(UNIT_HEAD).format(day=day, unit=esc(unit), count=overdue.total)
    lines = []
    for entry in overdue.lines:
        values = {
            "number": entry.number,
            "unit": esc(entry.unit) if entry.unit else _("the campaign office"),
            "what": _(WHAT[entry.due_kind.value]) if entry.due_kind.value in WHAT else "",
            "due": local_time(entry.due_at, scan.tz),
            "days": overdue_working_days(entry.due_at, scan.now, scan.calendar, scan.tz),
        }
        lines.append(_(UNIT_LINE if unit is not None else OFFICE_LINE).format(**values))
    tail = [_(OFFICE_TAIL)] if unit is None else []

    def more(count: int) -> list[str]:
        return [_(MORE).format(count=count)] if count else []

    # As many lines as fit with the tail and a count of the rest, which includes the reports
    # not even fetched (only the most overdue `LISTED` are).
    shown: list[str] = []
    for line in lines:
        left_after = overdue.total - len(shown) - 1
        if not fits("\n".join([head, *shown, line, *more(max(left_after, 1)), *tail])):
            break
        shown.append(line)
    body = [head, *shown, *more(overdue.total - len(shown)), *tail]
    return "\n".join(body)


async def _already_queued(session: AsyncSession, prefix: str) -> bool:
    statement = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.dedupe_key).startswith(prefix))
    )
    return bool(await session.scalar(statement))


async def queue_overdue_summaries(session: AsyncSession, scan: ScanContext) -> int:
    """Queue today's summaries once the ladder's hour has come on a working day; returns the
    rows queued."""
    local = scan.now.astimezone(scan.tz)
    today = local.date()
    if not scan.calendar.is_working_day(today) or local.time() < scan.ladder.at:
        return 0
    prefix = f"overdue:{today.isoformat()}:"
    if await _already_queued(session, prefix):
        return 0
    following = next_working_day(today, scan.calendar)
    expires = datetime.combine(following, scan.ladder.at, tzinfo=scan.tz)
    added = 0

    async def add(key: str, text: str, chat_id: int | None = None) -> None:
        """To a chat, or (no `chat_id`) to the office's robot."""
        nonlocal added
        added += await enqueue(
            session,
            key=prefix + key,
            text=text,
            now=scan.now,
            expires_at=expires,
            chat_id=chat_id,
            office_robot=chat_id is None,
        )

    def fits_telegram(text: str) -> bool:
        return len(text) <= MESSAGE_MAX

    def fits_wecom(text: str) -> bool:
        return len(text.encode()) <= WECOM_MAX_BYTES

    with off_the_loop():  # counts over a city's overdue reports
        office = await overdue_list(session, scan.now)
        owing = sorted(await overdue_units(session, scan.now))
    if office.total:
        for admin in await admin_recipients(session, scan.admin_ids, scan.default_language):
            _ = gettext_for(admin.language)
            text = summary_text(office, scan, _, fits_telegram)
            await add(str(admin.telegram_id), text, chat_id=admin.telegram_id)
        if scan.office_robot:
            _ = gettext_for(scan.default_language)
            await add("wecom-office", summary_text(office, scan, _, fits_wecom))
    leaders_of = await recipients_by_department(session, frozenset({Role.leader}))
    told = [unit_id for unit_id in owing if leaders_of.get(unit_id)]
    units = {
        d.id: d
        for d in (
            await session.exec(
                select(Department).where(col(Department.id).in_(told), col(Department.active))
            )
        ).all()
    }
    for unit_id in told:
        unit = units.get(unit_id)
        if unit is None:
            continue
        leaders = leaders_of[unit_id]
        owed = await overdue_list(session, scan.now, department_id=unit_id)
        for leader in leaders:
            _ = gettext_for(leader.language)
            text = summary_text(owed, scan, _, fits_telegram, unit=unit.name)
            await add(f"U{unit_id}:{leader.telegram_id}", text, chat_id=leader.telegram_id)
    return added
