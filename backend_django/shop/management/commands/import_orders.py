"""Import order histories from CSV (the RFM + K-means peer system's customers/orders files, line-item files, public retail sets)."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from django.db import DatabaseError

from backend_django.shop.importer import (
    SERVICE_CODES,
    ImportAborted,
    ImportOptions,
    ImportReport,
    import_orders,
    parse_mapping,
    parse_values,
)
from backend_django.shop.product_terms import import_product_terms
from ml_predictions.management.base import BatchCommand

SEPARATORS = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|", "whitespace": "whitespace"}


def _service_codes(text: str | None) -> tuple[str, ...]:
    if text is None:
        return SERVICE_CODES
    if text.strip().lower() == "none":
        return ()
    return tuple(code.strip() for code in text.split(",") if code.strip())


class Command(BatchCommand):
    help = ("Import orders from CSV into the shop in one transaction (upsert by external ids: importing the "
            "same file twice changes nothing). See docs/import.md for the rules and real-data examples.")

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("orders", nargs="?", help="Orders or order-lines file: CSV (plain, .gz, .bz2, .xz or a "
                            "one-file .zip) or an Excel workbook (.xlsx)")
        parser.add_argument("--customers", help="Customers CSV (customer_id,email,country,created_at)")
        parser.add_argument("--products", help="Products CSV of supplier terms and stock for products already in the "
                            "shop (product_id, and any of cost, price, stock, lead_time_days, lead_time_std_days, "
                            "min_order_quantity, case_pack, supplier); read after the orders")
        parser.add_argument("--map", default="", metavar="SRC=DST,…",
                            help="Rename file columns to canonical ones; 'Date+Time=ordered_at' joins two columns")
        parser.add_argument("--date-format", default=None, help="strftime format of ordered_at, e.g. '%%m/%%d/%%Y %%H:%%M' "
                            "(default: inferred from the first value)")
        parser.add_argument("--customers-date-format", default=None, help="strftime format of customers' created_at")
        parser.add_argument("--timezone", default="UTC", help="Zone of naive timestamps in the files (default UTC)")
        parser.add_argument("--sep", default="comma",
                            help="comma, semicolon, tab, pipe, whitespace (runs of spaces, e.g. CDNOW) or a character")
        parser.add_argument("--decimal", default="auto", choices=["auto", ".", ","],
                            help="Decimal mark of numbers; auto (default) reads '1,25' as 1.25 when the separator "
                                 "is not a comma (semicolon files of European spreadsheets)")
        parser.add_argument("--encoding", default="auto",
                            help="File encoding; auto (default) reads UTF-8 (with or without BOM), else Windows-1252")
        parser.add_argument("--skip-invalid", action="store_true",
                            help="Skip invalid rows (reported with line numbers) instead of aborting the import")
        parser.add_argument("--errors-file", default=None, help="Write every invalid row (file, line, error) to this CSV")
        parser.add_argument("--missing-customer", choices=["skip", "guest"], default="skip",
                            help="Rows without a customer: skip and count them (default) or attach them to one "
                                 "'guest' customer")
        parser.add_argument("--returns", choices=["net", "skip", "refund"], default="net",
                            help="Negative quantities: take them off the customer's latest earlier line of the "
                                 "product (default), skip and count them, or import them as return documents (status "
                                 "'returned')")
        parser.add_argument("--default", default="", metavar="COL=VALUE,…",
                            help="Value for a column the file lacks or leaves empty, e.g. unit_price=0")
        parser.add_argument("--exclude", default="", metavar="COL=VALUE,…",
                            help="Drop rows whose (mapped) column equals a value, e.g. product_id=NONE")
        parser.add_argument("--id-prefix", default="", help="Prefix for imported order, customer and product ids "
                            "(keeps several data sets apart in one shop)")
        parser.add_argument("--status", default="paid", help="Status of orders whose file has no status column")
        parser.add_argument("--currency", default="EUR")
        parser.add_argument("--channel", default="web", choices=["web", "store", "mobile", "marketplace"])
        parser.add_argument("--service-codes", default=None, metavar="CODE,…|none",
                            help="Product ids that are postage, fees or adjustments, skipped and counted "
                                 f"(default: {','.join(SERVICE_CODES)}); 'none' imports them as products")
        parser.add_argument("--sheet", default=None, help="Excel workbooks (.xlsx): the sheet to read (default: "
                            "every sheet with the first sheet's header, stacked)")
        parser.add_argument("--dry-run", action="store_true", help="Validate and write, then roll back")

    def handle(self, *args: Any, **opts: Any) -> None:
        if not opts["orders"] and not opts["customers"] and not opts["products"]:
            raise CommandError("Give an orders file, --customers FILE, --products FILE, or several.")
        for key in ("orders", "customers", "products"):
            if opts[key] and not Path(opts[key]).is_file():
                raise CommandError(f"{opts[key]} does not exist.")
        try:
            options = ImportOptions(
                column_map=parse_mapping(opts["map"]), date_format=opts["date_format"],
                customers_date_format=opts["customers_date_format"], timezone=opts["timezone"],
                sep=SEPARATORS.get(opts["sep"], opts["sep"]), encoding=opts["encoding"],
                on_error="skip" if opts["skip_invalid"] else "abort", missing_customer=opts["missing_customer"],
                returns=opts["returns"], defaults=parse_values(opts["default"]),
                exclude=parse_values(opts["exclude"], multi=True), id_prefix=opts["id_prefix"],
                default_status=opts["status"], default_currency=opts["currency"].upper(), channel=opts["channel"],
                service_codes=_service_codes(opts["service_codes"]), decimal=opts["decimal"],
                sheet=opts["sheet"])
            report = None
            if opts["orders"] or opts["customers"]:
                report = import_orders(opts["orders"], customers_path=opts["customers"], options=options,
                                       dry_run=opts["dry_run"], progress=self.stdout.write)
            terms = (import_product_terms(opts["products"], options=options, dry_run=opts["dry_run"])
                     if opts["products"] else None)
        except ImportAborted as exc:
            self._write_errors(exc.report, opts["errors_file"])
            raise CommandError(f"{exc.report.error_summary()}\nNothing was imported "
                               "(--skip-invalid imports the valid rows).") from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError as exc:  # the transaction was rolled back: nothing was imported
            raise CommandError(f"The database refused the import, nothing was imported: {exc}") from exc
        if report is not None:
            self._write_errors(report, opts["errors_file"])
            if report.errors:
                self.stderr.write(f"Skipped {report.error_summary()}")
            self.stdout.write(self._summary(report))
        if terms is not None:
            verb = "would update" if opts["dry_run"] else "updated"
            self.stdout.write(self.style.SUCCESS(
                f"Products file: {terms.rows:,} rows, {verb} {terms.updated:,} products ({', '.join(terms.columns)})"
                + (f"; {terms.unknown_products:,} not in the shop (skipped)" if terms.unknown_products else "")))

    def _write_errors(self, report: ImportReport, path: str | None) -> None:
        if not path or not report.errors:
            return
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "line", "error"])
            writer.writerows(report.errors)
        self.stderr.write(f"Wrote {len(report.errors)} invalid rows to {path}")

    def _summary(self, r: ImportReport) -> str:
        parts = [f"{r.lines_read:,} lines read", f"{r.lines_imported:,} imported"]
        for label, value in (("invalid", r.invalid), ("excluded", r.excluded),
                             ("skipped without customer", r.skipped_no_customer),
                             ("skipped returns", r.skipped_returns),
                             ("service lines skipped (postage, fees, adjustments)", r.skipped_service),
                             ("skipped with quantity 0", r.skipped_zero_quantity),
                             ("skipped with a negative price (adjustments)", r.skipped_negative_price), ("returns imported as return documents", r.returns_imported),
                             ("returns taken off the sales they cancel", r.returns_netted),
                             ("duplicate lines merged", r.merged_duplicates)):
            if value:
                parts.append(f"{value:,} {label}")
        tables = "; ".join(f"{t}: {c['created']:,} created, {c['updated']:,} updated"
                           + (f", {c['deleted']:,} deleted" if c.get("deleted") else "")
                           for t, c in r.written.items() if any(c.values()) or t != "order_items")
        if r.encoding == "cp1252":
            parts.append("read as Windows-1252 (not valid UTF-8; --encoding names another)")
        verb = "Dry run (rolled back)" if r.dry_run else "Imported"
        return self.style.SUCCESS(f"{verb} in {r.seconds:.1f} s: {', '.join(parts)}.\n  {tables}")
