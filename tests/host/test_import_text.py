"""import_orders refuses a file that holds NUL characters or does not decode, naming the line, before
anything is written; on SQLite (which would keep NUL) and PostgreSQL (which cannot store it) alike.
Run with DATABASE_URL=postgres://... for the PostgreSQL half."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from backend_django.shop.models import Order, OrderItem

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = "order_id,customer_id,ordered_at,product_id,product_name,category,quantity,unit_price\n"
GOOD = "A{n},K1,2025-03-0{d} 10:00:00,P1,Falda lino,Faldas,1,39.50\n"


def _file(tmp_path: Path, rows: list[bytes]) -> str:
    path = tmp_path / "orders.csv"
    path.write_bytes(HEADER.encode() + b"".join(rows))
    return str(path)


def test_nul_byte_is_refused_with_its_line(tmp_path):
    rows = [GOOD.format(n=1, d=1).encode(), GOOD.format(n=2, d=2).encode(),
            b"A3,K1,2025-03-03 10:00:00,P2,Bolso\x00piel,Bolsos,1,90\n", GOOD.format(n=4, d=4).encode()]
    with pytest.raises(CommandError, match=r"orders\.csv:4: NUL character"):
        call_command("import_orders", _file(tmp_path, rows))
    assert Order.objects.count() == 0 and OrderItem.objects.count() == 0


def test_undecodable_byte_names_its_line(tmp_path):
    rows = [GOOD.format(n=1, d=1).encode(), b"A2,K1,2025-03-02 10:00:00,P2,Pa\xf1uelo,Accesorios,1,12\n"]
    with pytest.raises(CommandError, match=r"orders\.csv:3: not valid utf-8"):
        call_command("import_orders", _file(tmp_path, rows), "--encoding", "utf-8")  # a named encoding is strict
    assert Order.objects.count() == 0
    call_command("import_orders", _file(tmp_path, rows), "--encoding", "latin-1")  # the hint works
    assert Order.objects.count() == 2


def test_default_reads_a_windows_1252_export(tmp_path, capsys):
    """Excel's "CSV" in a Western locale is Windows-1252: the default command reads it and says so."""
    rows = [GOOD.format(n=1, d=1).encode(), "A2,K1,2025-03-02 10:00:00,P2,Pañuelo £5 – rojo,Accesorios,1,12\n"
            .encode("cp1252")]
    call_command("import_orders", _file(tmp_path, rows))
    assert "read as Windows-1252" in capsys.readouterr().out
    assert OrderItem.objects.get(order__external_id="A2").product.name == "Pañuelo £5 – rojo"


def test_a_file_no_reading_decodes_is_refused_with_the_utf8_error(tmp_path):
    rows = [GOOD.format(n=1, d=1).encode(), b"A2,K1,2025-03-02 10:00:00,P2,Pa\xf1\x81uelo,Accesorios,1,12\n"]
    with pytest.raises(CommandError, match=r"orders\.csv:3: not valid utf-8 \(byte 0xf1\)"):
        call_command("import_orders", _file(tmp_path, rows))
    assert Order.objects.count() == 0


def test_line_numbers_hold_across_read_blocks(tmp_path):
    filler = GOOD.format(n=1, d=1).encode()
    n = (1 << 20) // len(filler) + 10  # past the first 1 MiB block
    rows = [filler] * n + [b"A9,K1,2025-03-05 10:00:00,P1,x\x00,Faldas,1,1\n"]
    with pytest.raises(CommandError, match=rf"orders\.csv:{n + 2}: NUL"):
        call_command("import_orders", _file(tmp_path, rows))
