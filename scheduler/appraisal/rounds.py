"""Rating rounds on the clock: late invitations, reminders to evaluators who have not finished,
and the close.

Every run (each `reminders.scan_interval_seconds`, in the leader only) reads the rounds from the
database, so a bot that was down catches up on its next run:

* a round past its `closes_at` is closed (`db.appraisal.rounds.close_round`: one closer wins),
  its results frozen, and each admin gets the short result message, in the same transaction;
* an open round asks the evaluators who joined its groups since it opened (the invitation's key
  is the one the opening used, so nobody is asked twice);
* an open round reminds its evaluators who have not yet cast a ballot on every unit, once two
  working days before the closing day and once on the closing day itself, from `reminders.at`
  local time (the outbox holds them through quiet hours, and drops one the close overtook).

The outbox keys name the round, the rung and the account, so a re-run queues nothing twice.
After downtime that reaches the closing day only the last day's reminder goes out; a round
opened on (or after) a reminder's day does not send that reminder, the invitation being fresh.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import col, select

from bot.documents.round_invitation import invitation, invitation_key
from bot.documents.round_results import result_messages
from bot.runtime import callbacks as cb
from bot.runtime.i18n import N_, gettext_for
from bot.runtime.render import esc, local_time
from bot.runtime.services import BotContext, Services
from db.appraisal.ballots import ballots_by_unit
from db.appraisal.rounds import (
    close_round,
    round_evaluators,
    round_units,
    unfinished_evaluators,
)
from db.calendar.workdays import load_calendar, local_date, shift_working_days
from db.delivery.outbox import enqueue
from db.models import AppraisalRound, RoundState
from db.people.roles import admin_recipients

log = logging.getLogger(__name__)

EARLY_DAYS = 2
"""The first reminder goes out this many working days before the closing day."""
REMINDERS: dict[str, str] = {
    "early": N_(
        "⏰ Reminder: the appraisal <b>{title}</b> ({period}) closes on {close}. You have rated "
        "{done} of {units} units."
    ),
    "last": N_(
        "⏰ Last day: the appraisal <b>{title}</b> ({period}) closes today at {close}. You have "
        "rated {done} of {units} units."
    ),
}
CONTINUE = N_("Continue rating")


async def close_due_rounds(services: Services, now: datetime) -> int:
    """Close every open round past its closing time, one transaction each; returns how many."""
    settings = services.settings
    async with services.sessions() as session:
        due = (
            await session.exec(
                select(AppraisalRound.id).where(
                    col(AppraisalRound.state) == RoundState.open,
                    col(AppraisalRound.closes_at) <= now,
                )
            )
        ).all()
    closed = 0
    for round_id in due:
        async with services.sessions() as session:
            round_ = await session.get(AppraisalRound, round_id)
            if round_ is None:
                continue
            results = await close_round(session, round_, now)
            if results is None:
                continue  # closed meanwhile (an admin, another process)
            admins = await admin_recipients(session, settings.admin_ids, settings.default_language)
            for key, person, text in await result_messages(session, round_, results, admins):
                await enqueue(session, key=key, chat_id=person.telegram_id, text=text, now=now)
            await session.commit()
        closed += 1
        log.info("appraisal round %s closed: %d units", round_id, len(results))
    return closed


async def invite_late_joiners(services: Services, now: datetime) -> int:
    """Ask the evaluators who joined an open round's groups after it opened (an invite link, a
    move); everyone asked already has the round's invitation key, so nobody is asked twice."""
    tz = services.settings.tz
    added = 0
    async with services.sessions() as session:
        rounds = (
            await session.exec(
                select(AppraisalRound).where(
                    col(AppraisalRound.state) == RoundState.open,
                    col(AppraisalRound.closes_at) > now,
                )
            )
        ).all()
        for round_ in rounds:
            assert round_.id is not None
            units = len(await round_units(session, round_.id))
            close = local_time(round_.closes_at, tz)
            for person in await round_evaluators(session, round_.id):
                account = person.account
                if account.unreachable or account.id is None:
                    continue
                text, keyboard = invitation(round_, units, close, account.language)
                added += await enqueue(
                    session,
                    key=invitation_key(round_.id, account.id),
                    chat_id=account.telegram_id,
                    text=text,
                    keyboard=keyboard,
                    now=now,
                    expires_at=round_.closes_at,
                )
        await session.commit()
    return added


async def remind_evaluators(services: Services, now: datetime) -> int:
    """Queue the reminders due now; returns how many were queued."""
    settings = services.settings
    tz = settings.tz
    today = local_date(now, tz)
    if now.astimezone(tz).time() < settings.reminders.at:
        return 0
    added = 0
    async with services.sessions() as session:
        calendar = await load_calendar(session)
        rounds = (
            await session.exec(
                select(AppraisalRound).where(
                    col(AppraisalRound.state) == RoundState.open,
                    col(AppraisalRound.closes_at) > now,
                )
            )
        ).all()
        for round_ in rounds:
            assert round_.id is not None
            early = shift_working_days(round_.closes_on, -EARLY_DAYS, calendar)
            rung = "last" if today >= round_.closes_on else "early" if today >= early else None
            day = round_.closes_on if rung == "last" else early
            if rung is None or local_date(round_.created_at, tz) >= day:
                continue
            units = len(await round_units(session, round_.id))
            close = local_time(round_.closes_at, tz)
            for person in await unfinished_evaluators(session, round_.id):
                account = person.account
                if account.unreachable or account.id is None:
                    continue
                done = len(await ballots_by_unit(session, round_.id, account.id))
                _ = gettext_for(account.language)
                text = _(REMINDERS[rung]).format(
                    title=esc(round_.title),
                    period=esc(round_.period),
                    close=close,
                    done=done,
                    units=units,
                )
                added += await enqueue(
                    session,
                    key=f"round:{round_.id}:remind:{rung}:{account.id}",
                    chat_id=account.telegram_id,
                    text=text,
                    keyboard=[[(_(CONTINUE), cb.ROUND_OPEN.pack(round_.id))]],
                    now=now,
                    expires_at=round_.closes_at,
                )
        await session.commit()
    return added


async def run_rounds_job(context: BotContext) -> int:
    services = context.services
    now = services.clock()
    closed = await close_due_rounds(services, now)
    reminded = await invite_late_joiners(services, now)
    reminded += await remind_evaluators(services, now)
    if reminded:
        log.info("appraisal invitations and reminders queued: %d", reminded)
    if closed or reminded:
        services.wake_sender()
    return closed + reminded
