"""Jobs and cost models; trials get a unique id and a job reference; devices get their
architecture family and compiler version; the best index includes the generator version.

Revision ID: 0002
Revises: 0001
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_jobs_name", "jobs", ["name"], unique=True)
    op.create_table(
        "cost_models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("blob", sa.LargeBinary, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cost_models_name", "cost_models", ["name"])

    with op.batch_alter_table("devices") as b:
        b.add_column(sa.Column("arch", sa.String(32), nullable=False, server_default=""))
        b.add_column(sa.Column("compiler", sa.String(128), nullable=False, server_default=""))
        b.create_index("ix_devices_arch", ["arch"])
    devices = sa.table("devices", sa.column("id"), sa.column("target"), sa.column("arch"))
    for dev_id, target in bind.execute(sa.select(devices.c.id, devices.c.target)).all():
        arch = str(json.loads(target).get("arch", ""))
        bind.execute(devices.update().where(devices.c.id == dev_id).values(arch=arch))

    # jobs named by the old string column become rows
    now = sa.func.current_timestamp()
    bind.execute(
        sa.text(
            "INSERT INTO jobs (name, spec, status, created_at, updated_at) "
            "SELECT DISTINCT job, '{}', '', :now, :now FROM trials WHERE job <> ''"
        ).bindparams(now=bind.execute(sa.select(now)).scalar())
    )
    with op.batch_alter_table("trials") as b:
        b.add_column(sa.Column("uid", sa.String(32), nullable=True))
        b.add_column(sa.Column("job_id", sa.Integer, nullable=True))
    bind.execute(
        sa.text(
            "UPDATE trials SET job_id = (SELECT jobs.id FROM jobs WHERE jobs.name = trials.job)"
        )
    )
    if bind.dialect.name == "postgresql":
        uid = "replace(gen_random_uuid()::text, '-', '')"
    else:
        uid = "lower(hex(randomblob(16)))"
    bind.execute(sa.text(f"UPDATE trials SET uid = {uid}"))
    with op.batch_alter_table("trials") as b:
        b.alter_column("uid", existing_type=sa.String(32), nullable=False)
        b.create_unique_constraint("uq_trials_uid", ["uid"])
        b.create_foreign_key("fk_trials_job_id", "jobs", ["job_id"], ["id"])
        b.create_index("ix_trials_job_id", ["job_id"])
        b.drop_column("job")
        b.drop_index("ix_trials_best")
        b.create_index(
            "ix_trials_best",
            ["workload_id", "device_id", "generator_version", "status", "latency_s", "id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("trials") as b:
        b.add_column(sa.Column("job", sa.String(128), nullable=False, server_default=""))
    op.get_bind().execute(
        sa.text(
            "UPDATE trials SET job = COALESCE("
            "(SELECT jobs.name FROM jobs WHERE jobs.id = trials.job_id), '')"
        )
    )
    with op.batch_alter_table("trials") as b:
        b.drop_index("ix_trials_best")
        b.create_index("ix_trials_best", ["workload_id", "device_id", "status", "latency_s"])
        b.drop_index("ix_trials_job_id")
        b.drop_constraint("fk_trials_job_id", type_="foreignkey")
        b.drop_constraint("uq_trials_uid", type_="unique")
        b.drop_column("job_id")
        b.drop_column("uid")
    with op.batch_alter_table("devices") as b:
        b.drop_index("ix_devices_arch")
        b.drop_column("compiler")
        b.drop_column("arch")
    op.drop_table("cost_models")
    op.drop_table("jobs")
