"""From the file's headers to the canonical columns, and the cleaning of text cells, done on distinct
values only: a 500k-line export has far fewer distinct ids, names and prices than lines."""
from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from .options import ALIASES


def _header_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _apply_mapping(frame: pd.DataFrame, mapping: dict[str, str], known: set[str]) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    missing = []
    for src, dst in mapping.items():
        parts = [p.strip() for p in src.split("+")]
        absent = [p for p in parts if p not in frame.columns]
        if absent:
            missing.extend(absent)
            continue
        if dst not in known:
            raise ValueError(f"--map target {dst!r} is not one of {sorted(known)}")
        value = frame[parts[0]]
        for p in parts[1:]:
            value = value.str.cat(frame[p], sep=" ")
        out[dst] = value
    if missing:
        raise ValueError(f"--map names columns the file does not have: {missing}; it has {list(frame.columns)}")
    mapped_sources = {p.strip() for src in mapping for p in src.split("+")}
    rest = [col for col in frame.columns if col not in mapped_sources]
    # Exact canonical names first, so a file with both `order_id` and `Invoice` keeps `order_id`.
    for col in rest:
        if col in known and col not in out.columns:
            out[col] = frame[col]
    for col in rest:
        key = _header_key(col)
        name = ALIASES.get(key) or next((k for k in known if _header_key(k) == key), None)
        if name in known and name not in out.columns:
            out[name] = frame[col]
    return out


def _on_uniques(series: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply a (slow, per-string) transformation to the distinct values only: a 500k-line file has a
    few thousand products, prices and quantities and far fewer distinct ids than lines."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    converted = fn(pd.Series(uniques, dtype=object)).to_numpy(dtype=object)
    out = np.empty(len(codes), dtype=object)
    valid = codes >= 0
    out[valid] = converted[codes[valid]]
    out[~valid] = None
    return pd.Series(out, index=series.index, dtype=object)


def _stripped(series: pd.Series, case: str | None = None, width: int | None = None) -> pd.Series:
    def clean(s: pd.Series) -> pd.Series:
        s = s.str.strip()
        s = s.str.lower() if case == "lower" else s.str.upper() if case == "upper" else s
        return s.str.slice(0, width) if width else s
    return _on_uniques(series, clean)


def _clean_ids(series: pd.Series, prefix: str = "") -> pd.Series:
    """Trim, and turn '17850.0' (an integer id that went through a float column) back into '17850'."""
    def clean(s: pd.Series) -> pd.Series:
        s = s.str.strip().str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
        s = s.where(s != "", None)
        return (prefix + s) if prefix else s
    return _on_uniques(series, clean)
