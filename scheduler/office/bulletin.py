"""季度通报: the last quarter's bulletin into the outbox on the first working day after it.

The job runs every day at `bulletin.send_at` (and once shortly after this process takes the
scheduler's lease, so a bot that was down that morning, or a leader that died just before,
catches up). When the day has come and the quarter's bulletin has not
been sent (`QuarterBulletin.sent_at`), it freezes the bulletin (or keeps the one an admin
already froze by publishing it) and commits that, then queues the admins' ranking with the
chart and the workbook and each unit's own line to its liaisons and marks it sent, in one
transaction; the outbox keys make a second run, or a second process, queue nothing new, and a
run cut short after the freeze is finished by the next from the same frozen figures.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from bot.documents.bulletin_files import bulletin_of, keep_files
from bot.documents.bulletin_text import office_message, unit_message
from bot.runtime.i18n import gettext_for
from bot.runtime.services import BotContext, Services
from db.bulletin.bulletin import freeze, frozen_of, stored_bulletin
from db.bulletin.quarters import Quarter, last_finished_quarter
from db.calendar.workdays import WorkCalendar, load_calendar, local_date, working_day_after
from db.delivery.outbox import enqueue
from db.models import Role
from db.office.digest import in_service_since
from db.people.roles import admin_recipients, recipients_by_department

log = logging.getLogger(__name__)


def sending_day(quarter: Quarter, calendar: WorkCalendar) -> date:
    """The first working day after the quarter."""
    return working_day_after(quarter.following().first_day, 0, calendar)


def bulletin_key(quarter: Quarter) -> str:
    return f"bulletin:{quarter.key}"


async def send_bulletin(services: Services, now: datetime) -> int:
    """Queue the last quarter's bulletin when its day has come; returns the rows queued."""
    settings = services.settings
    async with services.sessions() as session:
        calendar = await load_calendar(session)
        quarter = last_finished_quarter(now, settings.tz)
        today = local_date(now, settings.tz)
        due = sending_day(quarter, calendar)
        local_time = now.astimezone(settings.tz).time()
        if today < due or (today == due and local_time < settings.bulletin.send_at):
            return 0
        row = await stored_bulletin(session, quarter.key)
        if row is not None and row.sent_at is not None:
            return 0
        since = await in_service_since(session)
        if row is None and (since is None or since >= quarter.bounds(settings.tz)[1]):
            log.info("no bulletin for %s: the bot was not in use yet", quarter.key)
            return 0
        bulletin = await bulletin_of(session, settings, quarter, now)
        row = await freeze(session, bulletin, now)
        bulletin = frozen_of(row)  # an admin's earlier freeze stands
        # Frozen figures never change again, so they are committed before the files are drawn:
        # the drawing takes seconds, and a transaction open meanwhile would hold SQLite's one
        # write lock (every person's step that writes would wait) or, on PostgreSQL, hold back
        # VACUUM.
        await session.commit()
        files = await keep_files(
            settings.data_dir,
            bulletin,
            settings.default_language,
            separate_process=settings.digest.separate_process,
        )
        key = bulletin_key(quarter)
        added = 0
        admins = await admin_recipients(session, settings.admin_ids, settings.default_language)
        for admin in admins:
            added += await enqueue(
                session,
                key=f"{key}:office:{admin.telegram_id}",
                chat_id=admin.telegram_id,
                text=office_message(bulletin, gettext_for(admin.language)),
                files=files,
                now=now,
            )
        people = await recipients_by_department(session, frozenset({Role.liaison}))
        for unit in bulletin.units:
            for person in people.get(unit.department_id, []):
                added += await enqueue(
                    session,
                    key=f"{key}:unit:{unit.department_id}:{person.telegram_id}",
                    chat_id=person.telegram_id,
                    text=unit_message(bulletin, unit.department_id, gettext_for(person.language)),
                    now=now,
                )
        row.sent_at = now
        session.add(row)
        await session.commit()
    log.info("bulletin %s queued: %d messages", quarter.key, added)
    return added


async def run_bulletin_job(context: BotContext) -> int:
    services = context.services
    added = await send_bulletin(services, services.clock())
    if added:
        services.wake_sender()
    return added
