"""The shop's planted structure (behaviours, their shares and rates, tastes, the catalogue's categories)
and the configuration and result types: the numbers tests and benchmarks reason about, in one place."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

# Latent behaviours drawn once per customer; `new` is not a behaviour but a label for whoever joined in
# the last 90 days (they keep the behaviour they were drawn with, so acquisition has no step).
LATENT = ["vip", "frequent", "occasional", "churned"]
ARCHETYPES = [*LATENT, "new"]
LATENT_SHARE = np.array([0.07, 0.19, 0.47, 0.27])
# relative orders per active year (at average intensity) and basket size multiplier per behaviour
LATENT_RATE = np.array([14.0, 7.0, 1.6, 3.0])
LATENT_BASKET = np.array([2.2, 1.2, 0.9, 1.0])
PRESENT_AT_START = 0.3  # share of customers already buying when the history starts; the rest join over it
CHURN_GAP_DAYS = 180  # churned customers stop this long (a fifth to half of the history) before the end
# persistent tastes: each customer favours one category (and less, a second one); this share of their
# lines, on average, comes from those categories instead of the shop-wide popularity
PREFERENCE_SHARE = (6.0, 2.0)  # Beta(a, b) per customer: mean 0.75
SECOND_CATEGORY = 0.3  # of the preferred lines, share from the second favourite category

# (name, price low, price high, seasonal month boost)
CATEGORIES = [
    ("Camisas", 25, 90, None),
    ("Pantalones", 35, 120, None),
    ("Vestidos", 45, 220, 7),
    ("Faldas", 30, 110, 7),
    ("Chaquetas", 70, 320, 12),
    ("Abrigos", 110, 450, 12),
    ("Zapatos", 50, 260, None),
    ("Bolsos", 40, 300, 12),
    ("Accesorios", 10, 70, 12),
    ("Joyería", 20, 400, 12),
    ("Trajes de baño", 25, 95, 7),
    ("Punto", 35, 140, 12),
]
ADJECTIVES = ["Clásico", "Elegante", "Casual", "Slim", "Oversize", "Vintage", "Premium", "Básico", "Floral",
              "Liso", "Estampado", "Urbano"]
COLOURS = ["Negro", "Blanco", "Azul", "Rojo", "Beige", "Verde", "Gris", "Rosa", "Camel", "Burdeos"]
COUNTRIES = ["ES", "MX", "AR", "CO", "CL", "PE", "US", "FR", "PT", "IT"]
CHANNELS = np.array(["web", "store", "mobile", "marketplace"])


@dataclass
class GeneratorConfig:
    customers: int = 800
    products: int = 150
    orders: int = 6000
    years: float = 2.0
    seed: int = 42
    end_date: date | None = None  # last day with orders; default today

    def validate(self) -> None:
        for name in ("customers", "products", "orders"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.products < 4:
            raise ValueError("products must be at least 4 (bundles need partners)")
        if not 0.1 <= self.years <= 20:
            raise ValueError("years must be between 0.1 and 20")


@dataclass
class SyntheticShop:
    categories: pd.DataFrame
    products: pd.DataFrame
    customers: pd.DataFrame
    orders: pd.DataFrame
    order_items: pd.DataFrame
    truth: pd.DataFrame  # customer_id, archetype, behaviour (latent), favourite and second category ids
    stats: dict = field(default_factory=dict)
