"""The spec-driven validator and the formatting parsers, without any bot involved."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from bot.fakeapi import (
    ApiSpec,
    EntityParseError,
    UploadedFile,
    find_spec_path,
    parse_formatted,
    parse_html,
)
from bot.fakeapi.spec import SPEC_ENV, VENDORED_SPEC

CHAT = 1001
HOSTILE = "<script>alert('x & y')</script> a < b && c > d \"quoted\" &amp;"


def keyboard(*rows: list[dict[str, object]]) -> dict[str, object]:
    return {"inline_keyboard": list(rows)}


def send(**params: object) -> dict[str, object]:
    return {"chat_id": CHAT, "text": "hello", **params}


def test_a_correct_send_message_passes(spec: ApiSpec) -> None:
    params = send(
        parse_mode="HTML",
        text="<b>正风</b> report",
        disable_notification=True,
        reply_markup=keyboard([{"text": "提交", "callback_data": "submit:1"}]),
        link_preview_options={"is_disabled": True},
        reply_parameters={"message_id": 3, "allow_sending_without_reply": True},
    )
    assert spec.validate_call("sendMessage", params) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"text": "hello"}, "sendMessage: missing required parameter 'chat_id'"),
        (send(colour="red"), "sendMessage: unknown parameter 'colour'"),
        (send(message_thread_id="7"), "sendMessage.message_thread_id: expected Integer"),
        (send(message_thread_id=True), "sendMessage.message_thread_id: expected Integer"),
        (send(disable_notification="yes"), "sendMessage.disable_notification: expected Boolean"),
        (send(text="x" * 4097), "sendMessage.text: must be 1-4096 characters"),
        (send(text=""), "sendMessage.text: must be 1-4096 characters"),
        (send(text=" \n "), "sendMessage.text: must be 1-4096 characters"),
        (send(parse_mode="html5"), "sendMessage.parse_mode: unsupported parse mode 'html5'"),
    ],
)
def test_structural_and_length_violations(
    spec: ApiSpec, params: dict[str, object], expected: str
) -> None:
    violations = spec.validate_call("sendMessage", params)
    assert len(violations) == 1
    assert violations[0].startswith(expected)


def test_callback_data_is_limited_in_utf8_bytes_not_characters(spec: ApiSpec) -> None:
    fits = "好" * 21 + "a"  # 22 characters, 64 bytes
    too_long = "好" * 21 + "ab"  # 23 characters, 65 bytes
    ok = send(reply_markup=keyboard([{"text": "是", "callback_data": fits}]))
    bad = send(reply_markup=keyboard([{"text": "是", "callback_data": too_long}]))
    assert spec.validate_call("sendMessage", ok) == []
    assert spec.validate_call("sendMessage", bad) == [
        "sendMessage.reply_markup.inline_keyboard[0][0].callback_data: "
        "must be 1-64 bytes in UTF-8, got 65"
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<script>alert(1)</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("&nosuch;", "Bare '&' or unsupported HTML entity at byte offset 0"),
        ("Q&A", "Bare '&' or unsupported HTML entity at byte offset 1"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("line<br>break", 'Unsupported start tag "br" at byte offset 4'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
    ],
)
def test_bad_html_is_refused(spec: ApiSpec, text: str, reason: str) -> None:
    [violation] = spec.validate_call("sendMessage", send(text=text, parse_mode="HTML"))
    assert violation.startswith(f"sendMessage.text: can't parse entities: {reason}")
    with pytest.raises(EntityParseError) as raised:
        parse_html(text)
    assert str(raised.value).startswith(reason)
    assert isinstance(raised.value, ValueError)


def test_escaped_html_passes_and_keeps_the_hostile_text_verbatim(spec: ApiSpec) -> None:
    escaped = f"<b>{html.escape(HOSTILE)}</b>"
    assert spec.validate_call("sendMessage", send(text=escaped, parse_mode="HTML")) == []
    assert parse_html(escaped) == HOSTILE


def test_length_is_counted_after_entity_parsing(spec: ApiSpec) -> None:
    markup_heavy = "<b>" + "&amp;" * 4096 + "</b>"  # 20 kB of HTML, 4096 characters of text
    assert spec.validate_call("sendMessage", send(text=markup_heavy, parse_mode="HTML")) == []
    assert spec.validate_call("sendMessage", send(text="&amp;" * 900, parse_mode="HTML")) == []
    assert spec.validate_call("sendMessage", send(text="&amp;" * 900)) == [
        "sendMessage.text: must be 1-4096 characters after entities parsing, got 4500"
    ]
    caption = {"chat_id": CHAT, "photo": "FILEID", "caption": "<i>" + "字" * 1025 + "</i>"}
    assert spec.validate_call("sendPhoto", {**caption, "parse_mode": "HTML"}) == [
        "sendPhoto.caption: must be 0-1024 characters after entities parsing, got 1025"
    ]


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ('<a href="https://example.org/?a=1&amp;b=2">link</a>', "link"),
        ('<pre><code class="language-python">print("hi")</code></pre>', 'print("hi")'),
        ("<blockquote expandable>long</blockquote>", "long"),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st"),
        ("<B>caps</B> <strong>x</strong> <ins>u</ins> <del>d</del>", "caps x u d"),
        ("&#20013;&#x6587; &lt;tag&gt; &quot;q&quot;", '中文 <tag> "q"'),
    ],
)
def test_supported_html(text: str, plain: str) -> None:
    assert parse_html(text) == plain


@pytest.mark.parametrize(
    ("text", "mode", "plain", "entities"),
    [
        ("  😀 <b>粗</b>\n", "HTML", "😀 粗", [("bold", 3, 1)]),
        ("<pre><code class=\"language-sql\">x</code></pre>", "HTML", "x", [("pre", 0, 1)]),
        ("*粗* _斜_ [链](https://example.org)", "MarkdownV2", "粗 斜 链", [
            ("bold", 0, 1), ("italic", 2, 1), ("text_link", 4, 1),
        ]),
        (">引用\n正文", "MarkdownV2", "引用\n正文", [("blockquote", 0, 2)]),
        ("```\n>not a quote 1.5\n```", "MarkdownV2", ">not a quote 1.5", [("pre", 0, 16)]),
        ("*粗* `a_b`", "Markdown", "粗 a_b", [("bold", 0, 1), ("code", 2, 3)]),
        ("plain <b> & *", None, "plain <b> & *", []),
    ],
)  # fmt: skip
def test_entities_use_utf16_offsets_on_the_trimmed_text(
    text: str, mode: str | None, plain: str, entities: list[tuple[str, int, int]]
) -> None:
    parsed, found = parse_formatted(text, mode)
    assert parsed == plain
    assert [(e["type"], e["offset"], e["length"]) for e in found] == entities


def test_markdown_v2_requires_reserved_characters_to_be_escaped(spec: ApiSpec) -> None:
    mode = {"parse_mode": "MarkdownV2"}
    assert spec.validate_call("sendMessage", send(text="*Done\\.*", **mode)) == []
    assert spec.validate_call("sendMessage", send(text="Done.", **mode)) == [
        "sendMessage.text: can't parse entities: Character '.' is reserved and must be "
        "escaped with the preceding '\\'"
    ]
    assert spec.validate_call("sendMessage", send(text="*bold", **mode)) == [
        "sendMessage.text: can't parse entities: Can't find end of Bold entity at byte offset 0"
    ]


def test_nested_keyboards_are_validated_recursively(spec: ApiSpec) -> None:
    good = keyboard(
        [{"text": "是", "callback_data": "y"}, {"text": "否", "callback_data": "n"}],
        [{"text": "说明", "url": "https://example.org"}],
    )
    assert spec.validate_call("sendMessage", send(reply_markup=good)) == []
    bad = keyboard(
        [{"text": "是", "callback_data": "y"}],
        [{"text": "", "callback_data": "n"}, {"text": "no action"}, {"txt": "typo", "url": "u"}],
    )
    assert spec.validate_call("sendMessage", send(reply_markup=bad)) == [
        "sendMessage.reply_markup.inline_keyboard[1][0].text: button text must not be empty",
        "sendMessage.reply_markup.inline_keyboard[1][1]: an inline keyboard button needs "
        "exactly one action such as callback_data or url; got none (text buttons are "
        "unallowed in inline keyboards)",
        "sendMessage.reply_markup.inline_keyboard[1][2]: missing required field 'text' of "
        "InlineKeyboardButton",
        "sendMessage.reply_markup.inline_keyboard[1][2]: unknown field 'txt' of "
        "InlineKeyboardButton",
    ]


def test_reply_markup_union_picks_the_closest_type(spec: ApiSpec) -> None:
    contact = {"keyboard": [[{"text": "分享手机号", "request_contact": True}]]}
    assert spec.validate_call("sendMessage", send(reply_markup=contact)) == []
    strings = {"keyboard": [["plain strings are not KeyboardButtons"]]}
    assert spec.validate_call("sendMessage", send(reply_markup=strings)) == [
        "sendMessage.reply_markup.keyboard[0][0]: expected KeyboardButton object, got str "
        '"plain strings are not KeyboardButtons"'
    ]
    assert spec.validate_call("sendMessage", send(reply_markup=[1])) == [
        "sendMessage.reply_markup: expected InlineKeyboardMarkup or ReplyKeyboardMarkup or "
        "ReplyKeyboardRemove or ForceReply, got list [1]"
    ]


def test_objects_sent_as_json_text_are_decoded_before_validation(spec: ApiSpec) -> None:
    markup = json.dumps(keyboard([{"text": "是", "callback_data": "y" * 65}]))
    assert spec.validate_call("sendMessage", send(reply_markup=markup)) == [
        "sendMessage.reply_markup.inline_keyboard[0][0].callback_data: "
        "must be 1-64 bytes in UTF-8, got 65"
    ]


def test_bot_commands(spec: ApiSpec) -> None:
    def commands(*items: tuple[str, str], **extra: object) -> list[str]:
        listed = [{"command": c, "description": d} for c, d in items]
        return spec.validate_call("setMyCommands", {"commands": listed, **extra})

    assert commands(("start", "主菜单"), ("my_reports", "我的举报"), language_code="zh") == []
    assert commands(("Start", "x"), ("举报", "x")) == [
        f"setMyCommands.commands[{i}].command: {name!r} is not a valid command; use only "
        "lowercase English letters, digits and underscores"
        for i, name in enumerate(["Start", "举报"])
    ]
    assert commands(("a" * 33, "x")) == [
        "setMyCommands.commands[0].command: must be 1-32 characters, got 33"
    ]
    assert commands(("start", "")) == [
        "setMyCommands.commands[0].description: must be 1-256 characters, got 0"
    ]
    assert commands(*[(f"c{i}", "x") for i in range(101)]) == [
        "setMyCommands.commands: must contain 0-100 items, got 101"
    ]
    assert commands(("start", "x"), language_code="zh-hans") == [
        "setMyCommands.language_code: 'zh-hans' is not a two-letter ISO 639-1 language code "
        "or empty"
    ]


def test_abstract_types_are_checked_as_the_subtype_their_type_names(spec: ApiSpec) -> None:
    def scope(value: dict[str, object]) -> list[str]:
        return spec.validate_call("deleteMyCommands", {"scope": value})

    assert scope({"type": "chat", "chat_id": CHAT}) == []
    assert scope({"type": "all_private_chats"}) == []
    assert scope({"type": "chat"}) == [
        "deleteMyCommands.scope: missing required field 'chat_id' of BotCommandScopeChat"
    ]
    assert scope({"type": "default", "chat_id": CHAT}) == [
        "deleteMyCommands.scope: unknown field 'chat_id' of BotCommandScopeDefault"
    ]
    assert scope({"type": "galaxy"})[0].startswith(
        "deleteMyCommands.scope.type: 'galaxy' is not a valid type; use all_chat_administrators"
    )
    media = [{"type": "photo", "media": "attach://a"}, {"type": "video", "media": "FILEID"}]
    assert spec.validate_call("sendMediaGroup", {"chat_id": CHAT, "media": media}) == []
    assert spec.validate_call("sendMediaGroup", {"chat_id": CHAT, "media": media[:1]}) == [
        "sendMediaGroup.media: must contain 2-10 items, got 1"
    ]
    unknown = [*media, {"type": "hologram", "media": "FILEID"}]
    assert spec.validate_call("sendMediaGroup", {"chat_id": CHAT, "media": unknown}) == [
        "sendMediaGroup.media[2].type: 'hologram' is not a valid type; use audio, document, "
        "live_photo, photo, video"
    ]


def test_uploads_and_other_content_rules(spec: ApiSpec) -> None:
    upload = UploadedFile("photo", "a.jpg", b"\xff\xd8", "image/jpeg")
    assert spec.validate_call("sendPhoto", {"chat_id": CHAT, "photo": upload}) == []
    assert spec.validate_call("sendPhoto", {"chat_id": CHAT, "photo": 5}) == [
        "sendPhoto.photo: expected InputFile or String, got int 5"
    ]
    long_alert = {"callback_query_id": "1", "text": "警" * 201, "show_alert": True}
    assert spec.validate_call("answerCallbackQuery", long_alert) == [
        "answerCallbackQuery.text: must be 0-200 characters, got 201"
    ]
    assert spec.validate_call("sendTelepathy", {}) == [
        "sendTelepathy: no such method in Bot API 10.1"
    ]


def test_form_fields_are_coerced_to_the_declared_types(spec: ApiSpec) -> None:
    fields = {
        "chat_id": "-1001",
        "text": "123",
        "disable_notification": "true",
        "reply_markup": json.dumps(keyboard([{"text": "是", "callback_data": "y"}])),
    }
    assert spec.coerce_form("sendMessage", fields) == {
        "chat_id": -1001,
        "text": "123",
        "disable_notification": True,
        "reply_markup": keyboard([{"text": "是", "callback_data": "y"}]),
    }
    assert spec.coerce_form("sendLocation", {"latitude": "39.9"})["latitude"] == 39.9


def test_spec_path_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = find_spec_path()
    monkeypatch.setenv(SPEC_ENV, str(real))
    assert find_spec_path() == real
    monkeypatch.setenv(SPEC_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(FileNotFoundError, match=SPEC_ENV):
        find_spec_path()


def test_the_project_ships_the_spec_it_validates_against() -> None:
    """A clean clone with no shared folder beside it still has the pinned spec."""
    assert VENDORED_SPEC.is_file()
    assert "sendMessage" in json.loads(VENDORED_SPEC.read_text(encoding="utf-8"))["methods"]
