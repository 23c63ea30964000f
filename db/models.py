"""Every table of the product in one module, so migrations and readers see the whole schema.

Times are stored as timezone-aware UTC; the campaign time zone only matters for display and for
working-day arithmetic, which converts at the edge.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Column, DateTime, Index, Text, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


ROW_ID_MAX = 2**31 - 1
"""The largest row id: ids are PostgreSQL `integer`s. A larger number typed or pressed names no
row, and looking it up would fail with an overflow instead of finding nothing."""


class UTCDateTime(TypeDecorator[datetime]):
    """SQLite forgets time zones; give every datetime back as aware UTC on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


def _enum(enum_cls: type[StrEnum], *, index: bool = False, nullable: bool = False) -> Column[str]:
    # Stored as plain VARCHAR without a CHECK constraint: adding a state later needs no
    # migration, and PostgreSQL's native ENUM types would need ALTER TYPE for every new value.
    return Column(
        SAEnum(
            enum_cls,
            native_enum=False,
            create_constraint=False,
            length=20,
            values_callable=lambda members: [m.value for m in members],
        ),
        nullable=nullable,
        index=index,
    )


class DepartmentKind(StrEnum):
    department = "department"
    window = "window"
    key_position = "key_position"
    project = "project"
    district = "district"


class Department(SQLModel, table=True):
    """Anything a report can be about: a department, a service window, a key position, a project."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=200, index=True)
    kind: DepartmentKind = Field(sa_column=_enum(DepartmentKind))
    dept_class: str | None = Field(default=None, max_length=20)
    active: bool = Field(default=True)
    wecom_url: str | None = Field(default=None, max_length=300)
    """企业微信群机器人 webhook; its key is a secret: never logged, only ever shown masked."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    duties: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    """The published duties and service commitments of a window or key position (公开岗位职责,
    seed 004), printed on its rating poster; None prints the standard commitments."""


class CategoryKind(StrEnum):
    """Decides the default answer deadline: a consultation is answered faster than a complaint."""

    complaint = "complaint"
    consultation = "consultation"


class Category(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name_zh: str = Field(max_length=100)
    name_en: str = Field(max_length=100)
    kind: CategoryKind = Field(default=CategoryKind.complaint, sa_column=_enum(CategoryKind))
    sort_order: int = Field(default=0)
    active: bool = Field(default=True)
    """A retired category is offered to nobody; reports filed under it keep it."""
    sign_days: int | None = Field(default=None)
    """Working days to sign for a report of this category; None: `[deadlines] sign_days`."""
    reply_days: int | None = Field(default=None)
    """Working days to answer; None: the configured days for the category's kind."""


class Account(SQLModel, table=True):
    """A Telegram user who has talked to the bot; holds only what delivery and language need."""

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger(), unique=True, nullable=False))
    language: str = Field(default="zh_CN", max_length=10)
    unreachable: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class Role(StrEnum):
    admin = "admin"
    liaison = "liaison"
    leader = "leader"
    evaluator = "evaluator"


class RoleGrant(SQLModel, table=True):
    __tablename__ = "role_grant"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    role: Role = Field(sa_column=_enum(Role))
    department_id: int | None = Field(default=None, foreign_key="department.id")
    group_id: int | None = Field(default=None, foreign_key="evaluator_group.id")
    """An evaluator's group (评议代表的界别); None for every other role."""
    granted_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class IdentityMode(StrEnum):
    real_name = "real_name"
    anonymous = "anonymous"
    """The account is kept for notifications but never shown to any department."""
    fully_anonymous = "fully_anonymous"
    """No account link at all: the receipt is the only way back."""


class ReportState(StrEnum):
    received = "received"
    assigned = "assigned"
    signed = "signed"
    info_requested = "info_requested"
    replied = "replied"
    rated = "rated"
    closed = "closed"
    rejected = "rejected"
    returned = "returned"
    merged = "merged"
    escalated = "escalated"
    """A second 不满意: back with the office (作风办) to reassign or close."""


