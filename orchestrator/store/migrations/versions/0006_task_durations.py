"""Tasks keep how long they took on their host, in seconds (empty for tasks recorded before).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("task_results") as table:
        table.add_column(sa.Column("duration", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("task_results") as table:
        table.drop_column("duration")
