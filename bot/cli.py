"""The `zhengfeng` command line: run the bot, migrate, departments, people, exports, backup, purge.

Commands are thin: they parse, call the plain functions in `db/` (or `scheduler/`), and print.
Bad arguments end with a one-line message on stderr and exit code 2 (`_fail`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.runtime.i18n import gettext_for
from bot.runtime.render import role_label
from bot.runtime.settings import ConfigFileMissing, Settings, load_settings
from db import migrate
from db.audit import record
from db.engine import SessionFactory, create_engine, session_factory
from db.models import Campaign, CampaignPhase, Department, Role
from db.people.accounts import get_or_create_account
from db.people.departments import (
    DepartmentCsvError,
    ImportResult,
    department_by_code,
    export_departments,
    import_departments,
    parse_departments_csv,
    sample_csv_path,
)
from db.people.roles import DEPARTMENT_ROLES, GROUP_ROLES, create_invite, ensure_role
from handlers.people.roles import ROLE_WORDS as INVITE_ROLE_WORDS

if TYPE_CHECKING:
    from bot.documents.digest_bundle import DigestBundle
    from db.bulletin.bulletin import Bulletin
    from db.office.retention import PurgeCandidate, Purged

app = typer.Typer(
    help="正风 Zhengfeng: the work-style campaign bot.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
campaign_app = typer.Typer(help="Campaigns (活动) and their phases.", no_args_is_help=True)
app.add_typer(campaign_app, name="campaign")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML settings file (default: ./config.toml if present)."),
]


@contextmanager
def _progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr (stdout stays clean for pipes); yields `advance(n)`."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        task = progress.add_task(description, total=total)

        def advance(n: int) -> None:
            progress.advance(task, n)

        yield advance


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"zhengfeng: {message}", err=True)
    return typer.Exit(code)


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigFileMissing as exc:
        raise _fail(str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise _fail(f"invalid setting {where}: {first['msg']}") from None


@asynccontextmanager
async def _sessions(settings: Settings) -> AsyncIterator[SessionFactory]:
    """A session factory on its own engine, disposed when the command is done: each command
    is one `asyncio.run`, and an engine must not outlive its event loop."""
    engine = create_engine(settings.database.url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@asynccontextmanager
async def _session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """One session of `_sessions`, for a command that needs no more."""
    async with _sessions(settings) as sessions, sessions() as session:
        yield session


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL, and the URL carries the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # APScheduler logs each run of every periodic job: noise at INFO.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


@app.command()
def run(
    config: ConfigOption = None,
    webhook: Annotated[
        bool, typer.Option("--webhook", help="Serve Telegram's webhook ([webhook] settings).")
    ] = False,
) -> None:
    """Apply migrations and run the bot with long polling, or behind a webhook."""
    from bot.app import TokenMissing, build_application, poll
    from bot.web import WebhookMisconfigured, serve

    settings = _settings(config)
    _configure_logging(settings)
    try:
        application = build_application(settings)
    except TokenMissing:
        raise _fail(
            "the bot token is missing: set ZHENGFENG_TELEGRAM__TOKEN (from @BotFather)"
        ) from None
    migrate.upgrade(settings.database.url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not webhook:
        poll(application)
        return
    try:
        serve(application)
    except WebhookMisconfigured as error:
        raise _fail(f"the webhook cannot be served: {error}") from None


@app.command()
def web(
    config: ConfigOption = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (default: [web] host).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port (default: [web] port).", min=1, max=65535)
    ] = None,
) -> None:
    """Serve the public results page (公示页面) alone, read-only, from the database."""
    from bot.web import serve_public

    settings = _settings(config)
    _configure_logging(settings)
    # Read-only: the bot (or `zhengfeng db upgrade`) migrates; migrating here as well could
    # race the bot's own migration of the same database.
    current, head = asyncio.run(migrate.revisions(settings.database.url))
    if current != head:
        _ = gettext_for(settings.default_language)
        raise _fail(
            _(
                "the database is at revision {current}, this version reads revision {head}: "
                "run `zhengfeng db upgrade` (or start the bot, which migrates) first"
            ).format(current=current or _("none"), head=head)
        )
    serve_public(settings, host or settings.web.host, port or settings.web.port)


@db_app.command("upgrade")
def db_upgrade(
    config: ConfigOption = None,
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Apply database migrations (creates the SQLite file when needed)."""
    settings = _settings(config)
    migrate.upgrade(settings.database.url, revision)
    typer.echo(gettext_for(settings.default_language)("Database is up to date."))