class Report(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("year", "seq"),
        # The monthly digest (`db.cases.metrics`) reads a month of assignments and the open backlog
        # from covering indexes alone: a million-report table is never scanned. PostgreSQL
        # reads the month-first ones (hash aggregates); SQLite seeks each department's part of
        # the department-first ones, so it never sorts a month of rows.
        Index(
            "ix_report_assigned_at_department", "assigned_at", "handling_department_id", "signed_at"
        ),
        Index(
            "ix_report_due_kind_due_at",
            "due_kind",
            "due_at",
            "handling_department_id",
            "state",
            "number",
        ),
        Index(
            "ix_report_department_assigned_at", "handling_department_id", "assigned_at", "signed_at"
        ),
        Index(
            "ix_report_department_due",
            "handling_department_id",
            "due_kind",
            "due_at",
            "state",
            "number",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True, index=True)
    year: int
    seq: int
    category_id: int = Field(foreign_key="category.id")
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    department_text: str | None = Field(default=None, max_length=200)
    description: str = Field(sa_column=Column(Text(), nullable=False))
    time_place: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    identity_mode: IdentityMode = Field(sa_column=_enum(IdentityMode))
    reporter_account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    reporter_name: str | None = Field(default=None, max_length=100)
    reporter_phone: str | None = Field(default=None, max_length=32)
    receipt_hash: str | None = Field(default=None, max_length=128, unique=True)
    language: str = Field(default="zh_CN", max_length=10)
    state: ReportState = Field(
        default=ReportState.received, sa_column=_enum(ReportState, index=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    # The handling case (`db.cases.rules.Case`), flattened; `db.cases.handling` maps it both ways.
    # All nullable or defaulted so reports filed before case handling existed stay valid.
    owner_kind: str | None = Field(default=None, max_length=20)
    owner_department_id: int | None = Field(default=None, foreign_key="department.id")
    due_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True, index=True))
    due_kind: str | None = Field(default=None, max_length=20)
    handling_department_id: int | None = Field(
        default=None, foreign_key="department.id", index=True
    )
    """`Case.department_id`: who handles it; `department_id` is what the reporter picked."""
    assigned_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    signed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    replied_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    extension_used: bool = Field(default=False)
    extension_days: int | None = Field(default=None)
    """With `extension_reason` and `extension_requested_at`: the pending request, if any."""
    extension_reason: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    extension_requested_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    reopen_count: int = Field(default=0)
    conflict_department_id: int | None = Field(default=None, foreign_key="department.id")
    leader_involved: bool = Field(default=False)
    """The reporter marked it 涉及单位负责人 (see `conflict_department_id`)."""
    rating: str | None = Field(default=None, max_length=20)
    rating_comment: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    merged_into_id: int | None = Field(default=None, foreign_key="report.id")
    version: int = Field(default=0)
    """Bumped by every case write: the compare-and-set that lets exactly one racing command win."""


class ReportCounter(SQLModel, table=True):
    """One row per year so public numbers restart at 000001 each January without gaps or races."""

    __tablename__ = "report_counter"

    year: int = Field(primary_key=True)
    last_seq: int = Field(default=0)


class EventKind(StrEnum):
    """What happened on the timeline; the handling steps are produced by `db.cases.rules`."""

    created = "created"
    info_added = "info_added"
    accepted = "accepted"
    rejected = "rejected"
    merged = "merged"
    signed = "signed"
    returned = "returned"
    reassigned = "reassigned"
    info_requested = "info_requested"
    info_answered = "info_answered"
    extension_requested = "extension_requested"
    extension_approved = "extension_approved"
    extension_denied = "extension_denied"
    replied = "replied"
    rated = "rated"
    """Rated satisfied or basically satisfied, which closes the case."""
    reopened = "reopened"
    escalated = "escalated"
    closed = "closed"
    """Closed by the office after an escalation."""
    closed_unrated = "closed_unrated"
    purged = "purged"
    """Retention removed the reporter's personal data and the attachments
    (`db.office.retention`)."""


class ReportEvent(SQLModel, table=True):
    """The timeline: every state change and every message about a report, with actor and time."""

    __tablename__ = "report_event"
    __table_args__ = (
        # The digest's event figures, covering, without touching report: a month of a few kinds
        # (PostgreSQL), or a department's month of one kind per seek (SQLite).
        Index("ix_report_event_kind_created_at", "kind", "created_at", "department_id", "due_at"),
        Index("ix_report_event_department_kind", "department_id", "kind", "created_at", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    """The department handling the report when the event happened; the digest counts an event
    (a reply, a return, a rating) for it. Events before revision 0009 got the report's handling
    department at the time of that migration."""
    kind: EventKind = Field(sa_column=_enum(EventKind))
    actor_account_id: int | None = Field(default=None, foreign_key="account.id")
    actor_role: str | None = Field(default=None, max_length=20)
    public: bool = Field(default=True)
    body: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    due_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    """The due time this step was measured against, where one applied (e.g. the sign due for
    `signed`, the reply due for `replied`); None otherwise, and for events before revision 0005."""


class Attachment(SQLModel, table=True):
    """Evidence stored under the data dir, content-addressed by SHA-256 so it survives restarts."""

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    event_id: int | None = Field(default=None, foreign_key="report_event.id")
    kind: str = Field(max_length=20)
    file_name: str | None = Field(default=None, max_length=255)
    mime_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64, index=True)
    path: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ReportDraft(SQLModel, table=True):
    """A report being typed, written at every step so nothing typed is lost across a restart."""

    __tablename__ = "report_draft"

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    data: str = Field(sa_column=Column(Text(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))


class ReceiptThrottle(SQLModel, table=True):
    """Wrong receipt guesses per account; the delay grows so guessing 80-bit codes is hopeless."""

    __tablename__ = "receipt_throttle"

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    failures: int = Field(default=0)
    locked_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class ConversationState(SQLModel, table=True):
    """python-telegram-bot conversation states, kept in the product database, not a pickle file."""

    __tablename__ = "conversation_state"
    __table_args__ = (Index("ix_conversation_state_name", "name"),)

    name: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=128)
    state: str = Field(sa_column=Column(Text(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class CalendarYear(SQLModel, table=True):
    """A year the office declared complete: its holidays and 调休 are entered as overrides, so
    its remaining days follow Monday–Friday without a "guessed deadline" warning."""

    __tablename__ = "calendar_year"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    confirmed_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    confirmed_by_account_id: int | None = Field(default=None, foreign_key="account.id")


class CalendarOverride(SQLModel, table=True):
    """An admin's word on one day, beating the packaged Chinese calendar.

    `chinesecalendar` only knows the years published when it was released, and the State Council
    announces next year's holidays and make-up working days (调休) each winter; this table lets the
    campaign office enter them (or a local day off) without a release. The row records who made
    the current decision and when, so a changed day can be traced in an audit.
    """

    __tablename__ = "calendar_override"

    day: date = Field(primary_key=True)
    working: bool
    """True: a working day (e.g. a 调休 weekend); False: a day off (a holiday)."""
    note: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    created_by_account_id: int | None = Field(default=None, foreign_key="account.id")


class Invite(SQLModel, table=True):
    """A single-use, expiring link that binds whoever opens it to a role.

    Only the SHA-256 of the token is kept: a leaked database or backup must not let anyone claim
    a liaison's or an admin's role. `department_id` is required for liaison and leader and null
    for admin; `db.people.roles.create_invite` enforces that, since a CHECK would need a migration
    for every new role.
    """

    __tablename__ = "invite"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    role: Role = Field(sa_column=_enum(Role))
    department_id: int | None = Field(default=None, foreign_key="department.id")
    created_by_account_id: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    used_by_account_id: int | None = Field(default=None, foreign_key="account.id")
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    group_id: int | None = Field(default=None, foreign_key="evaluator_group.id")
    """The group an evaluator invite joins; None for every other role."""
    replaces_grant_id: int | None = Field(default=None, foreign_key="role_grant.id")
    """A handover (交接): the grant that ends when this invite is redeemed, so a department is
    never without a liaison while the new one has not opened the link yet."""


class Channel(StrEnum):
    telegram = "telegram"
    wecom = "wecom"


class OutboxMessage(SQLModel, table=True):
    """Everything the bot sends on its own, written in the transaction that decided to send it.

    `dedupe_key` makes producers idempotent (a scan may run twice; the second insert is ignored).
    Delivery records the attempt (`claimed_at`) and commits before calling Telegram, so after a
    crash an attempt without `sent_at` is known to be in doubt: it is sent again once
    (`in_doubt` counts how often), the only way a message can reach someone twice.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "failed_at", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    channel: Channel = Field(sa_column=_enum(Channel))
    chat_id: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))
    department_id: int | None = Field(default=None, foreign_key="department.id")
    """For `wecom`: the robot URL is read from the department at sending time, never copied."""
    text: str = Field(sa_column=Column(Text(), nullable=False))
    keyboard: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    """JSON rows of [label, callback data]."""
    files: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    """JSON list of {kind, file_id} or {kind, path, name} (path under the data dir)."""
    urgent: bool = Field(default=False)
    """Urgent messages ignore quiet hours (a reporter's notices)."""
    next_attempt_at: datetime = Field(sa_column=_ts())
    attempts: int = Field(default=0)
    in_doubt: int = Field(default=0)
    claimed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    claimed_by: str | None = Field(default=None, max_length=32)
    """The bot process (`BotProcess.id`) making the attempt: when that process is gone, its
    unconfirmed attempts are in doubt and go back in the queue; another's are left alone."""
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    failed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    """Given up for good (the recipient blocked the bot, or Telegram refused the message)."""
    last_error: str | None = Field(default=None, max_length=300)
    expires_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    """A reminder announces a deadline: once that has passed, it would only mislead (and the
    escalation that follows the ladder replaces it), so the sender skips it instead."""
    skipped_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    """Never sent on purpose: expired (`expires_at`), or a lower rung passed over after downtime.
    The row stays so that its key keeps a later scan from queuing it again."""
    skip_reason: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class BotProcess(SQLModel, table=True):
    """A bot process that shares the database: alive while its heartbeat is fresh.

    Several processes may serve one PostgreSQL database; what one of them leaves half done (an
    outbox attempt) is taken over only once it is known to be gone."""

    __tablename__ = "bot_process"

    id: str = Field(primary_key=True, max_length=32)
    host: str = Field(max_length=100)
    pid: int
    started_at: datetime = Field(sa_column=_ts())
    heartbeat_at: datetime = Field(sa_column=_ts())
    stopped_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class SchedulerLease(SQLModel, table=True):
    """Which process runs the scans, the digest and the other jobs: the one holding the lease.

    A row rather than a PostgreSQL advisory lock: it works on SQLite too, it survives a dropped
    connection for its time to live (no flapping on a network blip), and `/healthz` and the
    admins can read who leads."""

    __tablename__ = "scheduler_lease"

    name: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=32)
    acquired_at: datetime = Field(sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())


class AuditEvent(SQLModel, table=True):
    """Who did what to what, when, with the state before and after: every admin action.

    `subject` names the object in words an admin can type back into `/audit` (a report number,
    a department code, `account:<telegram id>`); before/after are JSON of the changed fields only.
    """

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_subject", "subject", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    actor_account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    """None for the command line and the scheduler."""
    action: str = Field(max_length=50)
    subject: str = Field(max_length=100)
    before: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    after: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))


class Broadcast(SQLModel, table=True):
    """A notice the office sent to liaisons; its messages are outbox rows keyed
    `broadcast:<id>:<telegram id>`, so delivery and the final report need no other memory.

    `audience` is `all`, `class:<dept_class>` or `dept:<code>`. `reported_at` is set when the
    author was sent the delivery report, in the same transaction that queued it: a restart
    neither loses nor repeats the report.
    """

    id: int | None = Field(default=None, primary_key=True)
    author_account_id: int | None = Field(default=None, foreign_key="account.id")
    audience: str = Field(max_length=60)
    text: str = Field(sa_column=Column(Text(), nullable=False))
    recipients: int = Field(default=0)
    """Messages queued (the reachable liaisons of the audience at sending time)."""
    unreachable: int = Field(default=0)
    """Liaisons of the audience already known to have blocked the bot: not sent to, but
    counted as unreachable in the report."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    reported_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True, index=True))


# --- Issue 6: campaigns, duties, submissions and the rectification ledger ---------------------


class Campaign(SQLModel, table=True):
    """A campaign (活动) such as 政风建设年 2026; its phases tell officials which season it is."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    year: int
    template: str | None = Field(default=None, max_length=50)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class CampaignPhase(SQLModel, table=True):
    """A phase (阶段) with inclusive local dates, e.g. 集中整治 1 March – 30 September."""

    __tablename__ = "campaign_phase"

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    position: int
    name: str = Field(max_length=100)
    starts_on: date
    ends_on: date


class ObligationKind(StrEnum):
    self_check = "self_check"
    """自查自纠: answered category by category; each problem found becomes a ledger item."""
    plan = "plan"
    """工作方案"""
    quarterly = "quarterly"
    """季度报送"""
    summary = "summary"
    """总结"""
    other = "other"


class DuePeriod(StrEnum):
    """How often a duty falls due: once on a fixed date, or N working days after each period."""

    once = "once"
    month = "month"
    quarter = "quarter"
    half_year = "half_year"


class DutyScope(StrEnum):
    all = "all"
    dept_class = "dept_class"
    """Every active unit of one class (seed 003's 党政综合, 经济管理, 执法监督, 管理服务, 其他)."""
    listed = "listed"
    """The units in `obligation_unit`."""


class Obligation(SQLModel, table=True):
    """A duty every unit in its scope owes once per period (a plan, a quarterly report …).

    Each (duty, period, unit) yields one `Submission`, created when the period opens; the
    submission keeps the due time and questions it was created with, so an edited duty changes
    later periods only once anything was submitted (see `db.duties.obligations.edit_obligation`).
    """

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id")
    kind: ObligationKind = Field(sa_column=_enum(ObligationKind))
    title: str = Field(max_length=200)
    scope: DutyScope = Field(sa_column=_enum(DutyScope))
    scope_class: str | None = Field(default=None, max_length=20)
    period: DuePeriod = Field(sa_column=_enum(DuePeriod))
    due_on: date | None = Field(default=None)
    """The fixed due day of a `once` duty (local date; due at its end)."""
    days_after: int = Field(default=0)
    """Working days after the end of each period (seed 004: 5 after each quarter)."""
    starts_on: date
    """Periods whose due day falls before this day are not owed (a duty created in November
    does not ask for the third quarter's report)."""
    ends_on: date | None = Field(default=None)
    """Periods starting after this day are not owed."""
    questions: str = Field(default="[]", sa_column=Column(Text(), nullable=False))
    """JSON list of the questions a submission must answer."""
    active: bool = Field(default=True)
    created_by: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ObligationUnit(SQLModel, table=True):
    """The units of a `listed` duty."""

    __tablename__ = "obligation_unit"

    obligation_id: int = Field(foreign_key="obligation.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)


class SubmissionState(StrEnum):
    due = "due"
    """Owed and not yet filed (overdue is `due` past `due_at`, computed, not stored)."""
    submitted = "submitted"
    """Filed, waiting for the office's review."""
    returned = "returned"
    """The office sent it back with comments; another round is owed by `resubmit_due_at`."""
    accepted = "accepted"


class Submission(SQLModel, table=True):
    """What one unit owes for one duty and period, and where it stands."""

    __table_args__ = (
        UniqueConstraint("obligation_id", "department_id", "period"),
        Index("ix_submission_state_due", "state", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    obligation_id: int = Field(foreign_key="obligation.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    period: str = Field(max_length=16)
    """`once`, `2026-11`, `2026-Q4` or `2026-H2` (see `db.duties.rules.Period`)."""
    due_at: datetime = Field(sa_column=_ts())
    questions: str = Field(default="[]", sa_column=Column(Text(), nullable=False))
    state: SubmissionState = Field(
        default=SubmissionState.due, sa_column=_enum(SubmissionState, index=True)
    )
    rounds: int = Field(default=0)
    first_submitted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    """Judges on-time: the first filing counts, a later round after a return does not."""
    submitted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    resubmit_due_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    accepted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    version: int = Field(default=1)
    """Bumped by every transition; a stale review button finds a different version."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class ReviewDecision(StrEnum):
    accepted = "accepted"
    returned = "returned"


class SubmissionRound(SQLModel, table=True):
    """One filing and its review; every round stays visible (seed 003 ran three)."""

    __tablename__ = "submission_round"
    __table_args__ = (UniqueConstraint("submission_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    number: int
    answers: str = Field(default="[]", sa_column=Column(Text(), nullable=False))
    """JSON: the answers to the questions, or the self-check's findings per category."""
    body: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    submitted_by: int | None = Field(default=None, foreign_key="account.id")
    submitted_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    decision: ReviewDecision | None = Field(
        default=None, sa_column=_enum(ReviewDecision, nullable=True)
    )
    comment: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    reviewed_by: int | None = Field(default=None, foreign_key="account.id")
    reviewed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class LedgerSource(StrEnum):
    self_check = "self_check"
    inspection = "inspection"
    """明察暗访: a finding the office recorded against the unit."""
    report = "report"
    """A report whose answer promised a fix."""


class LedgerState(StrEnum):
    open = "open"
    done = "done"
    """The unit says it is fixed; the office has not confirmed yet."""
    confirmed = "confirmed"


class RectificationItem(SQLModel, table=True):
    """One line of a unit's 整改台账, tracked to completion with evidence."""

    __tablename__ = "rectification_item"
    __table_args__ = (Index("ix_rectification_item_state_due", "state", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    source: LedgerSource = Field(sa_column=_enum(LedgerSource))
    submission_id: int | None = Field(default=None, foreign_key="submission.id", index=True)
    report_id: int | None = Field(default=None, foreign_key="report.id")
    category_id: int | None = Field(default=None, foreign_key="category.id")
    description: str = Field(sa_column=Column(Text(), nullable=False))
    measure: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    owner_name: str | None = Field(default=None, max_length=50)
    """责任人 as the unit named them (free text; not an account)."""
    due_at: datetime = Field(sa_column=_ts())
    state: LedgerState = Field(default=LedgerState.open, sa_column=_enum(LedgerState))
    reopen_count: int = Field(default=0)
    created_by: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    done_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    confirmed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    version: int = Field(default=1)


class LedgerUpdateKind(StrEnum):
    created = "created"
    progress = "progress"
    done = "done"
    confirmed = "confirmed"
    reopened = "reopened"


class LedgerUpdate(SQLModel, table=True):
    """The item's history: progress notes, done, confirmed, reopened, each with actor and time."""

    __tablename__ = "ledger_update"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="rectification_item.id", index=True)
    kind: LedgerUpdateKind = Field(sa_column=_enum(LedgerUpdateKind))
    note: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    account_id: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class DutyFile(SQLModel, table=True):
    """A file filed with a submission round or a ledger update, content-addressed like report
    evidence (`db.files`), so retention only deletes bytes nothing points at."""

    __tablename__ = "duty_file"

    id: int | None = Field(default=None, primary_key=True)
    round_id: int | None = Field(default=None, foreign_key="submission_round.id", index=True)
    update_id: int | None = Field(default=None, foreign_key="ledger_update.id", index=True)
    kind: str = Field(max_length=20)
    file_name: str | None = Field(default=None, max_length=255)
    mime_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64, index=True)
    path: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class DutyDraft(SQLModel, table=True):
    """A submission or ledger update being typed, saved at every step like a report draft."""

    __tablename__ = "duty_draft"

    account_id: int = Field(foreign_key="account.id", primary_key=True)
    subject: str = Field(primary_key=True, max_length=40)
    """`submission:<id>` or `item:<id>`."""
    data: str = Field(sa_column=Column(Text(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts(index=True))


# --- Issue 14: appraisal rounds, post-service ratings, the quarterly bulletin ----------------


class EvaluatorGroup(SQLModel, table=True):
    """A group of outside evaluators (界别): enterprises, foreign investors, deputies and
    committee members (seed 001), or any group the office adds. Its members are the active
    `evaluator` grants naming it."""

    __tablename__ = "evaluator_group"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True)
    """What an admin types (`/invite evaluator QY`): ASCII letters and digits."""
    name: str = Field(max_length=100)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class RoundState(StrEnum):
    open = "open"
    closed = "closed"
    """Results computed and frozen (`RoundResult`); no ballot changes any more."""


class AppraisalRound(SQLModel, table=True):
    """A democratic appraisal (民主评议) such as 百家企业评政风 2026年第4季度.

    The evaluators of its groups rate its units on its dimensions until `closes_at` (the end of
    the local day `closes_on`); then the results are frozen once.
    """

    __tablename__ = "appraisal_round"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    period: str = Field(max_length=40)
    """As the office writes it, e.g. 2026年第4季度; `quarter` is what the bulletin reads."""
    quarter: str | None = Field(default=None, max_length=7, index=True)
    """`2026-Q4`: the quarter whose bulletin counts this round (None: no bulletin does)."""
    dimensions: str = Field(sa_column=Column(Text(), nullable=False))
    """JSON list of dimension names, e.g. ["服务态度", "办事效率", …]."""
    scale_max: int = Field(default=5)
    """Each dimension is scored 1 to `scale_max`."""
    closes_on: date
    closes_at: datetime = Field(sa_column=_ts(index=True))
    state: RoundState = Field(default=RoundState.open, sa_column=_enum(RoundState, index=True))
    created_by: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    closed_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    anomalies_queued_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    """When its 异常情况报告 went into the outbox (None: not yet), so the scan reads only the
    rounds still to report instead of searching the outbox once per round ever closed."""


class RoundGroup(SQLModel, table=True):
    __tablename__ = "round_group"

    round_id: int = Field(foreign_key="appraisal_round.id", primary_key=True)
    group_id: int = Field(foreign_key="evaluator_group.id", primary_key=True)


class RoundUnit(SQLModel, table=True):
    """A unit a round rates, in the order evaluators are shown them."""

    __tablename__ = "round_unit"

    round_id: int = Field(foreign_key="appraisal_round.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    position: int = Field(default=0)


class Ballot(SQLModel, table=True):
    """One evaluator's marks for one unit in one round; changed in place until the close.

    The unique constraint is what makes it one ballot: two presses at once cannot make two rows.
    """

    __table_args__ = (UniqueConstraint("round_id", "department_id", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(foreign_key="appraisal_round.id", index=True)
    department_id: int = Field(foreign_key="department.id")
    account_id: int = Field(foreign_key="account.id", index=True)
    group_id: int | None = Field(default=None, foreign_key="evaluator_group.id")
    """The evaluator's group when the ballot was cast (turnout per group)."""
    scores: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    """JSON list of ints, one per dimension of the round; None: 没有接触过 (the unit skipped)."""
    comment: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    excluded_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    """Set by an admin's `/exclude` with a reason; the ballot stays, the figures skip it."""
    excluded_by: int | None = Field(default=None, foreign_key="account.id")
    excluded_reason: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))


class RoundResult(SQLModel, table=True):
    """A round's frozen figures for one unit, computed at the close (and again on an exclusion)."""

    __tablename__ = "round_result"

    round_id: int = Field(foreign_key="appraisal_round.id", primary_key=True)
    department_id: int = Field(foreign_key="department.id", primary_key=True)
    ballots: int
    """Ballots with marks (not skipped, not excluded)."""
    skipped: int = Field(default=0)
    means: str = Field(sa_column=Column(Text(), nullable=False))
    """JSON list of the dimension means (null where no ballot marked the unit)."""
    score: float | None = Field(default=None)
    """On 100: the mean of the dimension means over the scale's top; None without ballots."""
    computed_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class RatingLinkKind(StrEnum):
    poster = "poster"
    """Printed on a unit's poster: anyone may rate with it, once per account, unit and day."""
    single = "single"
    """For one service (a case, an appointment): counts once, whoever uses it."""


class RatingLink(SQLModel, table=True):
    """A deep link `?start=rate-<token>` into the rating of one unit's service (公述民评).

    Found by the token's SHA-256, as invites are.
    """

    __tablename__ = "rating_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    public_token: str | None = Field(default=None, max_length=64)
    """A poster's raw token: printed on a wall and shown on the public page, it hides nothing,
    and the poster can be printed again. A single-use link keeps only its hash."""
    kind: RatingLinkKind = Field(sa_column=_enum(RatingLinkKind))
    department_id: int = Field(foreign_key="department.id", index=True)
    label: str | None = Field(default=None, max_length=100)
    """What a single-use link is for (a case number, an appointment), as its liaison wrote it."""
    created_by: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    used_by_account_id: int | None = Field(default=None, foreign_key="account.id")
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class ServiceRatingValue(StrEnum):
    satisfied = "satisfied"
    """满意"""
    basic = "basic"
    """基本满意"""
    unsatisfied = "unsatisfied"
    """不满意"""


class ServiceRating(SQLModel, table=True):
    """A person's rating of a unit's service right after it (公述民评).

    `day_key` is the local day for a poster's link and `link:<id>` for a single-use link, so the
    unique constraint allows one poster rating per account, unit and day, and any number of
    single-use ratings (each link counts once).
    """

    __tablename__ = "service_rating"
    __table_args__ = (UniqueConstraint("account_id", "department_id", "day_key"),)

    id: int | None = Field(default=None, primary_key=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    link_id: int | None = Field(default=None, foreign_key="rating_link.id")
    value: ServiceRatingValue = Field(sa_column=_enum(ServiceRatingValue))
    reason: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    rated_on: date = Field(index=True)
    """Local date of the rating (the digest and the bulletin count by it)."""
    day_key: str = Field(max_length=20)
    report_id: int | None = Field(default=None, foreign_key="report.id")
    """The report a 不满意 was turned into, if the person did."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    excluded_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    excluded_by: int | None = Field(default=None, foreign_key="account.id")
    excluded_reason: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))


class QuarterBulletin(SQLModel, table=True):
    """A quarter's bulletin (季度通报): the figures frozen when it was computed, when it was sent,
    and whether the office published it on the public page (`/publish`)."""

    __tablename__ = "quarter_bulletin"

    quarter: str = Field(primary_key=True, max_length=7)
    """`2026-Q4`."""
    data: str = Field(sa_column=Column(Text(), nullable=False))
    """JSON of the ranking and each unit's figures, as sent and as published."""
    computed_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    published_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    published_by: int | None = Field(default=None, foreign_key="account.id")
