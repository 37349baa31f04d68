"""Check-ins: during a long wait at a gate (a migration by the customer) the lead engineer records
who asked how it goes, when, and what they heard.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.String(100), nullable=False),
        sa.Column("gate", sa.String(50), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(50), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"], name="fk_checkins_delivery_id"),
        sa.PrimaryKeyConstraint("id", name="pk_checkins"),
    )
    op.create_index("ix_checkins_delivery_id", "checkins", ["delivery_id"])


def downgrade() -> None:
    op.drop_index("ix_checkins_delivery_id", table_name="checkins")
    op.drop_table("checkins")
