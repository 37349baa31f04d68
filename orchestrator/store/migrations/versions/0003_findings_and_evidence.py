"""Action items name the check that failed (host, check, expected, found); gate decisions keep
the evidence they signed and how the approver was authenticated.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_DECISION_COLUMNS = (
    sa.Column("evidence", sa.String(64), nullable=False, server_default=""),
    sa.Column("method", sa.String(50), nullable=False, server_default=""),
    sa.Column("proof", sa.Text(), nullable=False, server_default=""),
)
_ITEM_COLUMNS = (
    sa.Column("host", sa.String(200), nullable=True),
    sa.Column("check", sa.String(300), nullable=True),
    sa.Column("expected", sa.Text(), nullable=True),
    sa.Column("found", sa.Text(), nullable=True),
)


def upgrade() -> None:
    with op.batch_alter_table("gate_decisions") as table:
        for column in _DECISION_COLUMNS:
            table.add_column(column)
    with op.batch_alter_table("action_items") as table:
        for column in _ITEM_COLUMNS:
            table.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("action_items") as table:
        for column in _ITEM_COLUMNS:
            table.drop_column(column.name)
    with op.batch_alter_table("gate_decisions") as table:
        for column in _DECISION_COLUMNS:
            table.drop_column(column.name)
