"""/wecom CODE URL for admins: a unit's WeCom group robot (企业微信群机器人), or `off`.

The robot's URL carries its key, a secret: it is stored, used by the sender, and shown only
masked, here and everywhere else.
"""

from __future__ import annotations

from telegram.ext import CommandHandler, filters

from bot.runtime.admin import audit, require_admin
from bot.runtime.render import esc
from bot.runtime.services import Handler
from bot.runtime.turn import Turn, turn_handler
from db.delivery.wecom import mask_url, robot_url_ok, set_robot
from db.models import Department
from db.people.departments import department_by_code


async def _audit(turn: Turn, unit: Department, new_url: str | None) -> None:
    """The URL's key is a secret: the trail keeps only the masked form."""
    await audit(
        turn,
        "department.wecom",
        unit.code,
        before={"wecom_url": mask_url(unit.wecom_url) if unit.wecom_url else None},
        after={"wecom_url": mask_url(new_url) if new_url else None},
    )


@turn_handler
async def wecom(turn: Turn) -> None:
    """Set, show or remove a unit's robot."""
    _ = turn._
    if not await require_admin(turn):
        return
    args = turn.context.args or []
    if not args or len(args) > 2:
        turn.say(
            _(
                "Usage: /wecom D011 — show the robot of a unit; /wecom D011 URL — set it; "
                "/wecom D011 off — remove it."
            )
        )
        return
    code = args[0].strip()
    unit = await department_by_code(turn.session, code)
    if unit is None:
        turn.say(
            _("No active unit has the code {code}. Please check the code.").format(code=esc(code))
        )
        return
    if len(args) == 1:
        if unit.wecom_url:
            turn.say(
                _("{unit}: WeCom robot {url}").format(
                    unit=esc(unit.name), url=esc(mask_url(unit.wecom_url))
                )
            )
        else:
            turn.say(_("{unit} has no WeCom robot.").format(unit=esc(unit.name)))
        return
    value = args[1].strip()
    if value.lower() == "off":
        await _audit(turn, unit, None)
        await set_robot(turn.session, unit, None)
        turn.say(_("{unit}: WeCom robot removed.").format(unit=esc(unit.name)))
        return
    if not robot_url_ok(value):
        turn.say(
            _(
                "That is not a robot webhook URL. It looks like "
                "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"
            )
        )
        return
    await _audit(turn, unit, value)
    await set_robot(turn.session, unit, value)
    turn.say(
        _("{unit}: reminders, escalations and digests also go to the WeCom robot {url}.").format(
            unit=esc(unit.name), url=esc(mask_url(value))
        )
    )


def build_handlers() -> list[Handler]:
    return [CommandHandler("wecom", wecom, filters=filters.ChatType.PRIVATE)]
