"""Shared delivery state: per delivery, sealed generated secrets and pinned host keys.

One row per (delivery, kind, name); the primary key is what makes "the first value wins" hold
across controllers. ``value`` is what the vault gives the store (Fernet tokens): never plain.

Revision ID: 0002
Revises: 0001
Create Date: 2025-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_state",
        sa.Column("delivery_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id", "kind", "name", name="pk_delivery_state"),
    )


def downgrade() -> None:
    op.drop_table("delivery_state")
