"""Reading knowledge_base/policy.yml, the editors' file of store numbers, into a StorePolicy.

The file is the knowledge base's (its articles quote the same numbers); the typed policy and
its validation stay in the pure domain (`bot.domain.store_policy`), which reads no files.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.domain.store_policy import PolicyFileError, StorePolicy


def load_store_policy(path: Path) -> StorePolicy:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PolicyFileError(f"cannot read {path}: {error}") from error
    if not isinstance(raw, dict):
        raise PolicyFileError(f"{path} must be a mapping")
    return StorePolicy.from_mapping(raw)
