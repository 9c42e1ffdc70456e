"""Job state for fleet jobs: priority, the driver that runs the job and its heartbeat, when the
job started and ended, and why it failed.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as b:
        b.add_column(sa.Column("priority", sa.Integer, nullable=False, server_default="0"))
        b.add_column(sa.Column("driver", sa.String(256), nullable=False, server_default=""))
        b.add_column(sa.Column("error", sa.Text, nullable=False, server_default=""))
        b.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True))
        b.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as b:
        for name in ("heartbeat_at", "finished_at", "started_at", "error", "driver", "priority"):
            b.drop_column(name)
