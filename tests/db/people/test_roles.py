"""Invites and role grants without Telegram: tokens, hashing, single use, expiry, revocation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Account, Department, DepartmentKind, Invite, Role
from db.people.roles import (
    InviteProblem,
    Recipient,
    active_roles,
    create_invite,
    department_recipients,
    grant_role,
    hash_token,
    is_admin,
    leaves_no_admin,
    new_invite_token,
    recipients_by_department,
    redeem_invite,
    revoke_invite,
    revoke_role,
)
from tests.conftest import NOW

WEEK = timedelta(days=7)


async def _setup(session: AsyncSession) -> tuple[Department, Account, Account]:
    department = Department(code="D011", name="市公安局", kind=DepartmentKind.department)
    admin = Account(telegram_id=900)
    person = Account(telegram_id=901)
    session.add_all([department, admin, person])
    await session.flush()
    return department, admin, person


def test_tokens_are_long_random_and_fit_a_start_payload() -> None:
    tokens = {new_invite_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        # 32 base64url characters = 192 bits; /start payloads allow 64 of [A-Za-z0-9_-].
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)


async def test_only_the_hash_is_stored(session: AsyncSession) -> None:
    department, admin, _person = await _setup(session)
    invite, token = await create_invite(
        session,
        role=Role.liaison,
        department_id=department.id,
        created_by=admin.id,
        now=NOW,
        ttl=WEEK,
    )
    await session.commit()
    assert invite.token_hash == hash_token(token)
    assert len(invite.token_hash) == 64
    assert token not in invite.token_hash
    assert invite.expires_at == NOW + WEEK
    stored = (await session.exec(select(Invite))).one()
    assert token not in {str(v) for v in stored.model_dump().values()}


async def test_department_rules_are_enforced(session: AsyncSession) -> None:
    department, admin, _person = await _setup(session)
    with pytest.raises(ValueError):
        await create_invite(
            session, role=Role.liaison, department_id=None, created_by=admin.id, now=NOW, ttl=WEEK
        )
    with pytest.raises(ValueError):
        await create_invite(
            session,
            role=Role.admin,
            department_id=department.id,
            created_by=admin.id,
            now=NOW,
            ttl=WEEK,
        )


async def test_an_invite_works_once(session: AsyncSession) -> None:
    department, admin, person = await _setup(session)
    _invite, token = await create_invite(
        session,
        role=Role.liaison,
        department_id=department.id,
        created_by=admin.id,
        now=NOW,
        ttl=WEEK,
    )
    assert person.id is not None and admin.id is not None
    grant = await redeem_invite(session, token, person.id, NOW + timedelta(hours=1))
    assert not isinstance(grant, InviteProblem)
    assert (grant.role, grant.department_id, grant.account_id) == (
        Role.liaison,
        department.id,
        person.id,
    )
    assert await redeem_invite(session, token, admin.id, NOW + timedelta(hours=2)) == (
        InviteProblem.used
    )
    invite = (await session.exec(select(Invite))).one()
    assert invite.used_by_account_id == person.id
    assert invite.used_at == NOW + timedelta(hours=1)
    assert await redeem_invite(session, "not-a-token", person.id, NOW) == InviteProblem.unknown


async def test_expired_and_revoked_invites_grant_nothing(session: AsyncSession) -> None:
    department, admin, person = await _setup(session)
    assert person.id is not None
    _old, old_token = await create_invite(
        session,
        role=Role.leader,
        department_id=department.id,
        created_by=admin.id,
        now=NOW,
        ttl=WEEK,
    )
    assert await redeem_invite(session, old_token, person.id, NOW + WEEK) == InviteProblem.expired
    withdrawn, token = await create_invite(
        session, role=Role.admin, department_id=None, created_by=admin.id, now=NOW, ttl=WEEK
    )
    assert withdrawn.id is not None
    assert await revoke_invite(session, withdrawn.id, NOW)
    assert not await revoke_invite(session, withdrawn.id, NOW), "revoking twice changes nothing"
    assert await redeem_invite(session, token, person.id, NOW) == InviteProblem.revoked
    assert await active_roles(session, person.id) == []
    assert not await is_admin(session, person, admin_ids=[900])


async def test_same_role_twice_gives_one_grant_and_revocation_ends_it(
    session: AsyncSession,
) -> None:
    department, admin, person = await _setup(session)
    assert person.id is not None
    grants = []
    for _ in range(2):
        _invite, token = await create_invite(
            session,
            role=Role.liaison,
            department_id=department.id,
            created_by=admin.id,
            now=NOW,
            ttl=WEEK,
        )
        grants.append(await redeem_invite(session, token, person.id, NOW))
    assert grants[0] == grants[1]
    active = await active_roles(session, person.id)
    assert len(active) == 1
    assert active[0].id is not None
    assert await revoke_role(session, active[0].id, NOW)
    assert await active_roles(session, person.id) == []


async def test_admins_come_from_config_or_an_admin_grant(session: AsyncSession) -> None:
    _department, admin, person = await _setup(session)
    assert person.id is not None
    assert await is_admin(session, admin, admin_ids=[900])
    assert not await is_admin(session, person, admin_ids=[900])
    _invite, token = await create_invite(
        session, role=Role.admin, department_id=None, created_by=admin.id, now=NOW, ttl=WEEK
    )
    grant = await redeem_invite(session, token, person.id, NOW)
    assert not isinstance(grant, InviteProblem)
    assert await is_admin(session, person, admin_ids=[900])
    assert grant.id is not None
    await revoke_role(session, grant.id, NOW)
    assert not await is_admin(session, person, admin_ids=[900])


async def test_the_last_admin_cannot_be_left_without_a_successor(session: AsyncSession) -> None:
    """Config admins count as admins; without any, the last admin grant must stay."""
    _department, admin, person = await _setup(session)
    assert admin.id is not None and person.id is not None
    first = await grant_role(session, admin.id, Role.admin, None, NOW)
    assert await leaves_no_admin(session, first, admin_ids=[])
    assert not await leaves_no_admin(session, first, admin_ids=[12345])
    await grant_role(session, person.id, Role.admin, None, NOW)
    assert not await leaves_no_admin(session, first, admin_ids=[])


async def test_a_handover_invite_ends_the_old_grant_when_redeemed(session: AsyncSession) -> None:
    department, admin, person = await _setup(session)
    assert admin.id is not None and person.id is not None
    old = await grant_role(session, admin.id, Role.liaison, department.id, NOW)
    _invite, token = await create_invite(
        session,
        role=Role.liaison,
        department_id=department.id,
        created_by=admin.id,
        now=NOW,
        ttl=WEEK,
        replaces_grant_id=old.id,
    )
    assert old.revoked_at is None
    new = await redeem_invite(session, token, person.id, NOW + timedelta(hours=1))
    assert not isinstance(new, InviteProblem) and new.account_id == person.id
    assert old.revoked_at == NOW + timedelta(hours=1)


async def test_recipients_by_department_match_department_recipients(session: AsyncSession) -> None:
    """The one-statement lookup of the monthly digest gives each unit what the per-unit one
    gives: reachable liaisons and leaders, each once, oldest grant first; nothing for others."""
    first, _admin, person = await _setup(session)
    second = Department(code="D012", name="市财政局", kind=DepartmentKind.department)
    leader = Account(telegram_id=902, language="en")
    gone = Account(telegram_id=903, unreachable=True)
    session.add_all([second, leader, gone])
    await session.flush()
    assert first.id and second.id and person.id and leader.id and gone.id
    await grant_role(session, leader.id, Role.leader, first.id, NOW)
    await grant_role(session, person.id, Role.liaison, first.id, NOW)
    await grant_role(session, person.id, Role.leader, first.id, NOW)
    await grant_role(session, gone.id, Role.liaison, second.id, NOW)
    await grant_role(session, person.id, Role.liaison, second.id, NOW)
    roles = frozenset({Role.liaison, Role.leader})

    found = await recipients_by_department(session, roles)

    assert found == {
        first.id: await department_recipients(session, first.id, roles),
        second.id: await department_recipients(session, second.id, roles),
    }
    assert found[first.id] == [Recipient(902, "en"), Recipient(901, person.language)]
    assert found[second.id] == [Recipient(901, person.language)]
