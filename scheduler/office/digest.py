"""情况通报: last month's digest into the outbox on the first working day of a month.

The job runs every day at `digest.send_at` (and once shortly after this process takes the
scheduler's lease, so a bot that was down that morning, or a leader that died just before,
catches up). It publishes when the first working day of this month has come
and last month's digest is not in the outbox yet; the outbox keys make a second run a no-op.
Departments get their own figures (liaisons and leaders, and the unit's WeCom robot); the admins
get the city-wide view with the chart and the workbook, which are kept under the data dir.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.documents.digest_bundle import DigestBundle, build_digest_bundle, keep_files
from bot.runtime.fairness import let_others_run
from bot.runtime.services import BotContext, Services
from db.calendar.months import month_bounds, previous_month
from db.calendar.workdays import WorkCalendar, load_calendar, local_date, working_day_after
from db.delivery.outbox import enqueue
from db.models import Department, OutboxMessage, Role
from db.office.digest import in_service_since
from db.people.roles import admin_recipients, recipients_by_department

log = logging.getLogger(__name__)

UNITS_PER_TURN = 20
"""Units whose digest rows are queued between two turns of the loop (a few ms of work)."""


def first_working_day(month: date, calendar: WorkCalendar) -> date:
    return working_day_after(month.replace(day=1), 0, calendar)


def digest_key(month: date) -> str:
    return f"digest:{month:%Y-%m}"


async def already_published(session: AsyncSession, month: date) -> bool:
    found = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.dedupe_key).startswith(digest_key(month) + ":"))
    )
    return bool(found)


async def publish_digest(services: Services, now: datetime, *, force: bool = False) -> int:
    """Queue last month's digest when its day has come; returns the rows queued."""
    settings = services.settings
    async with services.sessions() as session:
        calendar = await load_calendar(session)
        today = local_date(now, settings.tz)
        local_now = now.astimezone(settings.tz)
        due_day = first_working_day(today, calendar)
        if not force and (
            today < due_day or (today == due_day and local_now.time() < settings.digest.send_at)
        ):
            return 0
        month = previous_month(now, settings.tz)
        if await already_published(session, month):
            return 0
        since = await in_service_since(session)
        if not force and (since is None or since >= month_bounds(month, settings.tz)[1]):
            log.info("no digest for %s: the bot was not in use yet", f"{month:%Y-%m}")
            return 0
        admins = await admin_recipients(session, settings.admin_ids, settings.default_language)
        units = {d.id: d for d in (await session.exec(select(Department))).all()}
        people = await recipients_by_department(session, frozenset({Role.liaison, Role.leader}))
        # Every language's bundle before the first row is written: building one takes seconds,
        # and a write transaction open meanwhile would hold up everybody's writes.
        languages = {settings.default_language} | {a.language for a in admins}
        languages |= {p.language for unit_people in people.values() for p in unit_people}
        bundles: dict[str, DigestBundle] = {}
        for language in sorted(languages):
            bundles[language] = await build_digest_bundle(session, settings, month, now, language)
        default = bundles[settings.default_language]
        files = await keep_files(settings.data_dir, default)
        key = digest_key(month)
        added = 0
        for admin in admins:
            text = bundles[admin.language].office_text
            added += await enqueue(
                session,
                key=f"{key}:office:{admin.telegram_id}",
                chat_id=admin.telegram_id,
                text=text,
                files=files,
                now=now,
            )
        if settings.wecom.office_url is not None:
            added += await enqueue(
                session,
                key=f"{key}:office:wecom",
                office_robot=True,
                text=default.office_text,
                now=now,
            )
        for count, figures in enumerate(default.digest.departments, 1):
            if count % UNITS_PER_TURN == 0:
                # Hundreds of units, a few rows each: the loop gets a turn now and then.
                await let_others_run()
            unit_id = figures.department_id
            for person in people.get(unit_id, []):
                text = bundles[person.language].department_texts[unit_id]
                added += await enqueue(
                    session,
                    key=f"{key}:unit:{unit_id}:{person.telegram_id}",
                    chat_id=person.telegram_id,
                    text=text,
                    now=now,
                )
            unit = units.get(unit_id)
            if unit is not None and unit.wecom_url:
                added += await enqueue(
                    session,
                    key=f"{key}:unit:{unit_id}:wecom",
                    department_id=unit_id,
                    text=default.department_texts[unit_id],
                    now=now,
                )
        await session.commit()
    log.info("digest %s queued: %d messages", f"{month:%Y-%m}", added)
    return added


async def run_digest_job(context: BotContext) -> int:
    services = context.services
    added = await publish_digest(services, services.clock())
    if added:
        services.wake_sender()
    return added
