"""Typed settings: built-in defaults, then the TOML file, then `ZHENGFENG_*` environment variables.

The order matters: an operator keeps a shared `config.toml` and overrides one value (usually the
token, which never belongs in a file) from the environment of one process.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from db.bulletin.scoring import BulletinWeights
from db.cases.handling import ConfiguredLimits
from db.cases.rules import Limits
from db.office.digest import ScoreWeights

DEFAULT_CONFIG_FILE = Path("config.toml")

# pydantic-settings reads the TOML path from the class; a context variable lets `load_settings`
# choose the file per call without building a new class each time.
_config_file: ContextVar[Path | None] = ContextVar("zhengfeng_config_file", default=None)


class WecomSettings(BaseModel):
    office_url: SecretStr | None = None
    """The campaign office's own WeCom group robot: escalations (督办) and the city-wide digest
    also go there. Its key is a secret: set it from the environment."""


class TelegramSettings(BaseModel):
    token: SecretStr | None = None
    api_base_url: str = "https://api.telegram.org/bot"
    file_base_url: str = "https://api.telegram.org/file/bot"
    local_mode: bool = False
    """True when talking to a local Bot API server started with --local (files come as paths)."""
    bot_username: str = ""
    """The bot's @username without @, for links printed or published without asking Telegram
    (the public page's QR codes); empty: the public page shows no QR code."""


class WebhookSettings(BaseModel):
    """`zhengfeng run --webhook`: Telegram posts updates to `url` + `path`; a reverse proxy in
    front of `listen`:`port` terminates TLS (see the README's deployment section)."""

    url: str = ""
    """The public base URL Telegram reaches, e.g. https://bot.example.gov.cn."""
    path: str = "/telegram"
    listen: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    secret_token: SecretStr | None = None
    """Telegram sends it in X-Telegram-Bot-Api-Secret-Token; any request without it is refused.
    1-256 characters of A-Z, a-z, 0-9, _ and -."""


class DatabaseSettings(BaseModel):
    url: str = "sqlite+aiosqlite:///data/zhengfeng.db"
    echo: bool = False


class ReportSettings(BaseModel):
    description_min_chars: int = Field(default=10, ge=1)
    description_max_chars: int = Field(default=2000, le=3500)
    time_place_max_chars: int = Field(default=500, ge=1)
    name_max_chars: int = Field(default=50, ge=1)
    max_attachments: int = Field(default=5, ge=0, le=10)
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, gt=0, le=20 * 1024 * 1024)
    allowed_document_types: list[str] = [
        "application/pdf",
        "image/jpeg",
        "image/png",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "text/plain",
    ]
    phone_region: str = "CN"


class ConversationSettings(BaseModel):
    idle_timeout_minutes: int = Field(default=30, ge=1)
    """A half-typed report is dropped after this long without input, with a message saying so."""
    sweep_interval_seconds: int = Field(default=60, ge=5)


class ReceiptSettings(BaseModel):
    free_attempts: int = Field(default=3, ge=1)
    """Wrong guesses allowed before each further one costs a growing wait."""
    base_delay_seconds: int = Field(default=30, ge=1)
    max_delay_seconds: int = Field(default=3600, ge=1)


class InviteSettings(BaseModel):
    ttl_days: int = Field(default=7, ge=1, le=90)
    """An unused invite link stops working after this many days, so a forgotten one is harmless."""


class RoutingSettings(BaseModel):
    auto_assign: bool = False
    """Send a report straight to the unit the reporter picked, skipping the office's triage."""


class DeadlineSettings(BaseModel):
    """Time limits in working days (Chinese calendar, campaign time zone)."""

    triage_days: int = Field(default=1, ge=0)
    sign_days: int = Field(default=1, ge=0)
    complaint_reply_days: int = Field(default=15, ge=1)
    consultation_reply_days: int = Field(default=5, ge=1)
    return_window_days: int = Field(default=2, ge=0)
    max_extension_days: int = Field(default=10, ge=0)
    rating_days: int = Field(default=7, ge=1)
    reassign_days: int = Field(default=1, ge=0)
    close_unrated_interval_seconds: int = Field(default=600, ge=10)
    """How often answered reports past their rating time are closed as 未评价."""

    def base_limits(self) -> Limits:
        """The limits of a complaint; `db.cases.handling.limits_for` shortens them for
        consultations."""
        return Limits(
            triage_days=self.triage_days,
            sign_days=self.sign_days,
            reply_days=self.complaint_reply_days,
            return_window_days=self.return_window_days,
            max_extension_days=self.max_extension_days,
            rating_days=self.rating_days,
            reassign_days=self.reassign_days,
        )

    def configured(self) -> ConfiguredLimits:
        return ConfiguredLimits(self.base_limits(), self.consultation_reply_days)