async def _import(settings: Settings, data: bytes, if_empty: bool) -> ImportResult | None:
    rows = parse_departments_csv(data)
    async with _session(settings) as session:
        if if_empty and (await session.exec(select(Department).limit(1))).first():
            return None
        result = await import_departments(session, rows)
        await session.commit()
        return result


@db_app.command("copy")
def db_copy(
    source: Annotated[str, typer.Option("--from", help="The database to copy (its URL).")],
    target: Annotated[str, typer.Option("--to", help="An empty database to copy into (its URL).")],
    config: ConfigOption = None,
) -> None:
    """Copy every row into another database, e.g. from SQLite to PostgreSQL (stop the bot first)."""
    from db.copy import CopyRefused, TableCopied, copy_database

    settings = _settings(config)
    _ = gettext_for(settings.default_language)

    def copied(table: TableCopied) -> None:
        typer.echo(_("{table}: {rows} rows").format(table=table.name, rows=table.rows))

    try:
        tables = asyncio.run(copy_database(source, target, copied))
    except CopyRefused as error:
        raise _fail(_("not copied: {reason}").format(reason=error)) from None
    typer.echo(
        _(
            "Copied {rows} rows in {tables} tables; the counts agree. Attachments stay in "
            "{attachments}. Point ZHENGFENG_DATABASE__URL at the new database."
        ).format(
            rows=sum(t.rows for t in tables),
            tables=len(tables),
            attachments=settings.attachments_dir,
        )
    )


