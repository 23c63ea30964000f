"""Wiring: settings in, a ready python-telegram-bot Application out. Read it top to bottom."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
)
from telegram.request import BaseRequest

from bot.documents.worker import start_server
from bot.persistence import DatabasePersistence
from bot.request import AiohttpRequest
from bot.runtime.command_menus import bot_commands, set_config_admin_menus
from bot.runtime.flood import FloodGate
from bot.runtime.i18n import LANGUAGES
from bot.runtime.send_budget import SendBudget, SendLimiter
from bot.runtime.services import SERVICES_KEY, BotContext, Services, services_of, system_clock
from bot.runtime.settings import Settings
from bot.runtime.shared_state import SharedConversations
from bot.updates import PerChatUpdateProcessor
from bot.web import PublicServer
from db.delivery.outbox import chats_with_pending_acks
from db.engine import create_engine, is_sqlite, session_factory
from db.office.processes import RENEW_EVERY
from handlers import errors, start, update_kinds
from handlers.anomalies import exclude as anomaly_exclude
from handlers.anomalies import report as anomaly_report
from handlers.appraisal import ballot as appraisal_ballot
from handlers.appraisal import groups as appraisal_groups
from handlers.appraisal import rounds as appraisal_rounds
from handlers.cases import casework, extension, followup, inbox, report, reporter
from handlers.cases import search as case_search
from handlers.cases import view as case_view
from handlers.duties import admin as duty_admin
from handlers.duties import export as duty_export
from handlers.duties import review as duty_review
from handlers.duties import status as duty_status
from handlers.duties import unit_duties
from handlers.ledger import inspection
from handlers.ledger import review as ledger_review
from handlers.ledger import update as ledger_update
from handlers.ledger import view as ledger_view
from handlers.office import audit as audit_view
from handlers.office import (
    broadcast,
    calendar,
    campaign,
    digest,
    export,
    units,
    wecom,
)
from handlers.office import bulletin as quarterly_bulletin
from handlers.office import categories as categories_admin
from handlers.office import menu as admin_menu
from handlers.people import roles
from handlers.people import roster as people
from handlers.ratings import posters as rating_posters
from handlers.ratings import rate as service_rating
from scheduler.anomalies.report import run_anomaly_job
from scheduler.appraisal.rounds import run_rounds_job
from scheduler.cases.idle_drafts import sweep_idle_drafts
from scheduler.cases.unrated import close_unrated_reports
from scheduler.deadlines.job import run_deadline_scan
from scheduler.delivery.broadcast_report import INTERVAL_SECONDS as BROADCAST_REPORT_INTERVAL
from scheduler.delivery.broadcast_report import run_broadcast_reports
from scheduler.delivery.sender import OutboxSender
from scheduler.office.bulletin import run_bulletin_job
from scheduler.office.digest import run_digest_job
from scheduler.office.leadership import join, leader_only, leave, run_keep_lease
from scheduler.office.retention import run_retention_job
from scheduler.office.wal_checkpoint import INTERVAL_SECONDS as WAL_CHECKPOINT_SECONDS
from scheduler.office.wal_checkpoint import run_wal_checkpoint

log = logging.getLogger(__name__)

BotApplication = Application[Any, BotContext, Any, Any, Any, Any]


PUBLIC_SERVER_KEY = "public_server"


class TokenMissing(RuntimeError):
    pass


CATCH_UPS = ("monthly_digest_catch_up", "quarterly_bulletin_catch_up")


def _catch_up(application: BotApplication) -> None:
    """Once this process leads (at start-up, or on taking over from a leader that died): the
    daily jobs run again shortly, so a bot that was down on the digest's or the bulletin's
    morning, or a leader that died just before their hour, does not make them wait a day. A
    minute's delay keeps the start-up itself light; each job sends only what is not sent yet."""
    assert application.job_queue is not None
    for name, job, delay in zip(
        CATCH_UPS, (run_digest_job, run_bulletin_job), (60, 90), strict=True
    ):
        # Lost and taken again within the delay: one catch-up, not two.
        for pending in application.job_queue.get_jobs_by_name(name):
            pending.schedule_removal()
        application.job_queue.run_once(leader_only(job), when=delay, name=name)


