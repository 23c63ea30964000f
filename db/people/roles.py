"""Who may do what: invite links, role grants and the admin check.

Plain typed functions over a session, so handlers, the CLI and tests share them without Telegram.
Callers commit. Admins come from two places: the config file (the first admins, who must exist
before anyone can be invited) and admin grants made through invites.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Account, Invite, Role, RoleGrant

DEPARTMENT_ROLES: frozenset[Role] = frozenset({Role.liaison, Role.leader})
"""Roles that only make sense for one department; an admin grant is campaign-wide."""

INVITABLE_ROLES: frozenset[Role] = frozenset(
    {Role.admin, Role.liaison, Role.leader, Role.evaluator}
)
GROUP_ROLES: frozenset[Role] = frozenset({Role.evaluator})
"""Roles that belong to an evaluator group (界别) instead of a department."""


class InviteProblem(StrEnum):
    """Why a token did not grant a role; each gets its own message to the person."""

    unknown = "unknown"
    expired = "expired"
    used = "used"
    revoked = "revoked"


def new_invite_token() -> str:
    """192 random bits as 32 URL-safe characters: fits Telegram's 64-character /start payload
    (which allows only A-Z, a-z, 0-9, _ and -) and is far beyond the 128 bits the issue asks."""
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    """SHA-256 hex of a token.

    A fast hash is enough: with 192 random bits there is nothing to brute-force, so a slow
    password hash would only cost time on every /start. The raw token is never stored, so a
    copy of the database cannot be turned into working invite links.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_invite(
    session: AsyncSession,
    *,
    role: Role,
    department_id: int | None,
    created_by: int | None,
    now: datetime,
    ttl: timedelta,
    replaces_grant_id: int | None = None,
    group_id: int | None = None,
) -> tuple[Invite, str]:
    """Store a new invite and return it with the raw token, which exists only in this answer.

    Liaison and leader invites need a department; evaluator invites need a group; admin invites
    have neither, so a grant never looks department- or group-bound when it is not.
    """
    if role not in INVITABLE_ROLES:
        raise ValueError(f"role {role} cannot be invited")
    _check_binding(role, department_id, group_id)
    token = new_invite_token()
    invite = Invite(
        token_hash=hash_token(token),
        role=role,
        department_id=department_id,
        group_id=group_id,
        created_by_account_id=created_by,
        created_at=now,
        expires_at=now + ttl,
        replaces_grant_id=replaces_grant_id,
    )
    session.add(invite)
    await session.flush()
    return invite, token


def _check_binding(role: Role, department_id: int | None, group_id: int | None) -> None:
    if (role in DEPARTMENT_ROLES) != (department_id is not None):
        raise ValueError(
            f"a {role} grant {'needs' if role in DEPARTMENT_ROLES else 'must not name'}"
            " a department"
        )
    if (role in GROUP_ROLES) != (group_id is not None):
        raise ValueError(
            f"a {role} grant {'needs' if role in GROUP_ROLES else 'must not name'} a group"
        )


async def _active_grant(
    session: AsyncSession, account_id: int, role: Role, department_id: int | None
) -> RoleGrant | None:
    statement = select(RoleGrant).where(
        RoleGrant.account_id == account_id,
        RoleGrant.role == role,
        col(RoleGrant.revoked_at).is_(None),
    )
    # One evaluator grant per account whatever its group: a ballot counts for one group.
    if role not in GROUP_ROLES and department_id is None:
        statement = statement.where(col(RoleGrant.department_id).is_(None))
    elif role not in GROUP_ROLES:
        statement = statement.where(RoleGrant.department_id == department_id)
    return (await session.exec(statement)).first()


