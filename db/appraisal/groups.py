"""Evaluator groups (界别) and their members: the active `evaluator` grants naming a group.

Plain functions over a session; callers commit. A member is known by their grant and their
Telegram account, nothing more: the groups hold outside people, and the office lists them as it
lists every other role holder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import ROW_ID_MAX, Account, EvaluatorGroup, Role, RoleGrant

CODE = re.compile(r"^[A-Za-z0-9]{1,20}$")
NAME_MAX = 100


class GroupProblem(StrEnum):
    bad_code = "bad_code"
    bad_name = "bad_name"
    taken = "taken"


async def group_by_word(session: AsyncSession, word: str) -> EvaluatorGroup | None:
    """The group an admin names by its code (any case) or its exact name."""
    word = word.strip()
    if not word:
        return None
    by_code = (
        await session.exec(
            select(EvaluatorGroup).where(func.upper(EvaluatorGroup.code) == word.upper())
        )
    ).first()
    if by_code is not None:
        return by_code
    return (await session.exec(select(EvaluatorGroup).where(EvaluatorGroup.name == word))).first()


@dataclass(frozen=True)
class GroupCount:
    group: EvaluatorGroup
    members: int


async def groups_with_counts(session: AsyncSession) -> list[GroupCount]:
    """Every group, active first then by code, with how many active evaluators it has."""
    counts = dict(
        (
            await session.exec(
                select(RoleGrant.group_id, func.count())
                .where(
                    RoleGrant.role == Role.evaluator,
                    col(RoleGrant.revoked_at).is_(None),
                    col(RoleGrant.group_id).is_not(None),
                )
                .group_by(col(RoleGrant.group_id))
            )
        ).all()
    )
    groups = (
        await session.exec(
            select(EvaluatorGroup).order_by(
                col(EvaluatorGroup.active).desc(), col(EvaluatorGroup.code)
            )
        )
    ).all()
    return [GroupCount(group, int(counts.get(group.id, 0))) for group in groups]


async def add_group(
    session: AsyncSession, code: str, name: str, now: datetime
) -> EvaluatorGroup | GroupProblem:
    code, name = code.strip().upper(), name.strip()
    if not CODE.match(code):
        return GroupProblem.bad_code
    if not name or len(name) > NAME_MAX:
        return GroupProblem.bad_name
    if await group_by_word(session, code) is not None or await group_by_word(session, name):
        return GroupProblem.taken
    group = EvaluatorGroup(code=code, name=name, created_at=now)
    session.add(group)
    await session.flush()
    return group


@dataclass(frozen=True)
class Member:
    grant: RoleGrant
    account: Account


async def group_members(session: AsyncSession, group_id: int) -> list[Member]:
    """The group's active evaluators, oldest grant first."""
    rows = (
        await session.exec(
            select(RoleGrant, Account)
            .join(Account, col(Account.id) == col(RoleGrant.account_id))
            .where(
                RoleGrant.role == Role.evaluator,
                RoleGrant.group_id == group_id,
                col(RoleGrant.revoked_at).is_(None),
            )
            .order_by(col(RoleGrant.id))
        )
    ).all()
    return [Member(grant, account) for grant, account in rows]


async def evaluator_grant(session: AsyncSession, account_id: int) -> RoleGrant | None:
    """The account's active evaluator grant (one at most), or None."""
    return (
        await session.exec(
            select(RoleGrant).where(
                RoleGrant.account_id == account_id,
                RoleGrant.role == Role.evaluator,
                col(RoleGrant.revoked_at).is_(None),
            )
        )
    ).first()


async def find_evaluator(session: AsyncSession, word: str) -> RoleGrant | None:
    """An active evaluator grant named by the admin: `#12`/`12` as a grant id, or a Telegram id.

    A grant id is tried first; Telegram ids are far larger than any grant id the office sees.
    """
    digits = word.strip().lstrip("#")
    if not digits.isascii() or not digits.isdigit() or len(digits) > 15:
        return None
    number = int(digits)
    # A number past a row id's range is a Telegram id (on PostgreSQL it would overflow the
    # integer column of a grant id).
    grant = await session.get(RoleGrant, number) if number <= ROW_ID_MAX else None
    if grant is not None and grant.role is Role.evaluator and grant.revoked_at is None:
        return grant
    account = (await session.exec(select(Account).where(Account.telegram_id == number))).first()
    if account is None or account.id is None:
        return None
    return await evaluator_grant(session, account.id)


async def move_evaluator(session: AsyncSession, grant: RoleGrant, group_id: int) -> int | None:
    """Put the evaluator in another group; returns the group they left (None: already there)."""
    before = grant.group_id
    if before == group_id:
        return None
    grant.group_id = group_id
    session.add(grant)
    await session.flush()
    return before
