"""Thresholds from thresholds.yaml (the one place for bounds), as nested attribute access."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import yaml

PATH = Path(__file__).resolve().parent.parent / "thresholds.yaml"


def _ns(value):
    if isinstance(value, dict):
        return SimpleNamespace(**{k: _ns(v) for k, v in value.items()})
    return value


def load(path: Path = PATH) -> SimpleNamespace:
    return _ns(yaml.safe_load(path.read_text()))


LIMITS = load()