async def redeem_invite(
    session: AsyncSession, token: str, account_id: int, now: datetime
) -> RoleGrant | InviteProblem:
    """Use an invite once: mark it used and grant its role (or return the existing same grant).

    The used mark is a conditional UPDATE, so two people opening the same link at once cannot
    both win: only the one whose update matched a still-unused row gets the role.
    """
    invite = (
        await session.exec(select(Invite).where(Invite.token_hash == hash_token(token)))
    ).first()
    if invite is None or invite.id is None:
        return InviteProblem.unknown
    if invite.revoked_at is not None:
        return InviteProblem.revoked
    if invite.used_at is not None:
        return InviteProblem.used
    if invite.expires_at <= now:
        return InviteProblem.expired

    claimed = await session.exec(
        update(Invite)
        .where(col(Invite.id) == invite.id, col(Invite.used_at).is_(None))
        .values(used_at=now, used_by_account_id=account_id)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return InviteProblem.used
    await session.refresh(invite)
    grant = await grant_role(
        session, account_id, invite.role, invite.department_id, now, group_id=invite.group_id
    )
    if invite.replaces_grant_id is not None and invite.replaces_grant_id != grant.id:
        # A handover: the new liaison is in place, so the old one's grant ends now.
        await revoke_role(session, invite.replaces_grant_id, now)
    return grant


async def invite_for_token(session: AsyncSession, token: str) -> Invite | None:
    """The invite a token names (whatever its state), e.g. to see whether it hands a role over."""
    return (
        await session.exec(select(Invite).where(Invite.token_hash == hash_token(token)))
    ).first()


async def grant_role(
    session: AsyncSession,
    account_id: int,
    role: Role,
    department_id: int | None,
    now: datetime,
    *,
    group_id: int | None = None,
) -> RoleGrant:
    """Give an account a role, or return the same active grant it already holds (never two)."""
    grant, _new = await ensure_role(
        session, account_id, role, department_id, now, group_id=group_id
    )
    return grant


async def ensure_role(
    session: AsyncSession,
    account_id: int,
    role: Role,
    department_id: int | None,
    now: datetime,
    *,
    group_id: int | None = None,
) -> tuple[RoleGrant, bool]:
    """Grant a role directly (the command line's `make-admin`, the console's personas); returns
    the grant and whether it is new. An existing active grant is returned unchanged, so granting
    twice never makes two rows. An evaluator holds one grant: joining another group moves the
    grant there (its row keeps its id, so ballots cast so far stay the evaluator's)."""
    _check_binding(role, department_id, group_id)
    existing = await _active_grant(session, account_id, role, department_id)
    if existing is not None:
        if role in GROUP_ROLES and existing.group_id != group_id:
            existing.group_id = group_id
            session.add(existing)
            await session.flush()
        return existing, False
    grant = RoleGrant(
        account_id=account_id,
        role=role,
        department_id=department_id,
        group_id=group_id,
        granted_at=now,
    )
    session.add(grant)
    await session.flush()
    return grant, True


async def revoke_invite(session: AsyncSession, invite_id: int, now: datetime) -> bool:
    """Withdraw an unused invite; False when it does not exist or was already used or revoked."""
    invite = await session.get(Invite, invite_id)
    if invite is None or invite.used_at is not None or invite.revoked_at is not None:
        return False
    invite.revoked_at = now
    session.add(invite)
    await session.flush()
    return True


async def holds_unit_role(
    session: AsyncSession, account_id: int, department_id: int, roles: Collection[Role]
) -> bool:
    """Whether the account holds one of `roles` for the unit, not revoked."""
    found = await session.exec(
        select(RoleGrant.id).where(
            RoleGrant.account_id == account_id,
            RoleGrant.department_id == department_id,
            col(RoleGrant.role).in_(list(roles)),
            col(RoleGrant.revoked_at).is_(None),
        )
    )
    return found.first() is not None


async def active_roles(session: AsyncSession, account_id: int) -> list[RoleGrant]:
    """The account's grants that were not revoked, oldest first."""
    statement = (
        select(RoleGrant)
        .where(RoleGrant.account_id == account_id, col(RoleGrant.revoked_at).is_(None))
        .order_by(col(RoleGrant.id))
    )
    return list((await session.exec(statement)).all())


async def revoke_role(session: AsyncSession, grant_id: int, now: datetime) -> bool:
    """End a grant (kept as a row for the audit trail); False when absent or already revoked."""
    grant = await session.get(RoleGrant, grant_id)
    if grant is None or grant.revoked_at is not None:
        return False
    grant.revoked_at = now
    session.add(grant)
    await session.flush()
    return True


async def is_admin(session: AsyncSession, account: Account, admin_ids: list[int]) -> bool:
    """Admins from the config (by Telegram id) or through an active admin grant."""
    if account.telegram_id in admin_ids:
        return True
    if account.id is None:
        return False
    count = await session.scalar(
        select(func.count())
        .select_from(RoleGrant)
        .where(
            RoleGrant.account_id == account.id,
            RoleGrant.role == Role.admin,
            col(RoleGrant.revoked_at).is_(None),
        )
    )
    return bool(count)


async def account_roles(
    session: AsyncSession, account: Account, admin_ids: list[int]
) -> frozenset[Role]:
    """Every role the account holds now, config admin included: what its command menu shows."""
    roles: set[Role] = set()
    if account.id is not None:
        roles.update(grant.role for grant in await active_roles(session, account.id))
    if account.telegram_id in admin_ids:
        roles.add(Role.admin)
    return frozenset(roles)


async def leaves_no_admin(session: AsyncSession, grant: RoleGrant, admin_ids: list[int]) -> bool:
    """Whether ending this grant would leave the campaign without any admin.

    Config admins always count (they cannot be revoked from the chat), so with any configured
    the answer is no; otherwise another account must keep an active admin grant. Without an admin
    nobody could invite, triage or undo the mistake from the chat.
    """
    if grant.role is not Role.admin or grant.revoked_at is not None or admin_ids:
        return False
    others = await session.scalar(
        select(func.count())
        .select_from(RoleGrant)
        .where(
            RoleGrant.role == Role.admin,
            col(RoleGrant.revoked_at).is_(None),
            RoleGrant.account_id != grant.account_id,
        )
    )
    return not others


@dataclass(frozen=True)
class Holder:
    """One active grant with its holder, as `/people` and `/handover` list them."""

    grant: RoleGrant
    account: Account


async def _holders(session: AsyncSession, *conditions: ColumnElement[bool]) -> list[Holder]:
    statement = (
        select(RoleGrant, Account)
        .join(Account, col(Account.id) == col(RoleGrant.account_id))
        .where(col(RoleGrant.revoked_at).is_(None), *conditions)
        .order_by(col(RoleGrant.id))
    )
    return [Holder(grant, account) for grant, account in (await session.exec(statement)).all()]


async def department_holders(session: AsyncSession, department_id: int) -> list[Holder]:
    """The active liaison and leader grants of a department, oldest first."""
    return await _holders(session, col(RoleGrant.department_id) == department_id)


async def all_holders(session: AsyncSession) -> list[Holder]:
    """Every active grant in the campaign with its holder, oldest first."""
    return await _holders(session)


@dataclass(frozen=True)
class Recipient:
    """Where a notice goes and in which language; no name, nothing else about the person."""

    telegram_id: int
    language: str


async def _recipients(
    session: AsyncSession, roles: frozenset[Role], *conditions: ColumnElement[bool]
) -> dict[int, list[Recipient]]:
    statement = (
        select(col(RoleGrant.department_id), Account)
        .join(RoleGrant, col(RoleGrant.account_id) == col(Account.id))
        .where(
            col(RoleGrant.role).in_(roles),
            col(RoleGrant.department_id).is_not(None),
            col(RoleGrant.revoked_at).is_(None),
            col(Account.unreachable).is_(False),
            *conditions,
        )
        .order_by(col(RoleGrant.id))
    )
    found: dict[int, dict[int, Recipient]] = {}
    for department_id, account in (await session.exec(statement)).all():
        assert department_id is not None  # the statement asks for department grants only
        people = found.setdefault(department_id, {})
        people.setdefault(account.telegram_id, Recipient(account.telegram_id, account.language))
    return {department_id: list(people.values()) for department_id, people in found.items()}


async def department_recipients(
    session: AsyncSession, department_id: int, roles: frozenset[Role] = frozenset({Role.liaison})
) -> list[Recipient]:
    """The reachable holders of active `roles` in a department, each once, oldest grant first."""
    found = await _recipients(session, roles, col(RoleGrant.department_id) == department_id)
    return found.get(department_id, [])


async def leaders_to_tell(session: AsyncSession, department_id: int) -> list[Recipient]:
    """The unit's reachable leaders who are not also its liaisons: a leader who is a liaison
    already gets the liaison's fuller notice of the same event, and one event is one message."""
    people = await department_recipients(session, department_id, frozenset({Role.leader}))
    liaisons = {r.telegram_id for r in await department_recipients(session, department_id)}
    return [person for person in people if person.telegram_id not in liaisons]


async def recipients_by_department(
    session: AsyncSession, roles: frozenset[Role]
) -> dict[int, list[Recipient]]:
    """`department_recipients` of every department with any, in one statement: the monthly
    digest reaches hundreds of departments."""
    return await _recipients(session, roles)


async def admin_recipients(
    session: AsyncSession, admin_ids: list[int], default_language: str
) -> list[Recipient]:
    """The admins from the config and from admin grants, reachable ones only.

    A configured admin who never opened the bot has no account yet: Telegram refuses messages to
    them until they do, but they are still tried (in the default language), because the office
    must hear about escalations the moment it can.
    """
    granted = (
        select(Account)
        .join(RoleGrant, col(RoleGrant.account_id) == col(Account.id))
        .where(col(RoleGrant.role) == Role.admin, col(RoleGrant.revoked_at).is_(None))
    )
    configured = select(Account).where(col(Account.telegram_id).in_(admin_ids))
    found: dict[int, Account] = {}
    for statement in (configured, granted):
        for account in (await session.exec(statement)).all():
            found[account.telegram_id] = account
    recipients = [Recipient(a.telegram_id, a.language) for a in found.values() if not a.unreachable]
    recipients += [Recipient(i, default_language) for i in admin_ids if i not in found]
    return recipients