async def _post_init(application: BotApplication) -> None:
    services = services_of(application)
    # Chinese is the default menu; English users get theirs by language code.
    # Everyone gets the citizen's menu; a role holder's own chat gets theirs when the role is
    # granted (see bot.runtime.command_menus.refresh_command_menu), config admins' here.
    await application.bot.set_my_commands(bot_commands("zh_CN"))
    for language in LANGUAGES:
        await application.bot.set_my_commands(
            bot_commands(language), language_code=language.split("_")[0]
        )
    await set_config_admin_menus(application.bot, services.sessions, services.settings)
    # One process of those sharing the database runs the jobs below (`leader_only`); every
    # process tries for the lease every few seconds, so the jobs move when the leader dies.
    assert application.job_queue is not None
    services.took_lease = partial(_catch_up, application)
    await join(services)
    application.job_queue.run_repeating(
        run_keep_lease, interval=RENEW_EVERY, first=RENEW_EVERY, name="scheduler_lease"
    )
    interval = services.settings.conversation.sweep_interval_seconds
    application.job_queue.run_repeating(
        leader_only(sweep_idle_drafts), interval=interval, first=1, name="sweep_idle_drafts"
    )
    application.job_queue.run_repeating(
        leader_only(close_unrated_reports),
        interval=services.settings.deadlines.close_unrated_interval_seconds,
        first=5,
        name="close_unrated_reports",
    )
    application.job_queue.run_repeating(
        leader_only(run_deadline_scan),
        interval=services.settings.reminders.scan_interval_seconds,
        first=10,
        name="deadline_scan",
    )
    # Appraisal rounds: reminders before the close and the close itself, read from the rounds
    # at every run, so a round whose close passed while the bot was down closes at start-up.
    application.job_queue.run_repeating(
        leader_only(run_rounds_job),
        interval=services.settings.reminders.scan_interval_seconds,
        first=15,
        name="appraisal_rounds",
    )
    send_at = services.settings.digest.send_at.replace(tzinfo=services.settings.tz)
    application.job_queue.run_daily(
        leader_only(run_digest_job), time=send_at, name="monthly_digest"
    )
    # The anomaly reports: a closed round's soon after its close, last month's service ratings
    # on the digest's morning; the first run after start-up catches up what downtime missed.
    application.job_queue.run_repeating(
        leader_only(run_anomaly_job),
        interval=services.settings.anomalies.scan_interval_seconds,
        first=90,
        name="anomaly_reports",
    )
    bulletin_at = services.settings.bulletin.send_at.replace(tzinfo=services.settings.tz)
    application.job_queue.run_daily(
        leader_only(run_bulletin_job), time=bulletin_at, name="quarterly_bulletin"
    )
    # Weekly is enough: a report a few days past the retention period harms nobody, and the
    # purge is idempotent, so a Sunday missed while the bot was down is caught up a week later.
    purge_at = services.settings.retention.run_at.replace(tzinfo=services.settings.tz)
    application.job_queue.run_daily(
        leader_only(run_retention_job), time=purge_at, days=(0,), name="retention"
    )
    if is_sqlite(services.settings.database.url):
        application.job_queue.run_repeating(
            run_wal_checkpoint,
            interval=WAL_CHECKPOINT_SECONDS,
            first=WAL_CHECKPOINT_SECONDS,
            name="wal_checkpoint",
        )
    application.job_queue.run_repeating(
        leader_only(run_broadcast_reports),
        interval=BROADCAST_REPORT_INTERVAL,
        first=BROADCAST_REPORT_INTERVAL,
        name="broadcast_reports",
    )
    async with services.sessions() as session:
        services.pending_ack_chats = await chats_with_pending_acks(session)
    # The outbox sends through the application's own bot, so its messages and the replies share
    # one budget (bot.runtime.send_budget).
    limiter = application.bot.rate_limiter
    assert isinstance(limiter, SendLimiter)
    services.sender = OutboxSender(
        application.bot,
        services.sessions,
        services.settings,
        services.clock,
        limiter=limiter,
        process_id=services.process_id,
    )
    await services.sender.start()
    if services.settings.digest.separate_process:
        start_server()
    public = application.bot_data.get(PUBLIC_SERVER_KEY)
    if isinstance(public, PublicServer):
        await public.start()
    log.info("bot started as @%s", application.bot.username)


