"""The `zhengfeng` command line: run the bot, migrate, import departments, write a digest."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from sqlmodel import select
from telegram import Update

from bot.i18n import gettext_for
from bot.settings import ConfigFileMissing, Settings, load_settings
from db import migrate
from db.departments import (
    DepartmentCsvError,
    ImportResult,
    import_departments,
    parse_departments_csv,
    sample_csv_path,
)
from db.engine import create_engine, session_factory
from db.models import Department

if TYPE_CHECKING:
    from scheduler.digest_bundle import DigestBundle

app = typer.Typer(
    help="正风 Zhengfeng: the work-style campaign bot.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML settings file (default: ./config.toml if present)."),
]


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
def run(config: ConfigOption = None) -> None:
    """Apply migrations and run the bot with long polling."""
    from bot.app import TokenMissing, build_application

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
    application.run_polling(allowed_updates=Update.ALL_TYPES)


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
    engine = create_engine(settings.database.url)
    try:
        async with session_factory(engine)() as session:
            if if_empty and (await session.exec(select(Department).limit(1))).first():
                return None
            result = await import_departments(session, rows)
            await session.commit()
            return result
    finally:
        await engine.dispose()


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
        typer.echo(_("Departments already exist; nothing imported."))
        return
    typer.echo(
        _("Departments imported: {created} new, {updated} updated, {unchanged} unchanged.").format(
            created=result.created, updated=result.updated, unchanged=result.unchanged
        )
    )


async def _digest(settings: Settings, month: date, now: datetime) -> DigestBundle:
    from db.workdays import load_calendar
    from scheduler.digest_bundle import build_digest_bundle

    engine = create_engine(settings.database.url)
    try:
        async with session_factory(engine)() as session:
            return await build_digest_bundle(
                session,
                month,
                now,
                calendar=await load_calendar(session),
                tz=settings.tz,
                limits=settings.deadlines.base_limits(),
                weights=settings.digest.weights.score_weights(),
                overdue_limit=settings.digest.overdue_numbers_max,
                language=settings.default_language,
            )
    finally:
        await engine.dispose()


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
    from db.digest import parse_month, previous_month

    settings = _settings(config)
    _ = gettext_for(settings.default_language)
    now = datetime.now(UTC)
    if month is None:
        first = previous_month(now, settings.tz)
    else:
        try:
            first = parse_month(month)
        except ValueError:
            message = _("bad month “{month}”: use YYYY-MM, e.g. 2026-03").format(month=month)
            raise _fail(message) from None
        if first > now.astimezone(settings.tz).date():
            raise _fail(_("month {month} has not started yet").format(month=month))
    migrate.upgrade(settings.database.url)
    bundle = asyncio.run(_digest(settings, first, now))
    stem = f"digest-{first:%Y-%m}"
    departments = out / f"{stem}-departments"
    departments.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.png").write_bytes(bundle.chart_png)
    (out / f"{stem}.xlsx").write_bytes(bundle.workbook_xlsx)
    (out / f"{stem}-office.html").write_text(bundle.office_text + "\n", encoding="utf-8")
    for figures in bundle.digest.departments:
        text = bundle.department_texts[figures.department_id]
        name = f"{_safe_file_part(figures.code)}.html"
        (departments / name).write_text(text + "\n", encoding="utf-8")
    typer.echo(
        _("Digest {month} written to {out}: {count} departments.").format(
            month=f"{first:%Y-%m}", out=out, count=len(bundle.digest.departments)
        )
    )


def main() -> None:
    app(prog_name="zhengfeng")


if __name__ == "__main__":
    sys.exit(main())
