"""An official who leaves one typed step without /cancel and starts another flow: the next text
goes to the step just asked for, never to the older one (which would have returned a
submission with an inspection's unit search as its comments, or filed a ledger note as a
duty's answer). The older flow's draft stays, and its own entry continues it."""

from __future__ import annotations

from bot.runtime import callbacks as cb
from db.models import DutyDraft, ObligationKind, Submission, SubmissionState
from tests.handlers.cases.test_casework import ADMIN, LIAISON, case_bot, join_liaison
from tests.handlers.duties.test_duty_filing import EN, QUARTERLY, QUESTIONS, ZH, add_duty, stored
from tests.handlers.ledger.test_ledger_flow import _item, _load
from tests.harness import Harness, labels, texts

__all__ = ["case_bot"]


async def _filed(bot: Harness, submission_id: int) -> None:
    await bot.press_data(LIAISON, cb.DUTY_OPEN.pack(submission_id))
    await bot.say(LIAISON, "开展窗口作风整治")
    await bot.say(LIAISON, "无")
    await bot.press(LIAISON, ZH("Skip"))
    await bot.press(LIAISON, ZH("Done"))
    await bot.press(LIAISON, ZH("File"))


async def test_an_inspection_started_after_return_takes_the_typed_unit(
    case_bot: Harness,
) -> None:
    bot = case_bot
    await join_liaison(bot)
    await bot.say(ADMIN, "/start")
    ids = await add_duty(bot, ObligationKind.quarterly, "季度工作报告", QUARTERLY, QUESTIONS)
    await _filed(bot, ids["D011"])
    await bot.say(ADMIN, f"/submission {ids['D011']}")
    await bot.press(ADMIN, EN("Return"))

    await bot.say(ADMIN, "/inspect")
    units = await bot.say(ADMIN, "公安")
    assert "市公安局" in labels(bot.api, units[-1])
    [submission] = [s for s in await stored(bot, Submission) if s.id == ids["D011"]]
    assert submission.state is SubmissionState.submitted and submission.rounds == 1


async def test_a_ledger_note_typed_mid_filing_goes_to_the_ledger(case_bot: Harness) -> None:
    bot = case_bot
    await join_liaison(bot)
    ids = await add_duty(bot, ObligationKind.quarterly, "季度工作报告", QUARTERLY, QUESTIONS)
    item_id = await _item(bot, "D011", "窗口脱岗")
    await bot.press_data(LIAISON, cb.DUTY_OPEN.pack(ids["D011"]))
    await bot.say(LIAISON, "第一题的回答")  # the filing now asks the second question

    await bot.say(LIAISON, f"/ledger {item_id}")
    progress = ZH("{item}: progress").format(item=ZH("Item #{id}").format(id=item_id))
    await bot.press(LIAISON, progress)
    asked = await bot.say(LIAISON, "已约谈相关人员")
    assert ZH("No more files") in labels(bot.api, asked[-1])
    [draft] = [d for d in await stored(bot, DutyDraft) if d.subject.startswith("submission:")]
    assert "已约谈相关人员" not in draft.data and "第一题的回答" in draft.data

    await bot.press(LIAISON, ZH("No more files"))
    await bot.press(LIAISON, ZH("Submit"))
    _item_row, kinds, _files, _drafts = await _load(bot, item_id)
    assert kinds == ["created", "progress"]

    # The filing continues from its draft at the question it had reached.
    resumed = await bot.press_data(LIAISON, cb.DUTY_OPEN.pack(ids["D011"]))
    assert QUESTIONS[1] in texts(resumed)
