"""异常情况报告: the admins get one when a round closes and one a month for the service ratings.

The job runs every `[anomalies] scan_interval_seconds` on the leader (and once shortly after
start-up). It reports every closed round whose report is not queued yet, and last month's
service ratings once the first working day of this month has come (at the digest's hour), and
the reports of the two months before it that were not queued (a bot down a whole month). A
round is marked when its report is queued (`AppraisalRound.anomalies_queued_at`, in the same
transaction), and a month counts as queued when one of the admins' exact outbox keys
(`anomalies:ratings:<YYYY-MM>:<telegram id>`) is there: both are indexed reads, where searching
the outbox by key prefix once per round ever closed could use no index. The outbox keys
(`anomalies:round:<id>:<telegram id>` too) make a second run a no-op, and a bot that was down
catches up at its next run. A month without a single service rating has nothing to judge and
gets no report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.documents.anomaly_report import anomaly_text, month_title, round_title, thresholds
from bot.runtime.i18n import Translator, gettext_for
from bot.runtime.services import BotContext, Services
from db.anomalies.load import Findings, month_findings, round_findings
from db.anomalies.rules import ItemKind
from db.calendar.months import month_before, month_bounds, previous_month
from db.calendar.workdays import WorkCalendar, load_calendar, local_date
from db.delivery.outbox import enqueue, existing_keys
from db.models import AppraisalRound, RoundState, ServiceRating
from db.people.roles import Recipient, admin_recipients
from scheduler.office.digest import first_working_day

log = logging.getLogger(__name__)

CATCH_UP_MONTHS = 3
"""A bot that was down catches up at most this many months of service rating reports."""


def round_key(round_id: int) -> str:
    return f"anomalies:round:{round_id}:"


def month_key(month: date) -> str:
    return f"anomalies:ratings:{month:%Y-%m}:"


async def _queued(session: AsyncSession, prefix: str, admins: list[Recipient]) -> bool:
    """Whether the report of `prefix` is in the outbox for one of `admins` (exact keys: the
    unique index on `dedupe_key` answers)."""
    return bool(await existing_keys(session, [f"{prefix}{admin.telegram_id}" for admin in admins]))


def _month_due(now: datetime, calendar: WorkCalendar, services: Services) -> bool:
    """Whether last month's report is due: the digest's hour of this month's first working day
    has come."""
    settings = services.settings
    today = local_date(now, settings.tz)
    due = first_working_day(today, calendar)
    return today > due or (
        today == due and now.astimezone(settings.tz).time() >= settings.digest.send_at
    )


def _months_due(now: datetime, calendar: WorkCalendar, services: Services) -> list[date]:
    """The months whose report may be caught up, oldest first: the `CATCH_UP_MONTHS` months
    before this one, last month only once its report is due."""
    months = [previous_month(now, services.settings.tz)]
    while len(months) < CATCH_UP_MONTHS:
        months.append(month_before(months[-1]))
    if not _month_due(now, calendar, services):
        months = months[1:]
    return months[::-1]


async def _rated_in(session: AsyncSession, month: date, tz: ZoneInfo) -> bool:
    after = local_date(month_bounds(month, tz)[1], tz)
    found = await session.scalar(
        select(func.count())
        .select_from(ServiceRating)
        .where(col(ServiceRating.rated_on) >= month, col(ServiceRating.rated_on) < after)
    )
    return bool(found)


async def _queue_report(
    session: AsyncSession,
    services: Services,
    admins: list[Recipient],
    prefix: str,
    title: Callable[[Translator], str],
    findings: Findings,
    kind: ItemKind,
    now: datetime,
) -> int:
    """One message per admin, in the admin's language."""
    tz = services.settings.tz
    texts = {
        language: anomaly_text(
            title(gettext_for(language)), findings, kind, gettext_for(language), tz
        )
        for language in {a.language for a in admins}
    }
    added = 0
    for admin in admins:
        added += await enqueue(
            session,
            key=f"{prefix}{admin.telegram_id}",
            chat_id=admin.telegram_id,
            text=texts[admin.language],
            now=now,
        )
    return added


async def publish_anomaly_reports(services: Services, now: datetime) -> int:
    """Queue the reports that are due and not queued yet; returns the rows queued."""
    settings = services.settings
    tz = settings.tz
    rules = thresholds(settings.anomalies)
    added = 0
    async with services.sessions() as session:
        admins = await admin_recipients(session, settings.admin_ids, settings.default_language)
        if not admins:
            return 0
        calendar = await load_calendar(session)
        closed = (
            await session.exec(
                select(AppraisalRound)
                .where(
                    col(AppraisalRound.state) == RoundState.closed,
                    col(AppraisalRound.anomalies_queued_at).is_(None),
                )
                .order_by(col(AppraisalRound.closed_at), col(AppraisalRound.id))
            )
        ).all()
        for round_ in closed:
            assert round_.id is not None
            findings = await round_findings(session, round_, rules, now, calendar=calendar, tz=tz)
            added += await _queue_report(
                session,
                services,
                admins,
                round_key(round_.id),
                partial(round_title, round_),
                findings,
                ItemKind.ballot,
                now,
            )
            round_.anomalies_queued_at = now
            session.add(round_)
            # Each report committed as queued: the next one's findings take seconds on a big
            # database, and an open write transaction would hold SQLite's one write lock, and
            # with it every person's step that writes, all that time.
            await session.commit()
            log.info("anomaly report of round %d: %d flags", round_.id, len(findings.flags))
        for month in _months_due(now, calendar, services):
            if await _queued(session, month_key(month), admins) or not await _rated_in(
                session, month, tz
            ):
                continue
            findings = await month_findings(session, month, rules, now, calendar=calendar, tz=tz)
            added += await _queue_report(
                session,
                services,
                admins,
                month_key(month),
                partial(month_title, month),
                findings,
                ItemKind.rating,
                now,
            )
            await session.commit()
            log.info("anomaly report of %s: %d flags", f"{month:%Y-%m}", len(findings.flags))
    return added


async def run_anomaly_job(context: BotContext) -> int:
    services = context.services
    added = await publish_anomaly_reports(services, services.clock())
    if added:
        services.wake_sender()
    return added
