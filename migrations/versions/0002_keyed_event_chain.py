"""keyed event chain: each event's chain version and the request state it covers

Events written before stay version 1 (sha256 chain) and still verify; new events are version 2
(HMAC with the deployment secret, covering the request's state and data after the event).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 12:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_version', sa.Integer(), nullable=False,
                                      server_default='1'))
        batch_op.add_column(sa.Column('covers', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('covers')
        batch_op.drop_column('chain_version')
