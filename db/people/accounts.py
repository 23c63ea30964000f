"""Accounts: the Telegram users the bot knows, and their language."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import Account

# Built once and run with a parameter: every update looks its account up, and building the
# statement (operators, coercion, cache key) cost more Python time than loading the row.
_BY_TELEGRAM_ID = select(Account).where(Account.telegram_id == sa.bindparam("telegram_id"))


async def account_by_telegram_id(session: AsyncSession, telegram_id: int) -> Account | None:
    result = await session.exec(_BY_TELEGRAM_ID, params={"telegram_id": telegram_id})
    return result.first()


async def get_or_create_account(
    session: AsyncSession, telegram_id: int, language: str
) -> tuple[Account, bool]:
    """Return the account and whether it is new; a new account takes the given language."""
    account = await account_by_telegram_id(session, telegram_id)
    if account is not None:
        if account.unreachable:
            # The person wrote to us, so they unblocked the bot.
            account.unreachable = False
            session.add(account)
        return account, False
    account = Account(telegram_id=telegram_id, language=language)
    session.add(account)
    await session.flush()
    return account, True


async def set_language(session: AsyncSession, account: Account, language: str) -> None:
    account.language = language
    session.add(account)


async def mark_unreachable(session: AsyncSession, telegram_id: int) -> bool:
    """Note that the person blocked the bot; True when this is news (they were reachable)."""
    account = await account_by_telegram_id(session, telegram_id)
    if account is None or account.unreachable:
        return False
    account.unreachable = True
    session.add(account)
    return True
