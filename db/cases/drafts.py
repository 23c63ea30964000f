"""The report a person is typing, saved at every step.

The draft is the memory of the report flow: the chat conversation only says which question comes
next, the draft holds every answer, so a restart or a crash between two messages loses nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from db.models import IdentityMode, ReportDraft
from db.queries import table_of


@dataclass
class DraftFile:
    kind: str
    mime_type: str
    size: int
    sha256: str
    path: str
    file_name: str | None = None


@dataclass
class Draft:
    category_id: int | None = None
    department_id: int | None = None
    department_text: str | None = None
    department_unsure: bool = False
    description: str | None = None
    time_place: str | None = None
    time_place_skipped: bool = False
    attachments: list[DraftFile] = field(default_factory=list)
    evidence_done: bool = False
    identity_mode: IdentityMode | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    leader_involved: bool = False
    """涉及单位负责人: the report must not be handled by the named unit itself."""
    rating_id: int | None = None
    """The 不满意 service rating this report was started from (its `report_id` is set when the
    report is filed)."""
    rev: int = 0
    """Bumped on every change, so a confirm button from an older summary is recognised."""

    def to_json(self) -> str:
        # Field by field rather than dataclasses.asdict, which deep-copies every value on the way:
        # the draft is encoded at every step of every report, twice when it changed.
        data = {name: getattr(self, name) for name in _DRAFT_FIELDS}
        data["attachments"] = [asdict(item) for item in self.attachments]
        return _ENCODER.encode(data)

    @classmethod
    def from_json(cls, text: str) -> Draft:
        raw = json.loads(text)
        files = [DraftFile(**item) for item in raw.pop("attachments", [])]
        mode = raw.pop("identity_mode", None)
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(
            attachments=files,
            identity_mode=IdentityMode(mode) if mode else None,
            **known,
        )

    def is_complete(self) -> bool:
        if self.category_id is None or not self.description or self.identity_mode is None:
            return False
        if self.department_id is None and not self.department_unsure:
            return False
        if self.identity_mode is IdentityMode.real_name:
            return bool(self.reporter_name and self.reporter_phone)
        return True


_DRAFT_FIELDS = tuple(Draft.__dataclass_fields__)
_ENCODER = json.JSONEncoder(ensure_ascii=False)


# Core statements on the table, not the ORM: a draft is written at every step of every report,
# and the unit of work (identity map, change tracking, flush) cost more than the SQL itself.
_DRAFT = table_of(ReportDraft)
_STORED = "drafts"
"""session.info key: account id → the JSON stored for it in this session (None: no row)."""
# Built once and run with parameters: building a statement costs more than executing it.
_BY_ACCOUNT = _DRAFT.c.account_id == sa.bindparam("account_id")
_SELECT = select(col(ReportDraft.data), col(ReportDraft.updated_at)).where(_BY_ACCOUNT)
_INSERT = sa.insert(_DRAFT)
_UPDATE = sa.update(_DRAFT).where(_DRAFT.c.account_id == sa.bindparam("draft_account_id"))
_DELETE = sa.delete(_DRAFT).where(_BY_ACCOUNT)


def _stored(session: AsyncSession) -> dict[int, str | None]:
    known: dict[int, str | None] = session.info.setdefault(_STORED, {})
    return known


async def _select(session: AsyncSession, account_id: int) -> tuple[str, datetime] | None:
    result = await session.exec(_SELECT, params={"account_id": account_id})
    row = result.first()
    _stored(session)[account_id] = row[0] if row is not None else None
    return (row[0], row[1]) if row is not None else None


async def load_draft(session: AsyncSession, account_id: int) -> tuple[Draft, datetime] | None:
    row = await _select(session, account_id)
    if row is None:
        return None
    data, updated_at = row
    return Draft.from_json(data), updated_at


async def save_draft(session: AsyncSession, account_id: int, draft: Draft, now: datetime) -> None:
    """Store the draft and count the activity; the revision moves only when the content did.

    Written at once, not at the next flush: the caller's commit is what makes it durable.
    """
    known = _stored(session)
    if account_id not in known:
        await _select(session, account_id)
    stored = known[account_id]
    data = draft.to_json()
    if stored is None:
        values = {"account_id": account_id, "data": data, "updated_at": now}
        await session.exec(_INSERT, params=values)
    else:
        if stored != data:
            draft.rev += 1
            data = draft.to_json()
        values = {"draft_account_id": account_id, "data": data, "updated_at": now}
        await session.exec(_UPDATE, params=values)
    known[account_id] = data


async def delete_draft(session: AsyncSession, account_id: int) -> Draft | None:
    known = _stored(session)
    if account_id not in known:
        await _select(session, account_id)
    stored = known[account_id]
    if stored is None:
        return None
    await session.exec(_DELETE, params={"account_id": account_id})
    known[account_id] = None
    return Draft.from_json(stored)


@dataclass(frozen=True)
class ExpiredDraft:
    """Whose draft was discarded, from when, and the files only it may have held."""

    account_id: int
    updated_at: datetime
    paths: list[str]


async def remove_expired_drafts(
    session: AsyncSession, now: datetime, idle: timedelta, limit: int = 500
) -> list[ExpiredDraft]:
    """Delete the drafts untouched for `idle`, in the caller's transaction, and say whose they
    were: the caller tells their authors and drops their files in the same transaction, so a
    person is told exactly when the draft is really gone."""
    cutoff = now - idle
    rows = (
        await session.exec(select(ReportDraft).where(ReportDraft.updated_at < cutoff).limit(limit))
    ).all()
    gone = []
    for row in rows:
        paths = [a.path for a in Draft.from_json(row.data).attachments]
        gone.append(ExpiredDraft(row.account_id, row.updated_at, paths))
        await session.delete(row)
    await session.flush()
    return gone
