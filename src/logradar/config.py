"""One typed configuration: defaults < TOML file < ``LOGRADAR_*`` environment < command line.

Environment variables use ``__`` between levels, e.g. ``LOGRADAR_SERVER__PORT=9000`` or
``LOGRADAR_ALERTS__MIN_SEVERITY=high``. Every value is validated; :func:`load_config` turns
validation failures into a :class:`ConfigError` whose message names the field and the problem.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from logradar.schema import Severity

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class ConfigError(ValueError):
    """The configuration is invalid; the message is meant for the user as is."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


SeverityName = Annotated[
    Severity,
    BeforeValidator(Severity.parse),
    PlainSerializer(str, return_type=str),
    Field(description="info, low, medium, high or critical"),
]


DEFAULT_MAX_LABELS = 128


class ServerConfig(_Section):
    """The HTTP server: receivers, API, UI and metrics share one port."""

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port (0 picks a free one).")
    max_body_bytes: int = Field(
        16 * 1024 * 1024, gt=0, description="Largest accepted request body; larger gets 413."
    )
    max_line_bytes: int = Field(
        256 * 1024, gt=0, description="Longest accepted log line (UTF-8 bytes); see long_lines."
    )
    long_lines: Literal["truncate", "reject"] = Field(
        "truncate",
        description="Lines over max_line_bytes: 'truncate' cuts them and marks them with "
        "' …[truncated]' (counted in logradar_lines_truncated); 'reject' refuses the whole "
        "request with 400 on HTTP receivers, and drops just those lines (counted in "
        "logradar_lines_rejected) from syslog, file tail and LTS pull, which cannot answer.",
    )
    max_labels: int = Field(
        DEFAULT_MAX_LABELS,
        ge=1,
        description="Most labels on one line (stream labels, structured metadata, attributes "
        "and document fields together). HTTP receivers refuse a request with more (400; "
        "Elasticsearch bulk fails just that item); syslog and LTS pull keep the first ones "
        "and set the label logradar_labels_dropped to how many were left out.",
    )


#: librdkafka settings the Kafka tank sets itself; ``tank.kafka.options`` may not change them.
KAFKA_RESERVED_OPTIONS = (
    "bootstrap.servers",
    "acks",
    "enable.idempotence",
    "group.id",
    "enable.auto.commit",
)


class KafkaTankConfig(_Section):
    """Kafka as the tank (tank.kind = "kafka", extra `kafka`): one partition of one topic.

    Tested only against librdkafka's mock cluster. The topic must exist; create it with
    replication.factor=3 and min.insync.replicas=2, and set its retention.ms/retention.bytes.
    """

    bootstrap_servers: str | None = Field(
        None, description="host:port[,host:port…]; required when tank.kind = 'kafka'."
    )
    topic: str = Field("logradar-tank", min_length=1, description="The tank's topic.")
    partition: int = Field(
        0, ge=0, description="The partition used; this process must be its only writer."
    )
    group_prefix: str = Field(
        "logradar-", description="Consumer group of each tank consumer: prefix + name."
    )
    max_record_bytes: int = Field(
        900_000,
        gt=1024,
        description="Appends are split into records of at most this size; keep it below "
        "the topic's max.message.bytes.",
    )
    timeout_seconds: float = Field(
        30.0, gt=0, description="Longest wait for an acknowledgement, a fetch or an offset."
    )
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="More librdkafka settings for every client, e.g. security.protocol.",
    )
    secret_options: dict[str, SecretStr] = Field(
        default_factory=dict, description="librdkafka settings never shown, e.g. sasl.password."
    )

    @model_validator(mode="after")
    def _not_reserved(self) -> KafkaTankConfig:
        taken = sorted(set(KAFKA_RESERVED_OPTIONS) & {*self.options, *self.secret_options})
        if taken:
            raise ValueError(
                f"the Kafka tank sets {', '.join(taken)} itself; remove it from tank.kafka.options"
            )
        return self

    def client_options(self) -> dict[str, str | int | float | bool]:
        """``options`` and ``secret_options`` merged, secrets revealed."""
        secrets = {k: v.get_secret_value() for k, v in self.secret_options.items()}
        return {**self.options, **secrets}


