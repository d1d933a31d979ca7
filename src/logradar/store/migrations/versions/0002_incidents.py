"""incidents, notifications and anomalies.incident_id

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("group_key", sa.Text(), nullable=False),
        sa.Column("stream", sa.Text(), nullable=False),
        sa.Column("detector", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("template_id", sa.BigInteger(), nullable=True),
        sa.Column("template", sa.Text(), nullable=True),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("severity_rank", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), server_default="firing", nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("anomaly_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("explanation", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "examples", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("flaps", sa.Integer(), server_default="0", nullable=False),
        sa.Column("suppressed", sa.Text(), nullable=True),
        sa.Column("notifications", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index("incidents_group_key_idx", ["group_key", "status"], unique=False)
        batch_op.create_index(
            "incidents_status_last_seen_idx", ["status", "last_seen"], unique=False
        )
        batch_op.create_index(
            "incidents_stream_last_seen_idx", ["stream", "last_seen"], unique=False
        )

    op.create_table(
        "notifications",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("receiver", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "receiver", "seq", name="notifications_incident_key"),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("notifications_due_idx", ["status", "next_attempt_at"], unique=False)

    op.add_column("anomalies", sa.Column("incident_id", sa.BigInteger(), nullable=True))
    op.create_index("anomalies_incident_idx", "anomalies", ["incident_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("anomalies", schema=None) as batch_op:
        batch_op.drop_index("anomalies_incident_idx")
        batch_op.drop_column("incident_id")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("notifications_due_idx")

    op.drop_table("notifications")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("incidents_stream_last_seen_idx")
        batch_op.drop_index("incidents_status_last_seen_idx")
        batch_op.drop_index("incidents_group_key_idx")

    op.drop_table("incidents")