@app.command("import-departments")
def import_departments_command(
    file: Annotated[
        Path | None, typer.Argument(help="CSV with columns code,name,kind,class.")
    ] = None,
    sample: Annotated[
        bool, typer.Option("--sample", help="Import the shipped list of seed 001.")
    ] = False,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing when departments already exist.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Load departments from a CSV file; running it again changes nothing (idempotent)."""
    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    if (file is None) == (not sample):
        raise _fail(_("give either a CSV file or --sample"))
    path = sample_csv_path() if sample else file
    assert path is not None
    if not path.is_file():
        raise _fail(_("file not found: {path}").format(path=path))
    migrate.upgrade(settings.database.url)
    try:
        result = asyncio.run(_import(settings, path.read_bytes(), if_empty))
    except DepartmentCsvError as exc:
        typer.echo(_("Nothing was imported; the file has these problems:"), err=True)
        for problem in exc.problems:
            line = _("line {line}").format(line=problem.line) if problem.line else "—"
            typer.echo(f"  {line}: {problem.kind} {problem.detail}", err=True)
        raise typer.Exit(2) from None
    if result is None:
        typer.echo(_("Units already exist; nothing imported."))
        return
    typer.echo(
        _("Units imported: {created} new, {updated} updated, {unchanged} unchanged.").format(
            created=result.created, updated=result.updated, unchanged=result.unchanged
        )
    )


async def _digest(settings: Settings, month: date, now: datetime) -> DigestBundle:
    from bot.documents.digest_bundle import build_digest_bundle

    async with _session(settings) as session:
        return await build_digest_bundle(session, settings, month, now, settings.default_language)


def _month(settings: Settings, text: str, now: datetime) -> date:
    """A `--month` value as its first day; exit 2 for a malformed or future month."""
    from db.calendar.months import parse_month

    _ = gettext_for(settings.default_language)
    try:
        first = parse_month(text)
    except ValueError:
        message = _("bad month “{month}”: use YYYY-MM, e.g. 2026-03").format(month=text)
        raise _fail(message) from None
    if first > now.astimezone(settings.tz).date():
        raise _fail(_("month {month} has not started yet").format(month=text))
    return first


def _safe_file_part(text: str) -> str:
    """A department code as part of a file name: no path separators or odd characters."""
    return re.sub(r"[^0-9A-Za-z_.-]", "_", text) or "_"


@app.command()
def digest(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the files into.")],
    month: Annotated[
        str | None,
        typer.Option("--month", help="YYYY-MM (default: last month in the campaign time zone)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write a month's digest (情况通报): chart, workbook and messages, as the bot sends them."""
    from db.calendar.months import previous_month

    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    now = datetime.now(UTC)
    first = previous_month(now, settings.tz) if month is None else _month(settings, month, now)
    migrate.upgrade(settings.database.url)
    bundle = asyncio.run(_digest(settings, first, now))
    bundle.write_files(out)
    departments = out / f"{bundle.stem}-departments"
    departments.mkdir(parents=True, exist_ok=True)
    (out / f"{bundle.stem}-office.html").write_text(bundle.office_text + "\n", encoding="utf-8")
    for figures in bundle.digest.departments:
        text = bundle.department_texts[figures.department_id]
        name = f"{_safe_file_part(figures.code)}.html"
        (departments / name).write_text(text + "\n", encoding="utf-8")
    typer.echo(
        _("Digest {month} written to {out}: {count} units.").format(
            month=f"{first:%Y-%m}", out=out, count=len(bundle.digest.departments)
        )
    )


async def _bulletin(settings: Settings, quarter_text: str | None, now: datetime) -> Bulletin:
    from bot.documents.bulletin_files import bulletin_of
    from db.bulletin.quarters import last_finished_quarter, parse_quarter

    quarter = last_finished_quarter(now, settings.tz)
    if quarter_text is not None:
        quarter = parse_quarter(quarter_text)
    async with _session(settings) as session:
        return await bulletin_of(session, settings, quarter, now)


@app.command()
def bulletin(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the files into.")],
    quarter: Annotated[
        str | None,
        typer.Option("--quarter", help="YYYY-Qn, e.g. 2026-Q4 (default: the last quarter)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write a quarter's bulletin (季度通报): chart, workbook and the office's message."""
    from bot.documents.bulletin_files import write_files
    from bot.documents.bulletin_text import office_message
    from db.bulletin.quarters import parse_quarter

    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    if quarter is not None:
        try:
            parse_quarter(quarter)
        except ValueError:
            message = _("bad quarter “{quarter}”: use YYYY-Qn, e.g. 2026-Q4").format(
                quarter=quarter
            )
            raise _fail(message) from None
    migrate.upgrade(settings.database.url)
    result = asyncio.run(_bulletin(settings, quarter, datetime.now(UTC)))
    write_files(result, out, _)
    text = out / f"bulletin-{result.quarter}-office.html"
    text.write_text(office_message(result, _) + "\n", encoding="utf-8")
    typer.echo(
        _("Bulletin {quarter} written to {out}: {count} units ranked.").format(
            quarter=result.quarter, out=out, count=len(result.ranked)
        )
    )


async def _export_departments(settings: Settings) -> bytes:
    async with _session(settings) as session:
        return await export_departments(session)


@app.command("export-departments")
def export_departments_command(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="CSV file to write (default: standard output)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write every department as CSV in the format import-departments reads (UTF-8 with BOM)."""
    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    migrate.upgrade(settings.database.url)
    data = asyncio.run(_export_departments(settings))
    if out is None:
        typer.echo(data.decode("utf-8-sig"), nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    count = max(0, data.count(b"\r\n") - 1)
    typer.echo(_("{count} units written to {out}.").format(count=count, out=out), err=True)


async def _make_admin(settings: Settings, telegram_id: int) -> bool:
    async with _session(settings) as session:
        now = datetime.now(UTC)
        account, _new = await get_or_create_account(session, telegram_id, settings.default_language)
        assert account.id is not None
        _grant, created = await ensure_role(session, account.id, Role.admin, None, now)
        if created:
            await record(
                session,
                actor_account_id=None,
                action="role.grant",
                subject=f"account:{telegram_id}",
                now=now,
                after={"role": Role.admin.value},
            )
        await session.commit()
        return created


@app.command("make-admin")
def make_admin(
    telegram_id: Annotated[int, typer.Argument(help="The person's numeric Telegram user id.")],
    config: ConfigOption = None,
) -> None:
    """Make a Telegram account an admin (作风办), without an invite link."""
    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    if telegram_id <= 0:
        raise _fail(
            _("a Telegram user id is a positive number, not {value}").format(value=telegram_id)
        )
    migrate.upgrade(settings.database.url)
    if asyncio.run(_make_admin(settings, telegram_id)):
        typer.echo(_("Account {id} is now an admin.").format(id=telegram_id))
    else:
        typer.echo(_("Account {id} is already an admin; nothing changed.").format(id=telegram_id))


async def _bot_username(settings: Settings) -> str:
    """Ask Telegram who the bot is (getMe), as the chat's /invite does with its own bot."""
    from telegram import Bot

    token = settings.telegram.token.get_secret_value() if settings.telegram.token else ""
    async with Bot(
        token,
        base_url=settings.telegram.api_base_url,
        base_file_url=settings.telegram.file_base_url,
    ) as bot:
        return str(bot.username)


def _username_or_fail(settings: Settings, given: str | None) -> str:
    """The bot's username as given (without @), else asked from Telegram."""
    _ = gettext_for(settings.default_language)
    if given is not None:
        return given.lstrip("@")
    if settings.telegram.token is None:
        raise _fail(_("give --bot-username, or set ZHENGFENG_TELEGRAM__TOKEN to ask Telegram"))
    try:
        return asyncio.run(_bot_username(settings))
    except Exception as exc:  # any Telegram or network failure: say it in one line
        raise _fail(
            _("could not ask Telegram for the bot's name ({error}); give --bot-username").format(
                error=type(exc).__name__
            ),
            code=1,
        ) from None


async def _invite(
    settings: Settings, role: Role, code: str | None, bot_username: str
) -> tuple[str, datetime, str | None] | None:
    """The link, its expiry and the name of its department or evaluator group; None when no
    active department (or, for an evaluator, no active group) has the code."""
    from db.appraisal.groups import group_by_word

    async with _session(settings) as session:
        now = datetime.now(UTC)
        department = None
        group = None
        if code is not None and role in GROUP_ROLES:
            group = await group_by_word(session, code)
            if group is None or not group.active:
                return None
        elif code is not None:
            department = await department_by_code(session, code)
            if department is None or not department.active:
                return None
        invite, token = await create_invite(
            session,
            role=role,
            department_id=department.id if department else None,
            created_by=None,
            now=now,
            ttl=timedelta(days=settings.invites.ttl_days),
            group_id=group.id if group else None,
        )
        after = {"role": role.value, "department": department.code if department else None}
        if group is not None:
            after["group"] = group.code
        await record(
            session,
            actor_account_id=None,
            action="invite.create",
            subject=f"invite:{invite.id}",
            now=now,
            after=after,
        )
        await session.commit()
        link = f"https://t.me/{bot_username}?start={token}"
        name = department.name if department else group.name if group else None
        return link, invite.expires_at, name


@app.command()
def invite(
    role: Annotated[
        str,
        typer.Argument(
            help="liaison (联络员), leader (负责人), admin (管理员) or evaluator (评议代表)."
        ),
    ],
    department: Annotated[
        str | None,
        typer.Argument(
            help="Department code (liaison and leader), e.g. D011; for an evaluator the "
            "group's code or name, e.g. QY."
        ),
    ] = None,
    bot_username: Annotated[
        str | None,
        typer.Option(
            "--bot-username", help="The bot's @username; without it, asked from Telegram (getMe)."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print a single-use invite link (https://t.me/<bot>?start=<token>) that grants a role."""
    from bot.runtime.render import local_time

    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    chosen = INVITE_ROLE_WORDS.get(role.strip().lower())
    if chosen is None:
        raise _fail(
            _("unknown role “{role}”: use liaison, leader, admin or evaluator").format(role=role)
        )
    if chosen in DEPARTMENT_ROLES and department is None:
        raise _fail(_("a {role} invite needs a unit code, e.g. D011").format(role=role))
    if chosen in GROUP_ROLES and department is None:
        raise _fail(_("an evaluator invite needs a group's code, e.g. QY"))
    if chosen not in DEPARTMENT_ROLES | GROUP_ROLES and department is not None:
        raise _fail(_("an admin invite is for the whole campaign: leave out the unit"))
    username = _username_or_fail(settings, bot_username)
    migrate.upgrade(settings.database.url)
    made = asyncio.run(_invite(settings, chosen, department, username))
    if made is None and chosen in GROUP_ROLES:
        raise _fail(_("no active evaluator group has the code {code}").format(code=department))
    if made is None:
        raise _fail(_("no active unit has the code {code}").format(code=department))
    link, expires, name = made
    typer.echo(link)
    where = f" · {name}" if name else ""
    typer.echo(
        _("Single-use link for the role {role}{where}, valid until {expires}.").format(
            role=role_label(chosen, _), where=where, expires=local_time(expires, settings.tz)
        ),
        err=True,
    )


async def _poster_link(
    settings: Settings, code: str, username: str
) -> tuple[Department, str] | str:
    """The unit and its poster's deep link; the reason in words when it gets no poster."""
    from db.ratings.links import poster_token, rating_deep_link
    from db.ratings.service import PosterProblem, poster_unit

    _ = gettext_for(settings.default_language)
    async with _session(settings) as session:
        unit = await poster_unit(session, code)
        if isinstance(unit, PosterProblem):
            return {
                PosterProblem.unknown: _("no unit has the code {code}"),
                PosterProblem.inactive: _("{code} is inactive: it takes no service ratings"),
                PosterProblem.wrong_kind: _(
                    "{code} is no service window or key position: rating posters are for those"
                ),
            }[unit].format(code=code)
        assert unit.id is not None
        token = await poster_token(session, unit.id, datetime.now(UTC))
        await session.commit()
        return unit, rating_deep_link(username, token)


@app.command()
def poster(
    code: Annotated[str, typer.Argument(help="Code of a window or key position, e.g. W002.")],
    out: Annotated[
        Path, typer.Option("--out", help="FILE: writes FILE.png and FILE.pdf (A4 portrait).")
    ],
    bot_username: Annotated[
        str | None,
        typer.Option(
            "--bot-username", help="The bot's @username; without it, asked from Telegram (getMe)."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write a unit's rating poster (评价海报): its name, duties and the QR code of its link."""
    from bot.documents.poster import draw_poster, poster_paths

    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    username = _username_or_fail(settings, bot_username)
    migrate.upgrade(settings.database.url)
    found = asyncio.run(_poster_link(settings, code, username))
    if isinstance(found, str):
        raise _fail(found)
    unit, link = found
    png_path, pdf_path = poster_paths(out)
    if not png_path.parent.is_dir():
        raise _fail(_("folder not found: {path}").format(path=png_path.parent))
    drawn = draw_poster(unit.name, unit.duties, link)
    png_path.write_bytes(drawn.png)
    pdf_path.write_bytes(drawn.pdf)
    typer.echo(link)
    typer.echo(
        _("Rating poster of {unit} written to {png} and {pdf}.").format(
            unit=unit.name, png=png_path, pdf=pdf_path
        ),
        err=True,
    )


async def _export(settings: Settings, first: date, now: datetime) -> bytes:
    from bot.documents.report_workbook import month_reports, render_reports_workbook
    from db.calendar.months import month_span
    from db.office.digest import month_report_count

    _ = gettext_for(settings.default_language)
    span = month_span(first, now, settings.tz)
    async with _session(settings) as session:
        total = await month_report_count(session, span)
        rows = month_reports(session, settings, span, settings.default_language)
        with _progress(_("Exporting reports"), total) as advance:
            return await render_reports_workbook(
                rows, f"{first:%Y-%m}", _, settings.tz, on_row=lambda: advance(1)
            )


@app.command()
def export(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM, in the campaign time zone.")],
    out: Annotated[Path, typer.Option("--out", help="XLSX file to write.")],
    config: ConfigOption = None,
) -> None:
    """Write the reports filed in a month as an XLSX workbook (names only for real-name reports)."""
    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    now = datetime.now(UTC)
    first = _month(settings, month, now)
    if out.suffix.lower() != ".xlsx":
        raise _fail(_("the export is a workbook: name the file *.xlsx, not {out}").format(out=out))
    migrate.upgrade(settings.database.url)
    data = asyncio.run(_export(settings, first, now))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    typer.echo(_("Reports of {month} written to {out}.").format(month=f"{first:%Y-%m}", out=out))


def _campaign_lines(
    campaign: Campaign, phases: list[CampaignPhase], today: date | None = None
) -> list[str]:
    """The campaign and one line per phase; `today`'s phase, if given, marked ◀."""
    lines = [f"{campaign.name} ({campaign.year})"]
    for p in phases:
        mark = "  ◀" if today is not None and p.starts_on <= today <= p.ends_on else ""
        lines.append(f"{p.position}. {p.name}  {p.starts_on:%Y-%m-%d} – {p.ends_on:%Y-%m-%d}{mark}")
    return lines


async def _campaign_init(
    settings: Settings, template: str, year: int, name: str | None
) -> list[str] | None:
    """The phase lines of the (new or existing) campaign; None for an unknown template."""
    from db.office.campaigns import init_campaign, phases_of

    async with _session(settings) as session:
        campaign = await init_campaign(session, template, year, name)
        if campaign is None or campaign.id is None:
            return None
        lines = _campaign_lines(campaign, await phases_of(session, campaign.id))
        await session.commit()
        return lines


@campaign_app.command("init")
def campaign_init(
    template: Annotated[
        str, typer.Option("--template", help="Template name, e.g. zhengfeng-2011 (seed 001).")
    ],
    year: Annotated[
        int | None, typer.Option("--year", help="Campaign year (default: this year).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Campaign name (default: from the template).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Load a campaign's phases from a template; running it again changes nothing."""
    from db.office.campaigns import TEMPLATES

    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    if template not in TEMPLATES:
        raise _fail(
            _("unknown template “{template}”: use {known}").format(
                template=template, known=", ".join(TEMPLATES)
            )
        )
    chosen = year or datetime.now(settings.tz).year
    if not 2000 <= chosen <= 2100:
        raise _fail(_("year {year} is out of range (2000–2100)").format(year=chosen))
    migrate.upgrade(settings.database.url)
    lines = asyncio.run(_campaign_init(settings, template, chosen, name))
    assert lines is not None
    for line in lines:
        typer.echo(line)


async def _campaign_show(settings: Settings) -> list[str]:
    from db.calendar.workdays import local_date
    from db.office.campaign_edit import active_campaign
    from db.office.campaigns import phases_of

    async with _session(settings) as session:
        campaign = await active_campaign(session)
        if campaign is None or campaign.id is None:
            return []
        today = local_date(datetime.now(UTC), settings.tz)
        return _campaign_lines(campaign, await phases_of(session, campaign.id), today)


@campaign_app.command("show")
def campaign_show(config: ConfigOption = None) -> None:
    """Print the active campaign and its phases (◀ marks today's)."""
    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    migrate.upgrade(settings.database.url)
    lines = asyncio.run(_campaign_show(settings))
    if not lines:
        raise _fail(_("no active campaign: load one with campaign init --template zhengfeng-2011"))
    for line in lines:
        typer.echo(line)


async def _export_duties(settings: Settings, first: date, last: date) -> tuple[bytes, int, int]:
    from bot.documents.duty_workbook import duties_workbook

    _ = gettext_for(settings.default_language)
    async with _session(settings) as session:
        return await duties_workbook(
            session, first, last, _, settings.default_language, settings.tz
        )


@app.command("export-duties")
def export_duties(
    first: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (local).")],
    last: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD (local).")],
    out: Annotated[Path, typer.Option("--out", help="XLSX file to write.")],
    config: ConfigOption = None,
) -> None:
    """Write the submissions due and the ledger items of a period as an XLSX workbook."""
    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    try:
        first_day, last_day = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise _fail(_("dates are YYYY-MM-DD, e.g. --from 2026-10-01 --to 2026-12-31")) from None
    if last_day < first_day:
        raise _fail(_("--to {last} is before --from {first}").format(last=last, first=first))
    if out.suffix.lower() != ".xlsx":
        raise _fail(_("the export is a workbook: name the file *.xlsx, not {out}").format(out=out))
    migrate.upgrade(settings.database.url)
    data, filed, items = asyncio.run(_export_duties(settings, first_day, last_day))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    typer.echo(
        _("{filed} submissions and {items} ledger items written to {out}.").format(
            filed=filed, items=items, out=out
        )
    )


@app.command()
def backup(
    out: Annotated[Path, typer.Option("--out", help="File to write the copy to (must not exist).")],
    config: ConfigOption = None,
) -> None:
    """Copy the SQLite database consistently while the bot runs (PostgreSQL: use pg_dump)."""
    from db.backup import NotSqlite, backup_sqlite, sqlite_path

    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    try:
        source = sqlite_path(settings.database.url)
    except NotSqlite:
        raise _fail(
            _(
                "the database is not SQLite: back up PostgreSQL with pg_dump "
                "(e.g. pg_dump -Fc -f zhengfeng.dump DBNAME)"
            )
        ) from None
    if not source.is_file():
        raise _fail(_("database file not found: {path}").format(path=source))
    if out.exists():
        raise _fail(_("{out} already exists; choose a new file name").format(out=out))
    done = 0
    with _progress(_("Backing up"), None) as advance:

        def step(copied: int, total: int) -> None:
            nonlocal done
            advance(copied - done)
            done = copied

        backup_sqlite(source, out, step)
    typer.echo(
        _("Backup written to {out}. Copy {attachments} as well.").format(
            out=out, attachments=settings.attachments_dir
        )
    )


def _purge_line(candidate: PurgeCandidate, settings: Settings) -> str:
    from bot.runtime.render import local_time

    fields = ", ".join(candidate.personal_fields) or "—"
    return (
        f"{candidate.number}  {candidate.state.value:<8}  "
        f"{local_time(candidate.closed_at, settings.tz)}  {fields}  "
        f"attachments={candidate.attachments}"
    )


async def _purge(settings: Settings, dry_run: bool) -> tuple[list[PurgeCandidate], list[Purged]]:
    from scheduler.office.retention import due_for_purge, purge

    _ = gettext_for(settings.default_language)
    async with _sessions(settings) as sessions:
        now = datetime.now(UTC)
        candidates = await due_for_purge(sessions, settings, now)
        if dry_run or not candidates:
            return candidates, []
        with _progress(_("Purging"), len(candidates)) as advance:
            done = await purge(sessions, settings, now, candidates, lambda _c: advance(1))
        return candidates, done


@app.command()
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list the reports that would be purged.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Remove reporters' personal data and attachments from closed reports past retention.days."""
    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    migrate.upgrade(settings.database.url)
    candidates, done = asyncio.run(_purge(settings, dry_run))
    if dry_run:
        for candidate in candidates:
            typer.echo(_purge_line(candidate, settings))
        typer.echo(
            _("{count} closed reports older than {days} days would be purged.").format(
                count=len(candidates), days=settings.retention.days
            )
        )
        return
    typer.echo(
        _("{count} reports purged; {files} attachment files removed.").format(
            count=len(done), files=sum(p.files_removed for p in done)
        )
    )


@app.command()
def chat(
    database: Annotated[
        str | None,
        typer.Option(
            "--database",
            help="Database URL to use (default: a throwaway SQLite file in a temporary folder).",
        ),
    ] = None,
    persona: Annotated[
        str, typer.Option("--as", help="Start as citizen, liaison or admin.")
    ] = "citizen",
    language: Annotated[
        str, typer.Option("--lang", help="zh_CN or en: the personas' Telegram language.")
    ] = "zh_CN",
    config: ConfigOption = None,
) -> None:
    """Try the real bot in the terminal: no Telegram, no token; switch persona with :as."""
    import tempfile

    from bot.console import console_settings, personas, run_chat

    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    if language not in ("zh_CN", "en"):
        raise _fail(_("unknown language {language}: use zh_CN or en").format(language=language))
    if persona not in personas(language):
        raise _fail(_("unknown persona {name}: use citizen, liaison or admin").format(name=persona))
    with tempfile.TemporaryDirectory(prefix="zhengfeng-chat-") as tmp:
        url = database or f"sqlite+aiosqlite:///{tmp}/chat.db"
        data_dir = settings.data_dir if database else Path(tmp) / "data"
        asyncio.run(
            run_chat(
                console_settings(settings, url, data_dir),
                sys.stdin,
                sys.stdout,
                language=language,
                persona=persona,
                echo=not sys.stdin.isatty(),
            )
        )


def main() -> None:
    app(prog_name="zhengfeng")


if __name__ == "__main__":
    main()