class TankConfig(_Section):
    """The durable log every accepted line is written to before it is acknowledged."""

    kind: Literal["sqlite", "kafka"] = Field(
        "sqlite",
        description="sqlite: a local file (<data_dir>/tank.db); kafka: see [tank.kafka].",
    )
    retention_hours: float = Field(
        24.0, gt=0, description="Keep consumed records at least this long (sqlite)."
    )
    retention_bytes: int = Field(
        2 * 1024**3,
        gt=0,
        description="Drop the oldest consumed records above this size (sqlite).",
    )
    kafka: KafkaTankConfig = KafkaTankConfig()

    @model_validator(mode="after")
    def _kafka_needs_servers(self) -> TankConfig:
        if self.kind == "kafka" and not self.kafka.bootstrap_servers:
            raise ValueError(
                "tank.kind = 'kafka' needs tank.kafka.bootstrap_servers (host:port[,host:port])"
            )
        return self


class ArchiveConfig(_Section):
    """Raw archive: Hive-partitioned Parquet (stream/date/hour)."""

    enabled: bool = True
    url: str | None = Field(
        None,
        description="Folder or s3://bucket/prefix; default <data_dir>/archive.",
    )
    s3_endpoint: str | None = Field(None, description="S3/OBS endpoint URL for s3:// archives.")
    flush_seconds: float = Field(5.0, gt=0, description="Write a file at least this often.")
    max_rows_per_file: int = Field(500_000, gt=0)


class EngineConfig(_Section):
    """Micro-batch engine: windows, learning period, batching."""

    window_seconds: float = Field(10.0, gt=0, description="Width of a counting window.")
    learning_seconds: float = Field(
        20.0,
        ge=0,
        description="How long a new stream only learns; anomalies then get lower severity.",
    )
    allowed_lateness_seconds: float = Field(
        2.0, ge=0, description="How long a window waits for late records before it closes."
    )
    max_batch_rows: int = Field(
        25_000,
        gt=0,
        description="Most records per micro-batch: bounds how long one takes (~0.2 s on 2 "
        "cores) while the engine catches up, since results are stored after each.",
    )
    poll_seconds: float = Field(0.05, gt=0, description="Idle wait between micro-batches.")
    snapshot_seconds: float = Field(10.0, gt=0, description="How often state is saved.")
    early_evaluation: bool = Field(
        True,
        description="Report what is already certain in a still-open window (a never-seen "
        "template; an error or template count that is a burst or spike already) right "
        "after the micro-batch "
        "instead of at window close. The anomaly is the one the close would report (counts "
        "and examples so far), reported once. Live engines only; replays evaluate at close.",
    )
    session_key: str | None = Field(
        None,
        description="Regex whose match (or named group 'key') is a line's session id, "
        "e.g. 'blk_-?\\d+' or 'request_id=(?P<key>\\w+)'.",
    )
    session_idle_seconds: float = Field(
        60.0, gt=0, description="A session closes after this much event time without lines."
    )
    batch_budget_seconds: float = Field(
        0.5,
        ge=0,
        description="Live engine: closing windows after a micro-batch stops after this long "
        "and resumes at the next step (streams take turns, so one stream's backlog does "
        "not hold up the others; nothing is skipped). 0: no budget.",
    )
    max_future_seconds: float = Field(
        3600.0,
        ge=0,
        description="Live engine: a line stamped more than this ahead of the wall clock is "
        "clamped to that bound (and counted in logradar_engine_clamped_lines{bound=future}).",
    )
    max_past_seconds: float = Field(
        0.0,
        ge=0,
        description="Live engine: a line stamped more than this before the wall clock is "
        "clamped to that bound (counted as bound=past); 0: no bound (old lines keep their "
        "time: a stream's windows follow its own event time, and a gap costs O(1)).",
    )


