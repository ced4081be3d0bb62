"""Generate a realistic synthetic history for the boutique (the spec's generate_ml_data.py)."""
from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from tqdm import tqdm

from backend_django.shop.generator import GeneratorConfig, synthesize, write_shop
from backend_django.shop.models import Order
from ml_predictions.management.base import BatchCommand


class Command(BatchCommand):
    help = "Generate two years of realistic orders, customers, products and stock (deterministic by --seed)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--customers", type=int, default=800)
        parser.add_argument("--products", type=int, default=150)
        parser.add_argument("--orders", type=int, default=6000)
        parser.add_argument("--years", type=float, default=2.0)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--end-date", type=date.fromisoformat, default=None,
                            help="Last day with orders (YYYY-MM-DD); default today")
        parser.add_argument("--clear", action="store_true", help="Delete existing shop data first")
        parser.add_argument("--if-empty", action="store_true",
                            help="Do nothing when the shop already has orders (used by `make demo`)")
        parser.add_argument("--truth-file", default=None,
                            help="Write the planted customer archetypes and favourite categories to this CSV (for evaluation)")
        parser.add_argument("--admin-username", default=os.environ.get("ML_DEMO_USER", "admin"))
        parser.add_argument("--admin-password", default=os.environ.get("ML_DEMO_PASSWORD", "admin"))
        parser.add_argument("--demo-user", action="store_true",
                            help="Also create the staff demo user (admin/admin unless ML_DEMO_USER/ML_DEMO_PASSWORD); "
                                 "refused unless DEBUG is on (used by `make demo`)")
        parser.add_argument("--no-admin", action="store_true", help="Kept for old scripts: no user is the default")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        config = GeneratorConfig(customers=opts["customers"], products=opts["products"], orders=opts["orders"],
                                 years=opts["years"], seed=opts["seed"], end_date=opts["end_date"])
        try:
            config.validate()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        demo_user = opts["demo_user"] and not opts["no_admin"]
        if demo_user and not settings.DEBUG:
            # a known password on a production database is an open door: the demo user is a DEBUG-only thing
            raise CommandError("--demo-user creates a staff user with a known password; it is refused while DEBUG "
                               "is off. Use `manage.py createsuperuser` on a real deployment.")
        if opts["if_empty"] and not opts["clear"] and Order.objects.exists():
            self.stdout.write("The shop already has orders; keeping them (--clear replaces them).")
            if demo_user:
                self._ensure_admin(opts["admin_username"], opts["admin_password"])
            return
        if not opts["clear"] and Order.objects.exists():
            raise CommandError("The shop already has orders; pass --clear to replace them.")
        started = time.perf_counter()
        self.stdout.write("Drawing the synthetic history…")
        shop = synthesize(config)
        total = sum(len(getattr(shop, n)) for n in ("categories", "products", "customers", "orders", "order_items"))
        with tqdm(total=total, unit="rows", desc="Writing", disable=opts["no_progress"], file=self.stderr) as bar:
            write_shop(shop, clear=opts["clear"], progress=bar.update)
        if opts["truth_file"]:
            path = Path(opts["truth_file"])
            path.parent.mkdir(parents=True, exist_ok=True)
            shop.truth.to_csv(path, index=False)
        elapsed = time.perf_counter() - started
        s = shop.stats
        self.stdout.write(self.style.SUCCESS(
            f"Generated {s['orders']:,} orders with {s['order_lines']:,} lines for {s['customers']:,} customers "
            f"and {s['products']:,} products ({s['start']} … {s['end']}) in {elapsed:.1f} s."
        ))
        if demo_user:
            self._ensure_admin(opts["admin_username"], opts["admin_password"])

    def _ensure_admin(self, username: str, password: str) -> None:
        User = get_user_model()
        user, created = User.objects.get_or_create(username=username, defaults={"is_staff": True, "is_superuser": True})
        if created:
            user.set_password(password)
            user.save()
            self.stdout.write(f"Created staff user {username!r}.")
        self.stdout.write(
            "Get a token:\n"
            f"  curl -s -X POST http://127.0.0.1:8000/api/auth/token/ -H 'Content-Type: application/json' "
            f"-d '{{\"username\": \"{username}\", \"password\": \"…\"}}'"
        )
