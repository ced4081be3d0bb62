"""Import a products CSV of supplier terms and stock onto the shop's existing products.

Why a separate file: order histories (the real retail exports) carry no supplier data, while a
planner keeps MOQ, case packs, lead times and suppliers in a product sheet. One row per product,
matched by `product_id` (the SKU the order import used, with the same `--id-prefix`); columns other
than product_id are optional and an empty cell means "unknown" (the reorder policy then does not apply
that term), never 0. Columns: cost, price, stock, lead_time_days, lead_time_std_days,
min_order_quantity, case_pack, supplier. A bad cell aborts the whole file naming `file:line` and the
column; products the shop does not have are counted, not created (their history comes from orders).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import transaction

from ml_predictions.data import mark_changed

from .import_text import read_table
from .importer import ImportOptions
from .models import Product

# file column -> (model field, kind): "money" >= 0 with 2 decimals, "whole" >= 0 integer, "float" >= 0
TERMS = {
    "cost": ("cost", "money"),
    "price": ("price", "money"),
    "stock": ("stock_quantity", "whole"),
    "lead_time_days": ("lead_time_days", "whole"),
    "lead_time_std_days": ("lead_time_std_days", "float"),
    "min_order_quantity": ("min_order_quantity", "whole"),
    "case_pack": ("case_pack", "whole"),
    "supplier": ("supplier", "text"),
}


@dataclass
class TermsReport:
    rows: int = 0
    updated: int = 0
    unknown_products: int = 0
    columns: list[str] = field(default_factory=list)


def _parse(frame: pd.DataFrame, lines: np.ndarray, name: str, column: str, kind: str) -> pd.Series:
    raw = frame[column]
    if kind == "text":
        return raw.str.strip().str.slice(0, 200).where(raw.notna(), None)
    values = pd.to_numeric(raw.str.strip(), errors="coerce")
    bad = raw.notna() & (values.isna() | (values < 0) | ~np.isfinite(values.fillna(0)))
    if kind == "whole":
        bad |= values.notna() & (values != values.round())
    if kind == "money":
        bad |= values.notna() & (values >= 1e10)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        what = "a whole number >= 0" if kind == "whole" else "a number >= 0"
        raise ValueError(f"{name}:{lines[i]}: {column} must be {what}; got {raw.iloc[i]!r} "
                         f"({int(bad.sum())} bad cells in this column)")
    return values


def import_product_terms(path: str | Path, *, options: ImportOptions | None = None,
                         dry_run: bool = False) -> TermsReport:
    """Update the products named in the file, in one transaction (see the module docstring)."""
    path = Path(path)
    opts = options or ImportOptions()
    frame, lines, rejected = read_table(path, opts)
    if rejected:
        line, why = rejected[0]
        raise ValueError(f"{path.name}:{line}: {why}")
    frame = frame.rename(columns={k: v for k, v in opts.column_map.items() if k in frame.columns})
    if "product_id" not in frame.columns:
        raise ValueError(f"{path.name}: no product_id column (found {list(frame.columns)}); use --map SRC=product_id")
    present = [c for c in TERMS if c in frame.columns]
    if not present:
        raise ValueError(f"{path.name}: none of the columns {list(TERMS)}")
    sku = opts.id_prefix + frame["product_id"].str.strip()
    missing = sku.isna() | (frame["product_id"].str.strip() == "")
    if missing.any():
        raise ValueError(f"{path.name}:{lines[int(np.flatnonzero(missing.to_numpy())[0])]}: empty product_id")
    dup = sku.duplicated(keep=False)
    if dup.any():
        raise ValueError(f"{path.name}:{lines[int(np.flatnonzero(dup.to_numpy())[0])]}: product_id "
                         f"{frame['product_id'].iloc[int(np.flatnonzero(dup.to_numpy())[0])]!r} appears twice")
    parsed = {c: _parse(frame, lines, path.name, c, TERMS[c][1]) for c in present}
    report = TermsReport(rows=len(frame), columns=present)
    products = {p.sku: p for p in Product.objects.filter(sku__in=list(sku))}
    report.unknown_products = int((~sku.isin(list(products))).sum())
    changed = []
    for i, key in enumerate(sku):
        product = products.get(key)
        if product is None:
            continue
        for column in present:
            model_field, kind = TERMS[column]
            value = parsed[column].iloc[i]
            if kind != "text" and pd.isna(value):
                value = None
            elif kind == "money":
                value = Decimal(str(round(float(value), 2)))
            elif kind == "whole":
                value = int(value)
            elif kind == "float":
                value = float(value)
            if column == "price" and value is None:
                continue  # price is required on the shop's products: an empty cell keeps it
            setattr(product, model_field, value)
        changed.append(product)
    fields = [TERMS[c][0] for c in present]
    with transaction.atomic():
        Product.objects.bulk_update(changed, fields, batch_size=500)
        report.updated = len(changed)
        mark_changed()  # bulk_update sends no signals
        if dry_run:
            transaction.set_rollback(True)
    return report