class ParserConfig(_Section):
    """Template mining. The header format is the only per-system input."""

    log_format: str | None = Field(
        None,
        description="Header format, e.g. '<Date> <Time> <Level> <Component>: <Content>'; "
        "default: the whole line is the message.",
    )
    max_templates: int = Field(50_000, gt=0, description="Cap on templates kept in memory.")
    max_cache: int = Field(
        200_000,
        gt=0,
        description="Cap on known masked line shapes (the fast lookup); oldest dropped first.",
    )


class NewPatternConfig(_Section):
    """A template never seen before on a stream."""

    enabled: bool = True
    severity: SeverityName = Severity.MEDIUM
    error_severity: SeverityName = Field(
        Severity.HIGH, description="Severity when the new pattern is an error line."
    )
    forget_after_seconds: float | None = Field(
        None,
        gt=0,
        description="A template unseen this long (event time) counts as new again; "
        "default: once seen, never new again.",
    )
    flood_min_new: int = Field(
        5, ge=2, description="This many new templates in one window is a flood (likely a deploy)."
    )
    flood_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Also a flood when at least 2 new templates are this share of the window's "
        "distinct templates. Floods get one step lower severity.",
    )


class FrequencyConfig(_Section):
    """Spikes and drops of a template's (or a stream's) count per window."""

    enabled: bool = True
    severity: SeverityName = Severity.MEDIUM
    min_count: int = Field(10, ge=1, description="Ignore spikes smaller than this.")
    min_ratio: float = Field(3.0, gt=1, description="Observed must exceed expected this much.")
    p_value: float = Field(
        1e-6,
        gt=0,
        lt=1,
        description="Fire below this Poisson / negative-binomial tail probability.",
    )
    alpha: float = Field(0.1, gt=0, le=1, description="Baseline smoothing factor per window.")
    slow_alpha: float = Field(
        0.005, gt=0, le=1, description="Smoothing of the long-run level (hours at 10 s windows)."
    )
    drop_min_expected: float = Field(
        20.0, gt=0, description="Only report drops when at least this many lines were expected."
    )
    min_history: int = Field(
        10, ge=1, description="Windows a template must be tracked before it is scored."
    )
    sustained_windows: list[Annotated[int, Field(ge=2)]] = Field(
        [6, 30],
        description="Also judge the sum of the last N windows against the long-run and "
        "same-hour levels (1 and 5 min at 10-s windows), with the same rules as one window: "
        "catches shifts too small for a single window. [] turns it off.",
    )
    anomaly_alpha_factor: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Windows flagged anomalous update the baseline this much slower "
        "(0 = not at all), so a long incident does not become normal at once.",
    )
    season_alpha: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Weight of the newest day in the per-hour-of-day (weekday/weekend) profile.",
    )
    prune_after_seconds: float = Field(
        8 * 86400.0, gt=0, description="Forget a template's baseline after this long unseen."
    )


class SilenceConfig(_Section):
    """A stream, or a usually steady template, that stops."""

    enabled: bool = True
    severity: SeverityName = Severity.HIGH
    template_severity: SeverityName = Field(
        Severity.MEDIUM, description="Severity when a single steady template goes silent."
    )
    windows: int = Field(3, ge=1, description="Consecutive empty windows that make a silence.")
    min_expected: float = Field(
        5.0, gt=0, description="Only a source expected to send at least this much per window."
    )
    steady_share: float = Field(
        0.9,
        gt=0,
        le=1,
        description="A template is steady when present in at least this share of recent windows.",
    )
    alpha: float = Field(0.05, gt=0, le=1, description="Smoothing factor per window.")
    template_alpha: float = Field(
        0.005,
        gt=0,
        le=1,
        description="Smoothing factor for templates (slow: a burst does not make one steady).",
    )
    min_history: int = Field(30, ge=1, description="Windows seen before a source is judged.")
    prune_after_seconds: float = Field(
        86400.0, gt=0, description="Forget a stream or template silent this long."
    )


