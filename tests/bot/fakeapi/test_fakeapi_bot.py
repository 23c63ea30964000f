"""The fake driven by a real python-telegram-bot ``Bot``/``Application`` through FakeRequest."""

from __future__ import annotations

import asyncio
import datetime as dtm

import pytest
import telegram
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    MenuButtonCommands,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.fakeapi import ApiSpec, FakeBotApi, FakeRequest, FakeUser

MENU = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("提交", callback_data="submit"),
            InlineKeyboardButton("取消", callback_data="cancel"),
        ],
        [InlineKeyboardButton("说明", url="https://example.org/help")],
    ]
)


def assert_answers_match_spec(api: FakeBotApi, spec: ApiSpec) -> None:
    """Every successful answer must have the shape the spec promises for its method."""
    for call in api.calls:
        if call.status == 200:
            result = call.response["result"]
            assert spec.validate_value(spec.returns(call.method), result, call.method) == []


async def test_round_trip(
    api: FakeBotApi, spec: ApiSpec, bot: telegram.Bot, user: FakeUser
) -> None:
    assert bot.username == api.bot_username  # initialize() called getMe
    Update.de_json(api.message_update(user, "/start"), bot)  # the user opens the chat

    sent = await bot.send_message(
        user.id, "<b>举报</b> &amp; 反馈", parse_mode="HTML", reply_markup=MENU
    )
    assert sent.text == "举报 & 反馈"
    assert sent.entities[0].type == "bold"
    assert api.buttons(api.last_message(user.id)) == [
        [("提交", "submit"), ("取消", "cancel")],
        [("说明", "https://example.org/help")],
    ]

    edited = await bot.edit_message_text("已提交", user.id, sent.message_id, reply_markup=MENU)
    assert isinstance(edited, telegram.Message)
    assert api.last_message(user.id)["text"] == "已提交"

    press = Update.de_json(api.callback_update(user, api.last_message(user.id), "submit"), bot)
    assert press.callback_query is not None and press.callback_query.data == "submit"
    assert await press.callback_query.answer("收到", show_alert=True)
    assert api.callback_answers[press.callback_query.id] == {"text": "收到", "show_alert": True}
    with pytest.raises(BadRequest, match="Query is too old"):
        await press.callback_query.answer()  # a query can be answered once

    await bot.set_my_commands([BotCommand("report", "举报")], language_code="zh")
    await bot.set_my_commands([BotCommand("report", "File a report")])
    await bot.set_my_commands([BotCommand("cancel", "取消")], scope=BotCommandScopeChat(user.id))
    assert api.commands(language_code="zh") == [{"command": "report", "description": "举报"}]
    assert api.commands() == [{"command": "report", "description": "File a report"}]
    assert api.commands("chat", chat_id=user.id) == [{"command": "cancel", "description": "取消"}]
    assert await bot.get_my_commands(language_code="zh") == (BotCommand("report", "举报"),)
    assert await bot.delete_my_commands(language_code="zh")
    assert api.commands(language_code="zh") == []

    photo = await bot.send_photo(user.id, b"\x89PNG fake", caption="<i>证据</i>", parse_mode="HTML")
    assert photo.caption == "证据"
    assert await (await bot.get_file(photo.photo[-1].file_id)).download_as_bytearray() == (
        b"\x89PNG fake"
    )

    incoming = Update.de_json(api.photo_update(user, b"evidence bytes", caption="看"), bot)
    assert incoming.message is not None and incoming.message.caption == "看"
    file = await incoming.message.photo[-1].get_file()
    assert file.file_size == len(b"evidence bytes")
    assert await file.download_as_bytearray() == bytearray(b"evidence bytes")

    api.block(user.id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(user.id, "还在吗？")
    api.unblock(user.id)

    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(user.id, "x")
    assert flood.value.retry_after == dtm.timedelta(seconds=7)
    assert (await bot.send_message(user.id, "again")).text == "again"

    assert api.violations == []
    assert_answers_match_spec(api, spec)


async def test_other_modelled_methods(
    api: FakeBotApi, spec: ApiSpec, bot: telegram.Bot, user: FakeUser
) -> None:
    api.add_user(user)
    first = await bot.send_message(user.id, "one")
    album = await bot.send_media_group(
        user.id, [InputMediaPhoto(b"p1"), InputMediaPhoto(b"p2", caption="二")]
    )
    assert [m.caption for m in album] == [None, "二"]
    assert album[0].media_group_id == album[1].media_group_id
    document = await bot.send_document(user.id, b"%PDF", filename="回执.pdf", caption="回执")
    assert document.document is not None and document.document.file_name == "回执.pdf"
    copied = await bot.copy_message(user.id, user.id, first.message_id)
    assert api.sent_messages(user.id)[-1]["message_id"] == copied.message_id
    forwarded = await bot.forward_message(user.id, user.id, first.message_id)
    assert forwarded.forward_origin is not None
    assert await bot.edit_message_caption(user.id, document.message_id, caption="新回执")
    assert await bot.edit_message_reply_markup(user.id, first.message_id, reply_markup=MENU)
    assert await bot.send_chat_action(user.id, "typing")
    assert await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
    assert api.menu_button() == {"type": "commands"}
    chat = await bot.get_chat(user.id)
    assert (chat.first_name, chat.username) == (user.first_name, user.username)
    assert await bot.delete_message(user.id, first.message_id)
    assert first.message_id not in [m["message_id"] for m in api.sent_messages(user.id)]
    assert await bot.set_webhook("https://bot.example.org/hook", max_connections=5)
    assert (await bot.get_webhook_info()).url == "https://bot.example.org/hook"
    assert await bot.delete_webhook()
    assert await bot.log_out()
    assert await bot.close()

    keyboard = ReplyKeyboardMarkup([[KeyboardButton("分享手机号", request_contact=True)]])
    await bot.send_message(user.id, "请分享", reply_markup=keyboard)
    assert api.buttons(api.reply_keyboard(user.id) or {}) == [[("分享手机号", None)]]
    await bot.send_message(user.id, "谢谢", reply_markup=ReplyKeyboardRemove())
    assert api.reply_keyboard(user.id) is None

    for update in (
        api.sticker_update(user),
        api.voice_update(user),
        api.video_update(user),
        api.location_update(user),
        api.contact_update(user, "+8613800138000"),
        api.document_update(user, b"PK\x03\x04", "材料.zip", "application/zip"),
    ):
        message = Update.de_json(update, bot).message
        assert message is not None and message.from_user is not None
        assert message.from_user.id == user.id
    assert message.document is not None and message.document.file_name == "材料.zip"
    assert api.violations == []
    assert_answers_match_spec(api, spec)


async def test_telegram_errors_for_impossible_requests(
    api: FakeBotApi, bot: telegram.Bot, user: FakeUser
) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(user.id, "nobody pressed Start")
    api.add_user(user)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", user.id, 999)
    sent = await bot.send_message(user.id, "同样", reply_markup=MENU)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("同样", user.id, sent.message_id, reply_markup=MENU)
    await bot.edit_message_text(
        "同样", user.id, sent.message_id
    )  # dropping the keyboard is a change
    assert "reply_markup" not in api.last_message(user.id)
    own = Update.de_json(api.message_update(user, "my message"), bot).message
    assert own is not None
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("hijack", user.id, own.message_id)
    with pytest.raises(BadRequest, match="File is too big"):
        big = api.document_update(user, b"tiny", "big.mp4", "video/mp4", file_size=25 * 2**20)
        await bot.get_file(big["message"]["document"]["file_id"])
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_photo(user.id, "no-such-file-id")
    with pytest.raises(BadRequest, match="https url must be provided"):
        await bot.set_webhook("http://insecure.example.org/hook")
    assert api.violations == []  # all of these were well-formed, merely impossible

    with pytest.raises(BadRequest, match=r"^Can't parse entities: can't find end tag"):
        await bot.send_message(user.id, "<b>未闭合", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(user.id, "长" * 4097)
    with pytest.raises(BadRequest, match=r"^Message caption is too long$"):
        await bot.send_photo(user.id, b"\xff\xd8", caption="长" * 1025)
    with pytest.raises(BadRequest, match="must be 1-64 bytes"):
        long_data = InlineKeyboardButton("是", callback_data="确认" * 11)
        await bot.send_message(user.id, "x", reply_markup=InlineKeyboardMarkup([[long_data]]))
    assert len(api.violations) == 4
    assert api.violations[0].startswith("sendMessage.text: can't parse entities")
    assert api.violations[1] == (
        "sendMessage.text: must be 1-4096 characters after entities parsing, got 4097"
    )


async def test_long_polling(api: FakeBotApi, bot: telegram.Bot, user: FakeUser) -> None:
    waiting = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    api.enqueue_update(api.message_update(user, "/start@zhengfeng_test_bot go"))
    [update] = await asyncio.wait_for(waiting, 1)
    assert update.message is not None and update.message.text == "/start@zhengfeng_test_bot go"
    assert update.message.entities[0].length == len("/start@zhengfeng_test_bot")

    api.enqueue_update(api.message_update(user, "second"))
    api.enqueue_update(api.message_update(user, "third"))
    unconfirmed = await bot.get_updates(offset=update.update_id)
    assert [u.update_id for u in unconfirmed] == [update.update_id + i for i in range(3)]
    assert len(await bot.get_updates(offset=update.update_id + 1, limit=1)) == 1
    assert len(await bot.get_updates(offset=update.update_id + 3)) == 0

    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(bot.get_updates(timeout=1))
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first
    assert await second == ()  # the 1 s long poll times out empty


async def test_rate_limit_counts_sends_and_edits(
    api: FakeBotApi, bot: telegram.Bot, user: FakeUser
) -> None:
    api.add_user(user)
    api.rate_limit(3)
    sent = [await bot.send_message(user.id, str(i)) for i in range(2)]
    await bot.send_chat_action(user.id, "typing")  # chat actions are not counted
    await bot.edit_message_text("edited", user.id, sent[0].message_id)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(user.id, "too fast")
    assert flood.value.retry_after == dtm.timedelta(seconds=1)
    api.rate_limit(None)
    await bot.send_message(user.id, "fine again")
    assert (api.stats.rate_limited, api.stats.delivered) == (1, 3)
    assert api.stats.requests == len(api.calls)


async def test_chat_limits_give_a_burst_then_one_a_second(
    api: FakeBotApi, bot: telegram.Bot, user: FakeUser
) -> None:
    other = FakeUser(id=user.id + 1, first_name="Other")
    api.add_user(user)
    api.add_user(other)
    api.chat_limits(per_second=1.0, burst=3)
    for i in range(3):
        await bot.send_message(user.id, f"burst {i}")
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(user.id, "one too many")
    assert flood.value.retry_after == dtm.timedelta(seconds=1)
    await bot.send_message(other.id, "another chat is not held up")
    assert api.stats.rate_limited_chats == {user.id: 1}
    await asyncio.sleep(1.05)
    await bot.send_message(user.id, "a second later, one more")
    api.chat_limits(None)
    for i in range(5):
        await bot.send_message(user.id, f"unlimited {i}")


async def test_driving_an_application(api: FakeBotApi, user: FakeUser) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_html("<b>欢迎</b>", reply_markup=MENU)

    app = (
        Application.builder()
        .token(api.token)
        .request(FakeRequest(api))
        .get_updates_request(FakeRequest(api))
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.process_update(Update.de_json(api.message_update(user, "/start"), app.bot))
    assert api.last_message(user.id)["text"] == "欢迎"
    assert api.buttons(api.last_message(user.id))[0] == [("提交", "submit"), ("取消", "cancel")]
    assert api.violations == []


async def test_polling_application(api: FakeBotApi, user: FakeUser) -> None:
    """The Updater's long-poll loop receives enqueued updates and confirms them on stop."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("收到")

    app = (
        Application.builder()
        .token(api.token)
        .request(FakeRequest(api))
        .get_updates_request(FakeRequest(api))
        .build()
    )
    app.add_handler(CommandHandler("start", echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        api.enqueue_update(api.message_update(user, "/start"))
        for _ in range(200):
            if api.sent_messages(user.id):
                break
            await asyncio.sleep(0.01)
        await app.updater.stop()
        await app.stop()
    assert api.last_message(user.id)["text"] == "收到"
    assert api.calls[-1].method == "getUpdates"  # the final call confirms what was handled
    assert (await api.handle("getUpdates", {}))[1]["result"] == []
    assert api.violations == []