async def _post_shutdown(application: BotApplication) -> None:
    services = services_of(application)
    public = application.bot_data.pop(PUBLIC_SERVER_KEY, None)
    if isinstance(public, PublicServer):
        await public.stop()
    if isinstance(services.sender, OutboxSender):
        await services.sender.stop()
    services.sender = None
    await leave(services)
    await services.engine.dispose()


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    clock: Callable[[], datetime] = system_clock,
) -> BotApplication:
    token = settings.telegram.token.get_secret_value() if settings.telegram.token else ""
    if not token:
        raise TokenMissing("ZHENGFENG_TELEGRAM__TOKEN is not set")
    engine = create_engine(settings.database.url, echo=settings.database.echo)
    sessions = session_factory(engine)
    limits = settings.rate_limit
    budget = SendBudget(
        overall_per_second=limits.overall_per_second,
        bulk_reserve=limits.bulk_reserve,
        chat_interval=limits.chat_interval_seconds,
        chat_burst=limits.chat_burst,
        group_per_minute=limits.group_per_minute,
        robot_per_minute=limits.robot_per_minute,
    )
    flood = settings.flood
    gate = FloodGate(flood.updates, flood.seconds, flood.pause_seconds)
    processor = PerChatUpdateProcessor(gate=gate)
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.telegram.api_base_url)
        .base_file_url(settings.telegram.file_base_url)
        .local_mode(settings.telegram.local_mode)
        .context_types(ContextTypes(context=BotContext))
        .persistence(DatabasePersistence(sessions))
        .concurrent_updates(processor)
        # One budget for every call that sends, in place of AIORateLimiter: see its module.
        .rate_limiter(SendLimiter(budget))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    # aiohttp instead of the default httpx: a Bot API call costs a fraction of the CPU (see
    # bot/request.py). Long polling keeps one connection of its own, as python-telegram-bot does.
    builder = builder.request(request or AiohttpRequest())
    builder = builder.get_updates_request(
        get_updates_request or AiohttpRequest(connection_pool_size=1)
    )
    application: BotApplication = builder.build()
    if not is_sqlite(settings.database.url):
        # Several processes may serve this database: see bot.runtime.shared_state.
        processor.shared = SharedConversations(application, engine)
    application.bot_data[SERVICES_KEY] = Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        budget=budget,
        flood=gate,
    )

    # Groups -2 and -1: what is no person's new message in a private chat (an edit, a channel
    # post, a group) is answered or ignored here and reaches no flow.
    application.add_handlers(update_kinds.build_handlers())
    # Group 0: the flows first (the receipt flow before the report flow, so a code typed after
    # /receipt is never taken as an answer of a half-finished report), then single commands,
    # then the answers for whatever nothing else wanted.
    application.add_handlers(followup.build_handlers()[:1])
    # A reporter who pressed "answer the question" or a rating button types for that step, even
    # with a new report half-finished.
    application.add_handler(reporter.build_handler())
    # A post-service rating: its deep link "/start rate-TOKEN" before the invites' "/start
    # TOKEN", and a reason typed after "other" before the report flow, as the reporter's steps.
    application.add_handler(service_rating.build_handler())
    application.add_handler(report.build_handler())
    # Triage after the report flow: an admin in the middle of a report finishes that first.
    application.add_handler(inbox.build_handler())
    application.add_handler(casework.build_handler())
    # The office's broadcast after the case flows: an admin typing a reason for a report
    # finishes that first.
    application.add_handler(broadcast.build_handler())
    # The office's review of duty submissions: a return asks for the comments as text.
    application.add_handlers(duty_review.build_handlers())
    # A liaison's duty filing after the case flows: a reason or an answer typed for a report
    # finishes first, and a filing left half-done never swallows it.
    application.add_handler(unit_duties.build_handler())
    application.add_handlers(unit_duties.build_handlers())
    # The ledger's typed steps (a liaison's note, an admin's reopen reason, an inspection).
    application.add_handler(ledger_update.build_handler())
    application.add_handler(ledger_review.build_handler())
    application.add_handler(inspection.build_handler())
    # An evaluator's ballot: its buttons, and the optional comment typed for the unit just rated.
    application.add_handler(appraisal_ballot.build_handler())
    application.add_handlers(extension.build_handlers())
    application.add_handlers(case_view.build_handlers())
    application.add_handlers(ledger_view.build_handlers())
    application.add_handlers(calendar.build_handlers())
    application.add_handlers(digest.build_handlers())
    application.add_handlers(quarterly_bulletin.build_handlers())
    application.add_handlers(wecom.build_handlers())
    # The admin console: commands only admins may use, each checking that on every update.
    application.add_handlers(admin_menu.build_handlers())
    application.add_handlers(units.build_handlers())
    # Service ratings' posters and single-use links: admins and the unit's own liaisons.
    application.add_handlers(rating_posters.build_handlers())
    application.add_handlers(categories_admin.build_handlers())
    application.add_handlers(people.build_handlers())
    application.add_handlers(appraisal_groups.build_handlers())
    application.add_handlers(appraisal_rounds.build_handlers())
    application.add_handlers(audit_view.build_handlers())
    application.add_handlers(anomaly_report.build_handlers())
    application.add_handlers(anomaly_exclude.build_handlers())
    application.add_handlers(case_search.build_handlers())
    # Duties: `/duties status` and `/export duties …` take only their own first word, so the
    # liaisons' `/duties` and the reports' `/export` answer everything else.
    application.add_handlers(campaign.build_handlers())
    application.add_handlers(duty_admin.build_handlers())
    application.add_handlers(duty_status.build_handlers())
    application.add_handlers(duty_export.build_handlers())
    application.add_handlers(export.build_handlers())
    application.add_handlers(followup.build_handlers()[1:])
    # Roles before start: "/start TOKEN" from an invite link must be claimed by its own handler,
    # since the plain /start handler would otherwise answer it with the welcome.
    application.add_handlers(roles.build_handlers())
    application.add_handlers(start.build_handlers())
    application.add_handler(CommandHandler("cancel", report.cancel))
    application.add_handlers(start.build_last_resort_handlers())
    application.add_error_handler(errors.on_error)
    return application


def poll(application: BotApplication) -> None:
    """Run with long polling until SIGINT or SIGTERM (every update type is asked for)."""
    # What start-up built (modules, the application, its handlers) lives as long as the process.
    # Out of the collector's sight, a full collection walks only what the bot makes while it
    # runs: over start-up's heap it held the event loop 150-250 ms at a time under load
    # (bench/scale.py prints the longest collection).
    if services_of(application).settings.web.public:
        # `[web] public`: the public page from this process too (with webhooks it is always on
        # the webhook's own server, bot.web).
        application.bot_data[PUBLIC_SERVER_KEY] = PublicServer(application)
    gc.freeze()
    application.run_polling(allowed_updates=Update.ALL_TYPES)
