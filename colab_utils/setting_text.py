"""How a setting is written: for people in the reports, and as a Hydra override.

A leaf module, so that the config loader and the step-down record can both use it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def show_value(value: Any) -> str:
    """A value as the reports print it: sizes as ``720x405``, lists and mappings without quotes."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int | float) for v in value):
        return f"{value[0]}x{value[1]}"
    if isinstance(value, list):
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def hydra_overrides(values: Mapping[str, Any]) -> list[str]:
    """``{"data.input_size": [640, 360]}`` -> ``["data.input_size=[640,360]"]``, in Hydra's grammar."""
    return [f"{key}={json.dumps(value, separators=(',', ':'))}" for key, value in values.items()]
