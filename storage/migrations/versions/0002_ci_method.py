"""Record how each metric's interval was made: ``metric_summary.ci_method``.

Nullable, so rows committed before it stay as they are (NULL); readers show
a NULL next to a CI as ``bootstrap``, the only method then
(:data:`storage.records.LEGACY_CI_METHOD`). Adding a nullable column is a
plain ``ALTER TABLE … ADD COLUMN`` on SQLite and Postgres: no table rewrite.

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


def upgrade() -> None:
    """Add the nullable ``ci_method`` column to ``metric_summary``."""
    op.add_column("metric_summary", sa.Column("ci_method", sa.String(), nullable=True))


def downgrade() -> None:
    """Drop ``ci_method`` again (SQLite 3.35+ and Postgres drop a column in place)."""
    op.drop_column("metric_summary", "ci_method")