class DeliverySettings(BaseModel):
    """How the outbox is drained (see `scheduler.delivery.sender`)."""

    window_start: time = time(8, 30)
    window_end: time = time(18, 0)
    """Non-urgent messages (reminders, escalations, digests) go out only in this local window on
    working days; a reporter's notices go at once."""
    concurrency: int = Field(default=8, ge=1, le=64)
    poll_seconds: float = Field(default=5.0, gt=0)
    max_attempts: int = Field(default=12, ge=1)
    grace_seconds: int = Field(default=30, ge=0)
    """A handler sends its own notices at once; the loop takes them over after this delay."""


class ReminderSettings(BaseModel):
    """The ladder of every deadline (see `db.calendar.reminders`): working days, local time of
    day."""

    remind_before_days: list[int] = [1, 0]
    at: time = time(9, 0)
    supervise_after_days: int = Field(default=3, ge=2)
    scan_interval_seconds: int = Field(default=300, ge=10)


class DigestWeightSettings(BaseModel):
    """Weights of the rates in the monthly ranking score (see `db.office.digest`); relative, so they
    need not add up to 1. Set one to 0 to leave that rate out of the ranking."""

    signed_on_time: float = Field(default=0.2, ge=0)
    answered_on_time: float = Field(default=0.3, ge=0)
    satisfaction: float = Field(default=0.3, ge=0)
    returned: float = Field(default=0.05, ge=0)
    reopened: float = Field(default=0.05, ge=0)
    overdue: float = Field(default=0.1, ge=0)
    submissions_on_time: float = Field(default=0.1, ge=0)
    """按时报送率: the unit's submissions due in the month, first filed by their due time."""
    ledger_completion: float = Field(default=0.1, ge=0)
    """整改完成率: the unit's ledger items due by the month's end, done or confirmed by then."""

    @model_validator(mode="after")
    def _some_weight(self) -> DigestWeightSettings:
        self.score_weights()  # one rule for "valid weights", the one the digest enforces
        return self

    def score_weights(self) -> ScoreWeights:
        return ScoreWeights(**self.model_dump())


class DigestSettings(BaseModel):
    """The monthly digest (情况通报)."""

    weights: DigestWeightSettings = DigestWeightSettings()
    send_at: time = time(9, 0)
    """Local time (campaign zone) on the first working day of a month when last month's digest
    goes out."""
    overdue_numbers_max: int = Field(default=20, ge=0, le=100)
    """Overdue report numbers listed in a department's message; the count is always shown."""
    separate_process: bool = True
    """Build the digest's figures, chart and workbook in a child process (see
    `bot.documents.worker`); off, they are built in the bot's own process, on threads."""


class BulletinWeightSettings(BaseModel):
    """Weights of the components of the quarterly score (see `db.bulletin.scoring`); relative,
    so they need not add up to 1. Set one to 0 to leave that component out."""

    signed_on_time: float = Field(default=0.1, ge=0)
    answered_on_time: float = Field(default=0.15, ge=0)
    satisfaction: float = Field(default=0.15, ge=0)
    """满意率 of the reporters' ratings of the answers."""
    returned: float = Field(default=0.05, ge=0)
    reopened: float = Field(default=0.05, ge=0)
    submissions_on_time: float = Field(default=0.1, ge=0)
    ledger_completion: float = Field(default=0.1, ge=0)
    appraisal: float = Field(default=0.2, ge=0)
    """The score of the quarter's closed appraisal rounds (评议), averaged when several."""
    service_rating: float = Field(default=0.1, ge=0)
    """满意率 of the post-service ratings (公述民评)."""

    @model_validator(mode="after")
    def _some_weight(self) -> BulletinWeightSettings:
        self.bulletin_weights()
        return self

    def bulletin_weights(self) -> BulletinWeights:
        return BulletinWeights(**self.model_dump())


class BulletinSettings(BaseModel):
    """The quarterly bulletin (季度通报)."""

    weights: BulletinWeightSettings = BulletinWeightSettings()
    bottom_count: int = Field(default=1, ge=0, le=50)
    """How many of the last ranked places are marked 末位 (units tied with them too); 0: none."""
    send_at: time = time(9, 30)
    """Local time on the first working day after a quarter when its bulletin goes out."""


class WebSettings(BaseModel):
    """The public results page (公示页面): `zhengfeng web` serves it alone; `public = true` also
    serves it from the bot process (with webhooks it is always on the webhook's server)."""

    public: bool = False
    """Serve the public page from `zhengfeng run` (long polling) on `host`:`port`."""
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=1, le=65535)


class RetentionSettings(BaseModel):
    """How long a closed report keeps its reporter's personal data (see `db.office.retention`)."""

    days: int = Field(default=365, ge=1)
    """Closed, rejected or merged reports unchanged for this many days lose the reporter's name,
    phone, account link, receipt and attachments; content and figures stay for statistics."""
    run_at: time = time(3, 0)
    """Local time (campaign zone) of the weekly purge, on Sundays."""


class DutySettings(BaseModel):
    """Self-checks, periodic reports and the rectification ledger (see `db.duties.obligations`)."""

    resubmit_days: int = Field(default=5, ge=1, le=30)
    """Working days a unit has to file again after the office returned its submission."""
    max_files: int = Field(default=10, ge=0, le=20)
    """Attachments per submission round or ledger update."""
    max_text_chars: int = Field(default=3000, ge=100, le=3500)
    """Longest answer to one question, finding or note."""


