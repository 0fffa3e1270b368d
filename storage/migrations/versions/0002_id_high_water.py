"""Run and job ids are never reused: the id_high_water table, seeded with today's highest ids.

Existing rows stay as they are (no table is rebuilt). New ids come from storage.models._next_id.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("runs", "jobs")


def upgrade() -> None:
    op.create_table(
        "id_high_water",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    for table in TABLES:
        # SQLite's own sequence (sqlite_sequence) is absent for these tables; max(id) is the best we know.
        op.execute(f"INSERT INTO id_high_water (name, last_id) SELECT '{table}', coalesce(max(id), 0) FROM {table}")


def downgrade() -> None:
    op.drop_table("id_high_water")
