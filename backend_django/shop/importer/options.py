"""What an import accepts and reports: the canonical columns, the header aliases and status words other
exports use, the options (validated once, before any file is read) and the report the command prints."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

IMPORTED_TOTAL_SKU = "IMPORTED-ORDER-TOTAL"
IMPORTED_TOTAL_NAME = "Imported order total"
IMPORTED_CATEGORY = "Imported"
GUEST_CUSTOMER = "guest"

LINE_COLUMNS = {"order_id", "customer_id", "ordered_at", "product_id", "product_name", "category", "quantity",
                "unit_price", "line_total", "status", "currency", "email", "country", "stock"}
CUSTOMER_COLUMNS = {"customer_id", "email", "country", "created_at"}
# Header names other exports use, accepted without --map. Keys are compared after `_header_key`
# (lower case, only letters and digits), so "Customer ID", "CustomerID" and "customer_id" are one name.
# They cover the RFM + K-means peer system's orders.csv and the common online-retail exports (the UCI
# Online Retail files: InvoiceNo/Invoice, StockCode, Description, Quantity, InvoiceDate, UnitPrice/Price,
# CustomerID/Customer ID, Country), whose users should not need a --map for a standard file.
ALIASES = {
    "orderdate": "ordered_at", "orderamount": "line_total",
    "invoiceno": "order_id", "invoice": "order_id", "invoiceid": "order_id", "invoicenumber": "order_id",
    "orderno": "order_id", "ordernumber": "order_id",
    "invoicedate": "ordered_at", "orderdatetime": "ordered_at", "orderedat": "ordered_at",
    "stockcode": "product_id", "sku": "product_id", "itemid": "product_id",
    "description": "product_name", "productname": "product_name", "itemname": "product_name",
    "unitprice": "unit_price", "price": "unit_price", "linetotal": "line_total",
    "sales": "line_total", "amount": "line_total", "lineamount": "line_total", "revenue": "line_total",
    "customerid": "customer_id", "customer": "customer_id", "clientid": "customer_id",
    "qty": "quantity", "productid": "product_id", "orderid": "order_id",
}



STATUS_MAP = {
    "completed": "shipped", "complete": "shipped", "delivered": "shipped", "shipped": "shipped", "closed": "shipped",
    "fulfilled": "shipped", "paid": "paid", "processing": "paid", "pending": "pending", "new": "pending",
    "open": "pending", "cancelled": "cancelled", "canceled": "cancelled", "void": "cancelled",
    "refunded": "refunded", "returned": "refunded",
}
MAX_REPORTED_ERRORS = 20


class ImportAborted(Exception):
    """The file has bad rows and on_error is "abort"; nothing was written."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report
        super().__init__(report.error_summary())


@dataclass
class ImportOptions:
    column_map: dict[str, str] = field(default_factory=dict)  # source column (or "A+B") -> canonical name
    date_format: str | None = None  # strftime format of ordered_at; None = inferred from the first value
    customers_date_format: str | None = None
    timezone: str = "UTC"  # zone of naive timestamps in the file
    sep: str = ","  # "whitespace" for fixed-width files such as CDNOW
    encoding: str = "utf-8-sig"
    on_error: str = "abort"  # "abort" | "skip"
    missing_customer: str = "skip"  # "skip" | "guest"
    returns: str = "skip"  # "skip" | "refund"
    defaults: dict[str, str] = field(default_factory=dict)  # constant for an absent/empty column
    exclude: dict[str, list[str]] = field(default_factory=dict)  # drop rows whose column has one of the values
    id_prefix: str = ""
    default_status: str = "paid"
    default_currency: str = "EUR"
    channel: str = "web"

    def validate(self) -> None:
        choices = {"on_error": {"abort", "skip"}, "missing_customer": {"skip", "guest"},
                   "returns": {"skip", "refund"}, "default_status": set(STATUS_MAP.values()),
                   "channel": {"web", "store", "mobile", "marketplace"}}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {sorted(allowed)}, not {getattr(self, name)!r}")
        if len(self.default_currency) != 3:
            raise ValueError("default_currency must be a 3-letter code")


@dataclass
class ImportReport:
    lines_read: int = 0
    lines_imported: int = 0
    excluded: int = 0
    skipped_no_customer: int = 0
    skipped_returns: int = 0
    returns_imported: int = 0
    merged_duplicates: int = 0
    invalid: int = 0
    errors: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, message)
    customers_read: int = 0
    written: dict[str, dict[str, int]] = field(default_factory=dict)  # table -> created/updated/deleted
    seconds: float = 0.0
    dry_run: bool = False

    def error_summary(self, limit: int = MAX_REPORTED_ERRORS) -> str:
        head = [f"{Path(f).name}:{line}: {msg}" for f, line, msg in self.errors[:limit]]
        more = len(self.errors) - limit
        if more > 0:
            head.append(f"… and {more} more")
        return f"{self.invalid} invalid row(s):\n  " + "\n  ".join(head)

    def changed(self) -> int:
        return sum(sum(v.values()) for v in self.written.values())


def parse_mapping(text: str | None) -> dict[str, str]:
    """'InvoiceNo=order_id,StockCode=product_id' -> dict; 'Date+Time=ordered_at' joins two columns."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"mapping item {part!r} is not SRC=DST")
        src, dst = (s.strip() for s in part.split("=", 1))
        if not src or not dst:
            raise ValueError(f"mapping item {part!r} is not SRC=DST")
        mapping[src] = dst
    return mapping


def parse_values(text: str | None, *, multi: bool = False) -> dict:
    """'col=value,col=value' -> dict (with multi=True each column collects a list of values)."""
    out: dict = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"{part!r} is not COLUMN=VALUE")
        key, value = (s.strip() for s in part.split("=", 1))
        if multi:
            out.setdefault(key, []).append(value)
        else:
            out[key] = value
    return out