class ErrorBurstConfig(_Section):
    """More error lines in a window than the stream's baseline explains."""

    enabled: bool = True
    severity: SeverityName = Severity.HIGH
    min_count: int = Field(10, ge=1, description="Ignore bursts with fewer error lines.")
    min_ratio: float = Field(3.0, gt=1, description="Observed must exceed expected this much.")
    p_value: float = Field(1e-6, gt=0, lt=1, description="Tail probability to fire.")
    alpha: float = Field(0.1, gt=0, le=1, description="Baseline smoothing factor per window.")
    slow_alpha: float = Field(0.005, gt=0, le=1, description="Smoothing of the long-run level.")
    season_alpha: float = Field(
        0.5, gt=0, le=1, description="Weight of the newest day in the per-hour profile."
    )
    min_history: int = Field(10, ge=1, description="Windows seen before the stream is scored.")
    sustained_windows: list[Annotated[int, Field(ge=2)]] = Field(
        [6, 30],
        description="Also judge the error count summed over the last N windows; [] turns it off.",
    )
    anomaly_alpha_factor: float = Field(
        0.05, ge=0, le=1, description="Bursting windows update the baseline this much slower."
    )


class MultivariateConfig(_Section):
    """Isolation forest over each window's template-count vector."""

    enabled: bool = True
    severity: SeverityName = Severity.LOW
    top_k: int = Field(20, ge=1, description="Templates per stream used as features.")
    min_mean: float = Field(
        2.0,
        ge=0,
        description="Only templates (and error lines) averaging this many lines per window "
        "are features; sparse ones are noise to the forest (templates count under 'other').",
    )
    min_windows: int = Field(60, ge=10, description="Windows seen before the first fit.")
    refit_every: int = Field(
        360, ge=1, description="Refit after this many more windows (sooner while young)."
    )
    max_train: int = Field(2000, ge=10, description="Most recent windows kept for fitting.")
    quantile: float = Field(
        0.995, gt=0.5, lt=1, description="Training-score quantile the threshold starts from."
    )
    margin: float = Field(
        0.05, ge=0, description="Added to that quantile's anomaly score to set the threshold."
    )
    max_deviation: float = Field(
        8.0,
        gt=0,
        description="Also fire when a feature is this many robust spreads from its training "
        "median (the forest itself cannot score beyond its training range).",
    )
    n_estimators: int = Field(100, ge=10)
    random_state: int = 0


class SessionsConfig(_Section):
    """A closed session (template ids in event order) judged against normal sessions."""

    enabled: bool = True
    checks: list[Literal["unseen", "counts", "pairs", "transitions"]] = Field(
        default_factory=lambda: ["unseen", "counts", "pairs"],
        description="unseen templates, count rules, exclusive pairs, n-gram transitions. "
        "Transitions are off by default: where threads interleave lines (HDFS) unseen "
        "transitions are mostly normal.",
    )
    severity: SeverityName = Severity.MEDIUM
    error_severity: SeverityName = Field(
        Severity.HIGH, description="Severity when the most surprising event is an error line."
    )
    min_sessions: int = Field(
        500,
        ge=1,
        description="Sessions learned before any is judged (enough to have seen the rarer "
        "normal templates); with learn_online every session is learned until then.",
    )
    min_support: int = Field(
        5, ge=2, description="Sessions a template needs before it enters count rules."
    )
    tolerance: float = Field(
        0.002,
        ge=0,
        lt=0.1,
        description="Share of normal sessions allowed to break a count rule that is still kept.",
    )
    pair_p_value: float = Field(
        1e-3,
        gt=0,
        lt=1,
        description="Two templates never seen in one session form an exclusive pair when that "
        "is this unlikely were they unrelated.",
    )
    order: int = Field(2, ge=2, le=5, description="n-gram length of the transition check.")
    min_context: int = Field(
        200, ge=1, description="Times a context must have been seen before its transitions count."
    )
    min_probability: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="A transition at or below this probability is surprising (0: never seen).",
    )
    learn_online: bool = Field(
        False,
        description="After the learning period, keep learning from sessions judged normal. Off "
        "by default: what is learned then depends on the order sessions close in, which "
        "depends on batch sizes.",
    )


