"""Baseline: the schema of stores created before migrations existed.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "templates",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        _ts("first_seen"),
        _ts("last_seen"),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "window_counts",
        sa.Column("stream", sa.Text(), nullable=False),
        _ts("window_start"),
        _ts("window_end"),
        sa.Column("template_id", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("stream", "window_start", "template_id", name="window_counts_pkey"),
    )
    op.create_index("window_counts_start_idx", "window_counts", ["window_start"])
    op.create_table(
        "anomalies",
        sa.Column("id", _Id, autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("detector", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("stream", sa.Text(), nullable=False),
        _ts("window_start"),
        _ts("window_end"),
        sa.Column("template_id", sa.BigInteger(), nullable=True),
        sa.Column("template", sa.Text(), nullable=True),
        sa.Column("session", sa.Text(), nullable=True),
        sa.Column("expected", sa.Float(), nullable=True),
        sa.Column("observed", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("severity_rank", sa.Integer(), nullable=False),
        sa.Column("examples", _Json, nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        _ts("created_at"),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint"),
    )
    op.create_index("anomalies_status_created_idx", "anomalies", ["status", "created_at"])
    op.create_index("anomalies_stream_window_end_idx", "anomalies", ["stream", "window_end"])
    op.create_index("anomalies_window_end_idx", "anomalies", ["window_end", "id"])
    op.create_table(
        "alerts",
        sa.Column("id", _Id, autoincrement=True, nullable=False),
        sa.Column("anomaly_id", _Id, nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _ts("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("delivered_at", nullable=True),
        sa.ForeignKeyConstraint(["anomaly_id"], ["anomalies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("anomaly_id", "channel", name="alerts_anomaly_channel_key"),
    )
    op.create_index("alerts_due_idx", "alerts", ["status", "next_attempt_at"])
    op.create_table(
        "feedback",
        sa.Column("id", _Id, autoincrement=True, nullable=False),
        sa.Column("anomaly_id", _Id, nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(["anomaly_id"], ["anomalies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "mutes",
        sa.Column("id", _Id, autoincrement=True, nullable=False),
        sa.Column("stream", sa.Text(), nullable=True),
        sa.Column("template_id", sa.BigInteger(), nullable=True),
        _ts("until"),
        sa.Column("reason", sa.Text(), nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("mutes_until_idx", "mutes", ["until"])


def downgrade() -> None:
    for table in ("feedback", "alerts", "mutes", "anomalies", "window_counts", "templates"):
        op.drop_table(table)
