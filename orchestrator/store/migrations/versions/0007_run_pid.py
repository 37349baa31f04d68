"""Runs keep the process that carries them out, so a killed plan run (which holds no lock) can be
found and settled (empty for runs recorded before).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


# Plain ALTER TABLE, not a batch: SQLite adds and drops a column in place (3.35 and later), where a
# batch would copy ``runs`` and drop the original under the foreign keys of its phases and steps.


def upgrade() -> None:
    op.add_column("runs", sa.Column("pid", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "pid")