class NoticeSettings(BaseModel):
    """Who hears of a report besides the people who act on it."""

    leaders_on_assign: bool = True
    """A unit's leaders get a short notice when a report is assigned to their unit."""
    leaders_on_close: bool = True
    """... and when a report of their unit is closed."""


class RateLimitSettings(BaseModel):
    """Telegram's limits, one budget for every call that sends a message (replies, edits,
    notices, the outbox): see `bot.runtime.send_budget`."""

    overall_per_second: float = Field(default=30.0, ge=0, le=30)
    """Telegram's 30 in any second, counted so that no jitter can make 31; 0 lifts the limit
    (a local test server, a benchmark)."""
    bulk_reserve: int = Field(default=1, ge=0)
    """Messages of each second that the outbox, broadcasts and digests leave to replies."""
    chat_interval_seconds: float = Field(default=1.0, ge=0)
    """One message per this many seconds to a private chat once its burst is spent; 0 lifts it."""
    chat_burst: int = Field(default=3, ge=1)
    group_per_minute: int = Field(default=20, ge=1)
    robot_per_minute: int = Field(default=20, ge=1)
    """A WeCom group robot takes 20 messages a minute."""


class FloodSettings(BaseModel):
    """A person sending faster than a person can is told once to slow down, and what they send
    beyond `updates` in `seconds` is dropped for `pause_seconds` (see `bot.runtime.flood`)."""

    updates: int = Field(default=20, ge=1)
    seconds: float = Field(default=10.0, gt=0)
    pause_seconds: float = Field(default=60.0, ge=0)


class AnomalySettings(BaseModel):
    """The anomaly report on ballots and service ratings (see `db.anomalies.rules`): when a
    pattern is worth a person's look."""

    identical_evaluators: int = Field(default=3, ge=2)
    """Evaluators whose ballots of one round are the same, unit for unit, before it is flagged."""
    identical_min_units: int = Field(default=2, ge=1)
    """... only when their ballots mark at least this many units."""
    burst_actions: int = Field(default=5, ge=2)
    """Ballots or ratings within one hour from accounts that came in the same hour."""
    burst_accounts: int = Field(default=2, ge=1)
    """... from at least this many of those accounts."""
    extreme_items: int = Field(default=5, ge=1)
    """Ballots (or ratings) an account gave only the scale's bottom or only its top."""
    far_gap: float = Field(default=0.3, gt=0, le=1)
    """A unit's appraisal score or rating satisfaction this far from its report satisfaction."""
    far_min_count: int = Field(default=5, ge=1)
    """... each side from at least this many ballots or ratings."""
    single_unit_ratings: int = Field(default=5, ge=1)
    """Ratings of one unit in a month from accounts that rated nothing else."""
    scan_interval_seconds: int = Field(default=900, ge=60)
    """How often the leader looks for a closed round or a month whose report is not sent yet."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ZHENGFENG_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    telegram: TelegramSettings = TelegramSettings()
    webhook: WebhookSettings = WebhookSettings()
    database: DatabaseSettings = DatabaseSettings()
    data_dir: Path = Path("data")
    timezone: str = "Asia/Shanghai"
    default_language: str = "zh_CN"
    admin_ids: list[int] = []
    report: ReportSettings = ReportSettings()
    conversation: ConversationSettings = ConversationSettings()
    receipt: ReceiptSettings = ReceiptSettings()
    delivery: DeliverySettings = DeliverySettings()
    wecom: WecomSettings = WecomSettings()
    reminders: ReminderSettings = ReminderSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    flood: FloodSettings = FloodSettings()
    notices: NoticeSettings = NoticeSettings()
    routing: RoutingSettings = RoutingSettings()
    deadlines: DeadlineSettings = DeadlineSettings()
    invites: InviteSettings = InviteSettings()
    digest: DigestSettings = DigestSettings()
    bulletin: BulletinSettings = BulletinSettings()
    web: WebSettings = WebSettings()
    retention: RetentionSettings = RetentionSettings()
    duties: DutySettings = DutySettings()
    anomalies: AnomalySettings = AnomalySettings()
    log_level: str = "INFO"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("default_language")
    @classmethod
    def _supported_language(cls, value: str) -> str:
        if value not in ("zh_CN", "en"):
            raise ValueError("default_language must be zh_CN or en")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def attachments_dir(self) -> Path:
        return self.data_dir / "attachments"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _config_file.get()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


class ConfigFileMissing(FileNotFoundError):
    pass


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Read settings; an explicitly named file must exist, the default one may be absent."""
    if config is not None and not config.is_file():
        raise ConfigFileMissing(f"config file not found: {config}")
    path = config if config is not None else DEFAULT_CONFIG_FILE
    token = _config_file.set(path if path.is_file() else None)
    try:
        return Settings(**overrides)
    finally:
        _config_file.reset(token)