class ParamsConfig(_Section):
    """Odd numeric parameter values (latency, size, code) per template and token position."""

    enabled: bool = True
    severity: SeverityName = Severity.MEDIUM
    threshold: float = Field(
        6.0, gt=0, description="Deviations (log scale) of a value from its history to fire."
    )
    max_ratio: float = Field(
        100.0,
        gt=1,
        description="A value this many times the largest seen so far is odd, however "
        "spread out the history is.",
    )
    min_values: int = Field(200, ge=1, description="History needed before scoring.")
    min_windows: int = Field(6, ge=1, description="Windows of history needed before scoring.")
    min_spread: float = Field(
        0.1, gt=0, description="Floor of the log-scale spread (a ~10% change is one unit)."
    )
    max_rows_per_batch: int = Field(
        50_000, ge=1, description="Above this many lines a micro-batch is stride-sampled."
    )


class DetectorsConfig(_Section):
    new_pattern: NewPatternConfig = NewPatternConfig()
    frequency: FrequencyConfig = FrequencyConfig()
    silence: SilenceConfig = SilenceConfig()
    error_burst: ErrorBurstConfig = ErrorBurstConfig()
    multivariate: MultivariateConfig = MultivariateConfig()
    sessions: SessionsConfig = SessionsConfig()
    params: ParamsConfig = ParamsConfig()


