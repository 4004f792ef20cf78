"""Order verification attempts: failed contact checks counted per order and per source, so the
lockout holds across conversations, channels, processes and restarts
(bot/store/verification_models.py, docs/self-service.md "What counts as proof").

Written by hand, like 0001 and 0003: vocabularies are copied, not imported.

Revision ID: 0004_verification_attempts
Revises: 0003_handoff
Create Date: 2026-11-23
"""

from __future__ import annotations

revision = "0004_verification_attempts"
down_revision = "0003_handoff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Filled by the verification-limits work; the revision exists first so 0005 can chain on it.
    pass


def downgrade() -> None:
    pass
