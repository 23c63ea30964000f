"""/poster, /ratelink and /unit_duties: for admins and the unit's own liaisons only."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlmodel import select

from bot.fakeapi import FakeBotApi, FakeUser
from bot.runtime.i18n import gettext_for
from db.engine import create_engine, session_factory
from db.models import RatingLink, RatingLinkKind
from tests.harness import Harness, make_settings, prepare_database, texts

EN = gettext_for("en")
ADMIN = FakeUser(900, "Admin", language_code="en")
LIAISON = FakeUser(901, "小李", language_code="en")
OTHER_LIAISON = FakeUser(903, "小张", language_code="en")
PERSON = FakeUser(902, "Person", language_code="en")
INVITE = re.compile(r"https://t\.me/zhengfeng_test_bot\?start=([A-Za-z0-9_-]{32})")
RATE = re.compile(r"https://t\.me/zhengfeng_test_bot\?start=rate-([A-Za-z0-9_-]{24})")


@pytest.fixture
async def admin_bot(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = make_settings(tmp_path, admin_ids=[ADMIN.id])
    await prepare_database(settings.database.url)
    harness = Harness(api=FakeBotApi(), settings=settings)
    await harness.start()
    yield harness
    if harness.app is not None:
        await harness.stop()
    assert harness.api.violations == [], "the bot made Bot API calls Telegram would refuse"


async def _join(bot: Harness, user: FakeUser, code: str) -> None:
    match = INVITE.search(texts(await bot.say(ADMIN, f"/invite liaison {code}")))
    assert match
    await bot.say(user, f"/start {match.group(1)}")


async def _links(bot: Harness) -> list[RatingLink]:
    engine = create_engine(bot.settings.database.url)
    async with session_factory(engine)() as session:
        rows = list((await session.exec(select(RatingLink))).all())
    await engine.dispose()
    return rows


def _documents(bot: Harness, chat_id: int) -> list[str]:
    return [
        str(c.params.get("document"))
        for c in bot.api.calls
        if c.method == "sendDocument" and c.params.get("chat_id") == chat_id
    ]


async def test_a_liaison_gets_the_poster_of_their_window(admin_bot: Harness) -> None:
    bot = admin_bot
    await _join(bot, LIAISON, "W002")
    await _join(bot, OTHER_LIAISON, "W003")
    answer = texts(await bot.say(LIAISON, "/poster W002"))
    assert "道里区行政服务中心" in answer
    token = RATE.search(answer).group(1)  # type: ignore[union-attr]
    assert len(_documents(bot, LIAISON.id)) == 2
    [png] = (bot.settings.data_dir / "posters").glob("rating-poster-W002-zh_CN-*.png")
    with Image.open(png) as image:
        assert image.format == "PNG"
    [pdf] = (bot.settings.data_dir / "posters").glob("rating-poster-W002-zh_CN-*.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    [link] = await _links(bot)
    assert link.kind is RatingLinkKind.poster and link.public_token == token

    # The poster's link works for a person who scans it.
    opened = texts(await bot.say(PERSON, f"/start rate-{token}"))
    assert "道里区行政服务中心" in opened

    refused = texts(await bot.say(OTHER_LIAISON, "/poster W002"))
    assert refused == EN(
        "Sorry, only the campaign office and the liaisons of {unit} can do this. "
        "Nothing was changed."
    ).format(unit="道里区行政服务中心")
    assert "Sorry" in texts(await bot.say(PERSON, "/poster W002"))
    assert len(await _links(bot)) == 1


async def test_posters_are_for_active_windows_and_key_positions(admin_bot: Harness) -> None:
    bot = admin_bot
    assert "no service window" in texts(await bot.say(ADMIN, "/poster D011"))
    assert "No unit has the code" in texts(await bot.say(ADMIN, "/poster Q9"))
    assert "Usage" in texts(await bot.say(ADMIN, "/poster"))
    assert len(texts(await bot.say(ADMIN, "/poster " + "W" * 5000))) < 200
    assert len(texts(await bot.say(ADMIN, "/ratelink " + "举" * 5000))) < 200
    await bot.say(ADMIN, "/unit_off W002")
    assert texts(await bot.say(ADMIN, "/poster W002")) == EN(
        "{code} is inactive: it takes no service ratings."
    ).format(code="W002")
    assert await _links(bot) == []
    assert _documents(bot, ADMIN.id) == []


async def test_single_use_link_from_a_liaison(admin_bot: Harness) -> None:
    bot = admin_bot
    await _join(bot, LIAISON, "W002")
    answer = texts(await bot.say(LIAISON, "/ratelink W002 ZF2026-000123 窗口咨询"))
    token = RATE.search(answer).group(1)  # type: ignore[union-attr]
    assert "ZF2026-000123 窗口咨询" in answer
    [link] = await _links(bot)
    assert link.kind is RatingLinkKind.single and link.public_token is None
    assert token not in link.token_hash and link.label == "ZF2026-000123 窗口咨询"

    await bot.say(PERSON, f"/start rate-{token}")
    await bot.press(PERSON, EN("Satisfied"))
    used = texts(await bot.say(PERSON, f"/start rate-{token}"))
    assert "already been used" in used

    too_long = texts(await bot.say(LIAISON, "/ratelink W002 " + "长" * 61))
    assert too_long == EN(
        "The label may have at most {max} characters. Nothing was changed."
    ).format(max=60)
    assert "Sorry" in texts(await bot.say(PERSON, "/ratelink W002"))
    assert len(await _links(bot)) == 1


async def test_published_duties_go_on_the_poster(admin_bot: Harness) -> None:
    bot = admin_bot
    await _join(bot, LIAISON, "W002")
    assert "Sorry" in texts(await bot.say(LIAISON, "/unit_duties W002 随便写"))
    saved = texts(await bot.say(ADMIN, "/unit_duties W002\n受理咨询，一次告知\n按时办结"))
    assert "/poster W002" in saved
    shown = texts(await bot.say(ADMIN, "/unit_duties W002"))
    assert "受理咨询，一次告知\n按时办结" in shown
    assert "at most 400" in texts(await bot.say(ADMIN, "/unit_duties W002 " + "长" * 401))
    await bot.say(ADMIN, "/poster W002")
    pdfs = list((bot.settings.data_dir / "posters").glob("rating-poster-W002-*.pdf"))
    assert pdfs and all(p.read_bytes().startswith(b"%PDF") for p in pdfs)
    await bot.say(ADMIN, "/unit_duties W002 off")
    assert "standard commitments" in texts(await bot.say(ADMIN, "/unit_duties W002"))


async def test_a_first_poster_commits_its_token_before_the_drawing(
    admin_bot: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drawing takes seconds: the new link is committed before it, so no write
    transaction (SQLite's one writer) is held open meanwhile."""
    import handlers.ratings.posters as posters

    bot = admin_bot
    seen: list[int] = []
    drawn = posters.drawn

    async def watching(*args: Any) -> Any:
        seen.append(len(await _links(bot)))  # from a connection of its own
        return await drawn(*args)

    monkeypatch.setattr(posters, "drawn", watching)
    await bot.say(ADMIN, "/poster W002")
    assert seen == [1], "the link is visible to others while the poster is drawn"
    assert len(_documents(bot, ADMIN.id)) == 2


async def test_a_poster_drawn_in_a_child_process() -> None:
    """In the bot the poster is drawn in a process of its own: the same poster comes back."""
    from bot.documents.poster import draw_poster
    from bot.documents.worker import drawn

    args = ("道里区行政服务中心", "受理咨询", "https://t.me/x?start=rate-a")
    poster = await drawn(True, draw_poster, *args)
    assert poster.png.startswith(b"\x89PNG") and poster.pdf.startswith(b"%PDF")
    assert poster.qr_box == draw_poster(*args).qr_box