class SyslogSourceConfig(_Section):
    """Syslog receiver (RFC 5424 and RFC 3164; UDP, and TCP with octet-counting or newlines)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    udp_port: int | None = Field(5514, ge=0, le=65535, description="None disables UDP.")
    tcp_port: int | None = Field(5514, ge=0, le=65535, description="None disables TCP.")
    stream: str | None = Field(
        None, description="Stream for all messages; default: the syslog app-name/tag."
    )


class TailSourceConfig(_Section):
    """Follow files (rotation-aware), remembering positions across restarts."""

    paths: list[str] = Field(default_factory=list, description="Files or glob patterns.")
    stream: str = "files"
    poll_seconds: float = Field(0.5, gt=0)
    read_from: Literal["beginning", "end"] = Field(
        "beginning", description="Where to start in files found at the first start (no state)."
    )


class LtsPullSourceConfig(_Section):
    """Poll a real Huawei Cloud LTS stream through its query API (AK/SK signed)."""

    enabled: bool = False
    endpoint: str = Field("", description="e.g. https://lts.ap-southeast-1.myhuaweicloud.com")
    project_id: str = ""
    log_group_id: str = ""
    log_stream_id: str = ""
    access_key: str = ""
    secret_key: SecretStr = Field(SecretStr(""), description="Never logged.")
    stream: str | None = Field(None, description="logradar stream name; default the stream id.")
    poll_seconds: float = Field(5.0, gt=0)
    limit: int = Field(1000, ge=1, le=5000, description="Lines per query page (LTS allows 5000).")
    delay_seconds: float = Field(
        10.0, ge=0, description="Query up to this long before now: LTS indexes with a delay."
    )
    overlap_seconds: float = Field(
        30.0,
        ge=0,
        description="Re-query this much before the last window for late lines; lines already "
        "ingested are recognized by line_num and skipped.",
    )
    backfill_seconds: float = Field(
        0.0, ge=0, description="At the very first start, also fetch this much history."
    )
    timeout_seconds: float = Field(30.0, gt=0)


class LokiSourceConfig(_Section):
    """Loki push receiver (``POST /loki/api/v1/push``): which label names the stream."""

    stream_labels: list[str] = Field(
        default_factory=lambda: ["service_name", "job", "app"],
        description="Labels tried in order; the first present names the logradar stream "
        "(invalid characters become '_').",
    )
    default_stream: str = Field("loki", description="Stream when none of those labels is set.")


class SourcesConfig(_Section):
    """Receivers that are not plain HTTP routes (HTTP receivers are always on)."""

    syslog: SyslogSourceConfig = SyslogSourceConfig()
    tail: TailSourceConfig = TailSourceConfig()
    lts_pull: LtsPullSourceConfig = LtsPullSourceConfig()
    loki: LokiSourceConfig = LokiSourceConfig()


#: What a token may do: ``ingest`` (the receivers) and ``read`` (the UI, the read API,
#: ``/metrics`` and feedback: marking anomalies expected, muting).
TOKEN_SCOPES = ("ingest", "read")
TokenScope = Literal["ingest", "read"]


class TokenConfig(_Section):
    """One API token: who it belongs to, which streams it may write and what it may do."""

    token: SecretStr = Field(description="The secret; never logged.")
    tenant: str = Field("default", description="Name shown in logs and metrics.")
    streams: list[str] = Field(
        default_factory=lambda: ["*"], description="Glob patterns of writable streams."
    )
    scopes: list[TokenScope] = Field(
        default_factory=lambda: ["ingest"],
        description="ingest (receivers) and/or read (UI, read API, /metrics, feedback).",
    )

    @field_validator("scopes", mode="before")
    @classmethod
    def _known_scopes(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            for scope in value:
                if scope not in TOKEN_SCOPES:
                    raise ValueError(
                        f"unknown scope {scope!r}: use {' and/or '.join(TOKEN_SCOPES)}"
                    )
            if not value:
                raise ValueError(f"give at least one scope: {' and/or '.join(TOKEN_SCOPES)}")
        return value


class AuthConfig(_Section):
    """Tokens for the receivers, the UI, the read API and ``/metrics``.

    ``enabled`` unset means: on whenever the server listens beyond loopback. Clients send the
    token as ``Authorization: Bearer T``, ``Authorization: ApiKey T``, the password of
    ``Authorization: Basic`` (what a browser asks for), or LTS's ``X-Auth-Token: T``.
    ``/healthz`` stays open.
    """

    enabled: bool | None = Field(
        None, description="Unset: on when server.host is not a loopback address."
    )
    tokens: list[TokenConfig] = Field(
        default_factory=list,
        description="[[auth.tokens]] entries: token, tenant, streams, scopes "
        '(default ["ingest"]; "read" for the UI, read API, /metrics and feedback).',
    )


class BackpressureConfig(_Section):
    """When receivers refuse new data instead of growing without bound."""

    max_lag_lines: int = Field(
        5_000_000, gt=0, description="Answer 429 when the engine or archive lags this much."
    )
    min_free_disk_bytes: int = Field(
        512 * 1024**2, ge=0, description="Answer 503 when the data dir's disk has less free."
    )
    retry_after_seconds: int = Field(2, ge=1, description="Retry-After sent with 429/503.")


class StoreConfig(_Section):
    """Results database."""

    url: str | None = Field(
        None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db; "
        "default sqlite:///<data_dir>/logradar.db.",
    )


class AlertsConfig(_Section):
    """What becomes an alert and where it is delivered."""

    min_severity: SeverityName = Field(
        Severity.MEDIUM, description="Anomalies at or above this become alerts."
    )
    cooldown_seconds: float = Field(
        300.0, ge=0, description="Suppress repeats of the same alert key for this long."
    )
    webhooks: list[AnyHttpUrl] = Field(
        default_factory=list, description="Generic JSON webhook URLs."
    )
    console: bool = Field(True, description="Log every alert to the console.")
    max_attempts: int = Field(12, ge=1, description="Delivery attempts before giving up.")
    backoff_seconds: float = Field(1.0, gt=0, description="First retry delay; doubles.")
    backoff_max_seconds: float = Field(300.0, gt=0)
    timeout_seconds: float = Field(10.0, gt=0)


class FeedbackConfig(_Section):
    """Operator feedback: anomalies marked expected, mutes, and automatic baselining."""

    visibility_days: float = Field(
        21.0,
        gt=0,
        description="Open anomalies detected longer ago than this are baselined: treated as "
        "expected from then on (as CloudWatch Logs does).",
    )
    baseline_check_seconds: float = Field(
        60.0, gt=0, description="How often the engine looks for anomalies to baseline."
    )
    magnitude_factor: float | None = Field(
        2.0,
        ge=1,
        description="A later anomaly like an expected one (same detector, kind, stream and "
        "template) is expected only if it deviates at most this many times as much "
        "(log-ratio of observed to expected); None: whatever its size.",
    )


class Settings(BaseSettings):
    """The whole configuration of one logradar process."""

    model_config = SettingsConfigDict(
        env_prefix="LOGRADAR_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    data_dir: Path = Field(Path("logradar-data"), description="Where all state lives.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    server: ServerConfig = ServerConfig()
    tank: TankConfig = TankConfig()
    archive: ArchiveConfig = ArchiveConfig()
    engine: EngineConfig = EngineConfig()
    parser: ParserConfig = ParserConfig()
    sources: SourcesConfig = SourcesConfig()
    auth: AuthConfig = AuthConfig()
    backpressure: BackpressureConfig = BackpressureConfig()
    detectors: DetectorsConfig = DetectorsConfig()
    store: StoreConfig = StoreConfig()
    alerts: AlertsConfig = AlertsConfig()
    feedback: FeedbackConfig = FeedbackConfig()

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, v: Path) -> Path:
        return v.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)

    @model_validator(mode="after")
    def _auth_beyond_loopback(self) -> Settings:
        if self.auth_enabled and not self.auth.tokens:
            raise ValueError(
                f"server.host {self.server.host!r} is reachable beyond this machine, so "
                "receivers and the UI require tokens: add [[auth.tokens]] entries (scopes "
                '"ingest" to send logs, "read" for the UI, API and /metrics), or set '
                "auth.enabled = false to let anyone who can reach it send and read"
            )
        return self

    @property
    def auth_enabled(self) -> bool:
        if self.auth.enabled is not None:
            return self.auth.enabled
        return self.server.host not in LOOPBACK_HOSTS

    # Derived locations -------------------------------------------------------------------
    @property
    def tank_path(self) -> Path:
        return self.data_dir / "tank.db"

    @property
    def archive_url(self) -> str:
        return self.archive.url or str(self.data_dir / "archive")

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{self.data_dir / 'logradar.db'}"

    @property
    def state_dir(self) -> Path:
        return self.data_dir / "state"


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _env_overrides(settings_cls: type[Settings]) -> dict[str, Any]:
    """Parse ``LOGRADAR_*`` variables the way pydantic-settings does, as a plain dict."""

    class _EnvOnly(settings_cls):  # type: ignore[misc,valid-type]
        model_config = SettingsConfigDict(**{**settings_cls.model_config, "extra": "allow"})

    from pydantic_settings import EnvSettingsSource

    return EnvSettingsSource(_EnvOnly)()


def format_validation_error(err: ValidationError, origin: str) -> str:
    lines = [f"invalid configuration ({origin}):"]
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"])
        got = e.get("input")
        shown = "" if isinstance(got, dict) or not where else f" (got {got!r})"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown setting"
        lines.append(f"  {where}: {msg}{shown}" if where else f"  {msg}")
    return "\n".join(lines)


def load_config(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Load settings from an optional TOML file, the environment, then ``overrides``.

    ``overrides`` take dotted keys as nested dicts, e.g. ``server={"port": 9000}``; ``None``
    values are ignored so CLI options that were not given do not mask other sources.
    """
    data: dict[str, Any] = {}
    origin = "defaults"
    if path is not None:
        path = Path(path)
        origin = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    try:
        data = _deep_merge(data, _env_overrides(Settings))
        data = _deep_merge(data, _drop_none(overrides))
        return Settings(**data)
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, origin + " + environment")) from None


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            v = _drop_none(v)
            if v:
                out[k] = v
        elif v is not None:
            out[k] = v
    return out
