"""Evaluator groups and evaluator invites without Telegram."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from db.appraisal.groups import (
    GroupProblem,
    add_group,
    find_evaluator,
    group_by_word,
    groups_with_counts,
)
from db.models import Account, Department, DepartmentKind, Role, RoleGrant
from db.people.roles import InviteProblem, create_invite, redeem_invite, revoke_role
from tests.conftest import NOW

WEEK = timedelta(days=7)


async def _invited(session: AsyncSession, group_id: int | None, account_id: int) -> RoleGrant:
    """An evaluator invite to the group, redeemed by the account."""
    _invite, token = await create_invite(
        session,
        role=Role.evaluator,
        department_id=None,
        group_id=group_id,
        created_by=None,
        now=NOW,
        ttl=WEEK,
    )
    grant = await redeem_invite(session, token, account_id, NOW)
    assert not isinstance(grant, InviteProblem)
    return grant


async def test_seeded_groups_are_found_by_code_or_name(session: AsyncSession) -> None:
    qy = await group_by_word(session, "qy")
    assert qy is not None and qy.name == "企业代表"
    assert await group_by_word(session, "外商代表") is not None
    assert await group_by_word(session, "QX") is None
    assert await group_by_word(session, " ") is None
    made = await add_group(session, "my", "媒体代表", NOW)
    assert not isinstance(made, GroupProblem) and made.code == "MY"
    assert await add_group(session, "MY", "别的", NOW) is GroupProblem.taken
    assert await add_group(session, "ZZ", "媒体代表", NOW) is GroupProblem.taken
    assert await add_group(session, "A B", "x", NOW) is GroupProblem.bad_code
    assert await add_group(session, "AB", "", NOW) is GroupProblem.bad_name


async def test_an_evaluator_invite_grants_its_group(session: AsyncSession) -> None:
    qy, ws = await group_by_word(session, "QY"), await group_by_word(session, "WS")
    assert qy is not None and ws is not None
    unit = Department(code="D011", name="市公安局", kind=DepartmentKind.department)
    person = Account(telegram_id=901)
    session.add_all([unit, person])
    await session.flush()
    assert person.id is not None
    with pytest.raises(ValueError):
        await create_invite(
            session, role=Role.evaluator, department_id=None, created_by=None, now=NOW, ttl=WEEK
        )
    with pytest.raises(ValueError):
        await create_invite(
            session,
            role=Role.liaison,
            department_id=unit.id,
            group_id=qy.id,
            created_by=None,
            now=NOW,
            ttl=WEEK,
        )
    grant = await _invited(session, qy.id, person.id)
    assert (grant.role, grant.group_id, grant.department_id) == (Role.evaluator, qy.id, None)
    assert await find_evaluator(session, str(person.telegram_id)) == grant
    assert await find_evaluator(session, f"#{grant.id}") == grant
    assert await find_evaluator(session, "abc") is None

    # A second invite, to another group, moves the one grant.
    again = await _invited(session, ws.id, person.id)
    assert again.id == grant.id and again.group_id == ws.id
    counts = {row.group.code: row.members for row in await groups_with_counts(session)}
    assert counts == {"DB": 0, "QY": 0, "WS": 1}

    assert grant.id is not None
    await revoke_role(session, grant.id, NOW)
    assert await find_evaluator(session, str(person.telegram_id)) is None


async def test_an_evaluator_is_found_by_a_telegram_id_beyond_a_row_ids_range(
    session: AsyncSession,
) -> None:
    """Telegram ids of recent accounts pass 2**31: they are no grant id, and on PostgreSQL
    looking one up as a grant id overflowed the integer column and failed the command."""
    qy = await group_by_word(session, "QY")
    assert qy is not None
    person = Account(telegram_id=6_123_456_789)
    session.add(person)
    await session.flush()
    assert person.id is not None
    grant = await _invited(session, qy.id, person.id)
    assert await find_evaluator(session, "6123456789") == grant
    assert await find_evaluator(session, "999999999999999") is None
