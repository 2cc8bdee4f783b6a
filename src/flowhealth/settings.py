"""Runtime settings, read from the environment (prefix FLOWHEALTH_) and never from model files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .statedir import default_state_url

if TYPE_CHECKING:
    from .model.files import ModelLimits


class Settings(BaseSettings):
    """How this flowhealth process runs; secrets come only from the environment."""

    model_config = SettingsConfigDict(env_prefix="FLOWHEALTH_", extra="ignore")

    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the state database (SQLite file or PostgreSQL); "
        "default: a SQLite file per model under ~/.local/state/flowhealth/.",
    )
    model_dir: Path = Field(default=Path("."), description="Directory holding flows/, alert_rules/, runbooks/.")
    public_url: str = Field(default="http://localhost:8000", description="Where people reach this service.")
    runbook_base_url: str | None = Field(
        default=None,
        description="Base URL of rendered runbooks; default: this service's /runbooks/.",
    )
    grafana_url: str = Field(default="http://localhost:3000", description="Grafana base URL for dashboard links.")
    api_token: SecretStr | None = Field(default=None, description="Bearer token for write endpoints.")
    board_token: SecretStr | None = Field(
        default=None, description="When set, the web pages (board, flows, incidents, review) need it; unset: public."
    )
    evaluation_interval: float = Field(
        default=15.0,
        gt=0,
        description="Seconds between full evaluation cycles (no-data, staleness, escalation); "
        "a signal's rules are also evaluated as soon as a new sample of it is stored.",
    )
    delivery_interval: float = Field(default=2.0, gt=0, description="Seconds between outbox delivery passes.")
    probe_slot: float = Field(
        default=1.0,
        gt=0,
        description="Seconds per scheduler slot: SQL probes of one connection due in one slot run from one job.",
    )
    heartbeat_interval: float = Field(
        default=1.0, gt=0, description="Seconds between a replica's heartbeats (PostgreSQL: membership, leadership)."
    )
    replica_expiry: float = Field(
        default=5.0, gt=0, description="Seconds without a heartbeat after which a replica counts as gone."
    )
    sample_retention_days: int = Field(default=14, ge=1, description="How long raw samples are kept.")
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body accepted on the API (OTLP has its own limit)."
    )
    otlp_max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="Largest OTLP export body accepted, once decompressed."
    )
    otlp_max_pending: int = Field(
        default=8, ge=1, description="OTLP export requests handled at once; more are answered 429."
    )
    http_header_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a new connection has to send a complete request head; then closed."
    )
    http_body_timeout: float = Field(
        default=60.0, gt=0, description="Seconds a request's body has to arrive in full once its head is in."
    )
    http_idle_timeout: float = Field(
        default=5.0, ge=1, description="Seconds a kept-alive connection may wait for its next request (whole seconds)."
    )
    http_max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, description="Largest request head (request line and headers); larger: 400."
    )
    slack_bot_token: SecretStr | None = Field(
        default=None,
        validation_alias="SLACK_BOT_TOKEN",
        description="Slack bot token; without it notifications print to the console.",
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias="SLACK_SIGNING_SECRET",
        description="Verifies Slack's signature on button clicks; without it interactivity answers 503.",
    )
    ack_ttl_hours: float = Field(default=4.0, gt=0, description="How long an acknowledgement holds before it expires.")
    slack_base_url: str = Field(
        default="https://slack.com/api/",
        validation_alias="FLOWHEALTH_SLACK_BASE_URL",
        description="Slack Web API base URL (tests point it at a local server).",
    )
    pagerduty_events_url: str = Field(
        default="https://events.pagerduty.com",
        description="PagerDuty Events API v2 base URL (a receiver's own `url` wins; tests point it at a local server).",
    )
    pagerduty_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Verifies PagerDuty's v3 webhook signatures on /api/v1/pagerduty; unset: the endpoint answers 503.",
    )

    model_max_file_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest model file read (flows/, alert_rules/, runbooks/)."
    )
    model_max_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Largest model read, all files together."
    )
    model_max_values: int = Field(
        default=100_000, ge=1000, description="Most YAML values in the model; bounds how long loading takes."
    )

    review_channel: str | None = Field(
        default=None, description="Slack channel for the weekly hypercare review; unset: no scheduled review."
    )
    review_schedule: str = Field(
        default="0 8 * * mon", description="When the weekly review is posted: a crontab line, in UTC."
    )

    @model_validator(mode="after")
    def _state_outside_the_model(self) -> Settings:
        if not self.database_url:
            self.database_url = default_state_url(self.model_dir)
        return self

    def model_limits(self) -> ModelLimits:
        from .model.files import ModelLimits

        return ModelLimits(self.model_max_file_bytes, self.model_max_bytes, self.model_max_values)

    def runbook_url(self, runbook: str) -> str:
        from .links import Links

        return Links(self.public_url, self.grafana_url, self.runbook_base_url).runbook(runbook)
