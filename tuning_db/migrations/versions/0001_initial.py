"""The first schema: workloads, devices and trials (the walking skeleton's tables).

Databases made before migrations existed have exactly this schema and no version table;
`tune db upgrade` stamps them with this revision first.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workloads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("op", sa.String(64), nullable=False),
        sa.Column("layout", sa.String(16), nullable=False),
        sa.Column("dtype", sa.String(16), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_workloads_key", "workloads", ["key"], unique=True)
    op.create_index("ix_workloads_op", "workloads", ["op"])
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dialect", sa.String(16), nullable=False),
        sa.Column("platform", sa.String(256), nullable=False),
        sa.Column("description", sa.String(256), nullable=False),
        sa.Column("driver", sa.String(128), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
    )
    op.create_index("ix_devices_name", "devices", ["name"], unique=True)
    op.create_table(
        "trials",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("workload_id", sa.Integer, sa.ForeignKey("workloads.id"), nullable=False),
        sa.Column("device_id", sa.Integer, sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("schedule", sa.Text, nullable=False),
        sa.Column("schedule_key", sa.String(64), nullable=False),
        sa.Column("generator_version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("latency_s", sa.Float, nullable=True),
        sa.Column("samples", sa.Text, nullable=False),
        sa.Column("protocol", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("compile_s", sa.Float, nullable=False),
        sa.Column("max_rel_error", sa.Float, nullable=True),
        sa.Column("job", sa.String(128), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("confirmed", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_trials_best", "trials", ["workload_id", "device_id", "status", "latency_s"])
    op.create_index("ix_trials_schedule", "trials", ["workload_id", "device_id", "schedule_key"])


def downgrade() -> None:
    op.drop_table("trials")
    op.drop_table("devices")
    op.drop_table("workloads")
