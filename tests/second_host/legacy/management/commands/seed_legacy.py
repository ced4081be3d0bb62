"""A small, seeded history for the second host's smoke test: 120 clients, 30 articles, ~1,500 sales
over 200 days, plus a staff user and a plain user."""
from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from legacy.models import Article, Client, Sale, SaleLine


class Command(BaseCommand):
    def handle(self, *args, **options):
        rng = random.Random(3)
        users = get_user_model()
        users.objects.create_user("boss", password="boss-pw-123", is_staff=True)
        users.objects.create_user("clerk", password="clerk-pw-123")
        end = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
        start = end - timedelta(days=200)
        clients = Client.objects.bulk_create(
            Client(full_name=f"Client {i}", signed_up=start - timedelta(days=rng.randint(0, 300))) for i in range(120)
        )
        articles = Article.objects.bulk_create(
            Article(title=f"Article {i}", family=("Tools", "Garden", "Paint")[i % 3],
                    list_price=Decimal(5 + 3 * i), unit_cost=Decimal(3 + 2 * i), on_hand=rng.randint(0, 80))
            for i in range(30)
        )
        sales = Sale.objects.bulk_create(
            Sale(client=rng.choice(clients[: 20 + (i % 100)]), sold_on=start + timedelta(hours=rng.randint(0, 200 * 24)),
                 state="void" if i % 50 == 0 else "paid")
            for i in range(1500)
        )
        lines = []
        for sale in sales:
            for article in rng.sample(articles[: 10 + sale.pk % 20], rng.randint(1, 4)):
                lines.append(SaleLine(sale=sale, article=article, qty=rng.randint(1, 3), price=article.list_price))
        SaleLine.objects.bulk_create(lines)
        self.stdout.write(f"seeded {len(clients)} clients, {len(articles)} articles, {len(sales)} sales, "
                          f"{len(lines)} lines")
