"""Fast synthetic boutique history with planted structure, so every ML capability has signal.

Why it is built this way:
- Everything is drawn with numpy in whole arrays (no Python loop over orders) from one seeded
  Generator, so the same seed gives the same data, ids included, and 1M order lines take seconds.
- Order dates are drawn by inverting the cumulative daily intensity (trend × weekly × yearly
  seasonality with December and July peaks) restricted to each customer's active window, which
  makes archetypes (VIP, frequent, occasional, churned, new) differ in recency, frequency and value.
- Acquisition is a continuous inflow: 30 % of customers are already buying when the history starts,
  the rest join on days drawn from the same intensity (so joins grow with the trend and follow the
  seasons), each with an order on the join day. `new` is a label, not a behaviour: whoever joined in
  the last 90 days, keeping the behaviour (VIP, frequent, occasional) they were drawn with. So the last
  quarter continues the trend; the old design (15 % of customers all joining in the last 90 days) put a
  +7 % / +25 % / +36 % revenue step into the last three months that no forecaster could see coming.
  Churned customers join early and stop at least 180 days (or a fifth of the history, and at most
  half of it) before the end.
- Customers have persistent tastes: a favourite and a second category, drawn once in proportion to
  each category's sales, and a personal share (Beta, mean 0.75) of lines drawn from them; the other
  lines follow shop-wide popularity. Without it each order was independent of its customer, so no
  per-customer recommender could beat "most popular" on generated data.
- Products come in bundles bought together, so recommendations have co-purchase signal; stock is
  set from the demand each product actually got, with planted low, overstocked and slow items.
- Rows are written with executemany (SQLite) or one COPY of pandas-rendered CSV (PostgreSQL) per
  table chunk (`bulk.insert_frame`, shared with the CSV import), bypassing model instances:
  bulk_create of a million objects would dominate the run time.
"""
from __future__ import annotations

import binascii
import contextlib
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from django.db import connection, transaction
from faker import Faker

from ml_predictions.data import mark_changed

from .bulk import insert_frame

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


# UUIDv7's time field for every generated id: a fixed instant (2026-01-01 UTC in ms) keeps a seed's data
# identical from run to run; the row number is added to it, so ids rise in insertion order.
_UUID7_EPOCH_MS = 1_767_225_600_000


def _uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Time-ordered ids (UUIDv7 layout: 48-bit millisecond prefix, version 7, random tail) as 32-hex strings.

    Why ordered: random (v4) keys land on a random page of the primary-key and foreign-key B-trees at
    every insert, which misses SQLite's page cache and makes the write grow worse than linearly;
    ids that rise with the row number append to the right edge instead.
    """
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    stamp = (_UUID7_EPOCH_MS + np.arange(n, dtype=np.uint64)).astype(">u8").view(np.uint8).reshape(n, 8)
    raw[:, :6] = stamp[:, 2:]
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x70  # version 7
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    hexed = np.frombuffer(binascii.hexlify(raw.tobytes()), dtype="S32")
    return hexed.astype("U32").astype(object)


def _name_pools(seed: int, size: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faker (Spanish locales, seeded) draws pools of names and mail domains once; customers then pick
    from the pools with numpy, so 100k customers cost no more Faker calls than 100."""
    fake = Faker(["es_ES", "es_MX"])
    fake.seed_instance(seed)
    first = np.array(sorted({fake.first_name() for _ in range(size)}), dtype=object)
    last = np.array(sorted({fake.last_name() for _ in range(size)}), dtype=object)
    domains = np.array(sorted({fake.free_email_domain() for _ in range(50)}), dtype=object)
    return first, last, domains


def _emails(first: np.ndarray, last: np.ndarray, domains: np.ndarray) -> list[str]:
    """Unique, plausible addresses: ascii local part from the name plus the row number."""
    def ascii_part(text: str) -> str:
        plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
        return "".join(ch for ch in plain if ch.isalnum())

    return [f"{ascii_part(a)}.{ascii_part(b)}{i}@{d}" for i, (a, b, d) in enumerate(zip(first, last, domains, strict=True))]


def _daily_intensity(days: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
    """Trend × weekly × yearly seasonality (December and July peaks, as in the spec) × mild noise."""
    t = np.arange(len(days), dtype=float) / 365.0
    trend = 1.0 + 0.25 * t
    weekday = days.day_of_week.to_numpy()
    weekly = np.array([0.85, 0.9, 0.95, 1.0, 1.15, 1.35, 1.1])[weekday]
    doy = days.day_of_year.to_numpy().astype(float)
    december = 0.9 * np.exp(-0.5 * ((doy - 350) / 12) ** 2) + 0.9 * np.exp(-0.5 * ((doy + 15) / 12) ** 2)
    july = 0.55 * np.exp(-0.5 * ((doy - 195) / 14) ** 2)
    noise = rng.lognormal(0.0, 0.08, len(days))
    return trend * weekly * (1.0 + december + july) * noise


def synthesize(config: GeneratorConfig) -> SyntheticShop:
    """Draw a whole shop history in memory (pure numpy/pandas, nothing written)."""
    config.validate()
    rng = np.random.default_rng(config.seed)
    end = config.end_date or date.today()
    n_days = max(int(round(config.years * 365)), 30)
    days = pd.date_range(end=pd.Timestamp(end), periods=n_days, freq="D")
    start = days[0]

    # --- categories and products ------------------------------------------------------------
    cat_ids = _uuids(rng, len(CATEGORIES))
    categories = pd.DataFrame({"id": cat_ids, "name": [c[0] for c in CATEGORIES]})
    n_p = config.products
    p_cat = rng.integers(0, len(CATEGORIES), n_p)
    lows = np.array([c[1] for c in CATEGORIES])[p_cat]
    highs = np.array([c[2] for c in CATEGORIES])[p_cat]
    price = np.round(lows + (highs - lows) * rng.beta(2, 3, n_p), 0) - 0.01
    cost = np.round(price * rng.uniform(0.35, 0.6, n_p), 2)
    popularity = rng.pareto(1.3, n_p) + 0.2
    popularity /= popularity.sum()
    adj = rng.integers(0, len(ADJECTIVES), n_p)
    col = rng.integers(0, len(COLOURS), n_p)
    cat_names = np.array([c[0] for c in CATEGORIES])
    names = [f"{cat_names[c].rstrip('s')} {ADJECTIVES[a]} {COLOURS[k]}" for c, a, k in zip(p_cat, adj, col, strict=True)]
    sku = np.array([f"SKU-{i:06d}" for i in range(n_p)], dtype=object)
    descriptions = [
        f"{ADJECTIVES[a]} {cat_names[c].lower()} en color {COLOURS[k].lower()}, colección boutique."
        for c, a, k in zip(p_cat, adj, col, strict=True)
    ]
    # bundles: groups of 2-4 products from different categories that are bought together
    perm = rng.permutation(n_p)
    bundle_of = np.full(n_p, -1)
    sizes = rng.integers(2, 5, n_p)
    pos, b = 0, 0
    bundled = int(n_p * 0.6)
    while pos + 1 < bundled:
        size = int(min(sizes[b], bundled - pos))
        if size < 2:
            break
        bundle_of[perm[pos:pos + size]] = b
        pos += size
        b += 1
    n_bundles = b

    # --- customers: a continuous inflow, then a latent behaviour per customer ----------------------
    n_c = config.customers
    intensity = _daily_intensity(days, rng)
    cdf = np.concatenate([[0.0], np.cumsum(intensity)])
    cdf /= cdf[-1]
    grid = np.linspace(0.0, 1.0, n_days + 1)

    def arrival(u: np.ndarray) -> np.ndarray:
        """Join dates (fractions of the history) that follow the shop's own intensity: acquisition
        grows with the trend and peaks with the seasons, so no month gets a burst of newcomers."""
        return np.interp(u, cdf, grid)

    arche = rng.choice(len(LATENT), n_c, p=LATENT_SHARE)
    present = rng.random(n_c) < PRESENT_AT_START
    c_start = np.where(present, 0.0, arrival(rng.random(n_c)))
    c_end = np.ones(n_c)
    # churned customers joined early enough to have bought for a while and then stopped well before
    # the end; their stops are spread over the history, so demand loses them gradually
    churned = arche == LATENT.index("churned")
    gap = min(max(CHURN_GAP_DAYS / n_days, 0.2), 0.5)  # short histories: stop in the first half
    span = rng.uniform(0.15, 0.4, n_c)
    latest = np.maximum(1.0 - gap - span, 0.0)
    c_start = np.where(churned & ~present, arrival(rng.random(n_c) * np.interp(latest, grid, cdf)), c_start)
    c_start = np.where(churned, np.minimum(c_start, latest), c_start)
    c_end = np.where(churned, np.minimum(c_start + span, 1.0 - gap), c_end)
    # whoever joined in the last 90 days is labelled `new`, whatever they will become: the inflow
    # (and the demand it brings) is the same before and after that date, only the label changes
    recent = max(1.0 - 90.0 / n_days, 0.0)
    label = np.where(~churned & (c_start >= recent), len(LATENT), arche)
    c_end = np.clip(c_end, c_start + 1e-3, 1.0)
    cust_ids = _uuids(rng, n_c)
    # tastes, drawn once: favourite categories in proportion to how much the shop sells of each
    cat_mass = np.bincount(p_cat, weights=popularity, minlength=len(CATEGORIES))
    fav1 = rng.choice(len(CATEGORIES), n_c, p=cat_mass / cat_mass.sum())
    fav2 = rng.choice(len(CATEGORIES), n_c, p=cat_mass / cat_mass.sum())
    taste = rng.beta(*PREFERENCE_SHARE, n_c)

    # --- orders: counts per customer, then dates by inverse CDF of the intensity ----------------
    # expected orders follow the intensity inside each customer's window (not just its length), so
    # the sum over customers is the shop's smooth demand curve
    lo_c = np.interp(c_start, grid, cdf)
    hi_c = np.interp(c_end, grid, cdf)
    active_years = (hi_c - lo_c) * n_days / 365.0
    weight = LATENT_RATE[arche] * np.maximum(active_years, 0.01) * rng.lognormal(0, 0.35, n_c)
    counts = rng.multinomial(config.orders - n_c if config.orders > n_c else 0, weight / weight.sum())
    counts = counts + (1 if config.orders >= n_c else 0)
    if config.orders < n_c:
        counts[rng.choice(n_c, config.orders, replace=False)] += 1
    order_cust = np.repeat(np.arange(n_c), counts)
    n_o = len(order_cust)
    lo, hi = lo_c[order_cust], hi_c[order_cust]
    u = lo + (hi - lo) * rng.random(n_o)
    # a customer who joins during the history joins with an order: their first one is on their join
    # day (a guaranteed order spread over a short window would pile up at the end of the history)
    first_of = np.concatenate([[0], np.cumsum(counts)[:-1]])[counts > 0]
    joined = c_start[order_cust[first_of]] > 0
    u[first_of[joined]] = lo[first_of[joined]]
    day_idx = np.clip(np.searchsorted(cdf, u, side="right") - 1, 0, n_days - 1)
    seconds = rng.integers(8 * 3600, 23 * 3600, n_o)
    ordered_at = (days[day_idx].to_numpy().astype("datetime64[s]") + seconds.astype("timedelta64[s]"))
    sort = np.argsort(ordered_at, kind="stable")
    order_cust, ordered_at = order_cust[sort], ordered_at[sort]
    order_ids = _uuids(rng, n_o)
    status = rng.choice(["shipped", "paid", "cancelled", "refunded"], n_o, p=[0.82, 0.14, 0.03, 0.01])
    last_days = ordered_at >= np.datetime64(pd.Timestamp(end) - pd.Timedelta(days=2))
    status = np.where(last_days & (status == "shipped"), "pending", status)
    channel = CHANNELS[rng.choice(4, n_o, p=[0.55, 0.2, 0.2, 0.05])]

    # --- order lines ------------------------------------------------------------------------------
    basket = LATENT_BASKET[arche[order_cust]]
    n_lines = 1 + rng.poisson(0.8 * basket)
    line_order = np.repeat(np.arange(n_o), n_lines)
    # each line comes from the customer's favourite categories (with probability `taste`) or from the
    # shop-wide popularity; within a category, popularity still decides. One searchsorted over the
    # products sorted by category serves both draws.
    line_cust = order_cust[line_order]
    by_cat = np.argsort(p_cat, kind="stable")
    cum_pop = np.cumsum(popularity[by_cat])
    cat_first = np.searchsorted(p_cat[by_cat], np.arange(len(CATEGORIES)))
    cat_last = np.searchsorted(p_cat[by_cat], np.arange(len(CATEGORIES)), side="right") - 1
    cat_lo = np.where(cat_first > 0, cum_pop[np.maximum(cat_first - 1, 0)], 0.0)
    cat_hi = np.where(cat_last >= cat_first, cum_pop[np.maximum(cat_last, 0)], cat_lo)
    personal = rng.random(len(line_order)) < taste[line_cust]
    fav = np.where(rng.random(len(line_order)) < SECOND_CATEGORY, fav2[line_cust], fav1[line_cust])
    r = rng.random(len(line_order))
    u = np.where(personal, cat_lo[fav] + r * (cat_hi[fav] - cat_lo[fav]), r * cum_pop[-1])
    pos = np.minimum(np.searchsorted(cum_pop, u), n_p - 1)
    pos = np.where(personal, np.clip(pos, cat_first[fav], cat_last[fav]), pos)
    line_product = by_cat[pos]
    # bundle partners: an order whose first product is in a bundle often takes its partners too
    first_line = np.concatenate([[0], np.cumsum(n_lines)[:-1]])
    first_prod = line_product[first_line]
    takes = (bundle_of[first_prod] >= 0) & (rng.random(n_o) < 0.55)
    extra_orders, extra_products = [], []
    if takes.any() and n_bundles:
        members = pd.Series(np.arange(n_p))[bundle_of >= 0].groupby(bundle_of[bundle_of >= 0]).apply(np.asarray)
        for bid, prods in members.items():  # loop over bundles (tens), not orders
            sel = np.flatnonzero(takes & (bundle_of[first_prod] == bid))
            if not len(sel):
                continue
            for p in prods:
                keep = sel[(first_prod[sel] != p) & (rng.random(len(sel)) < 0.8)]
                extra_orders.append(keep)
                extra_products.append(np.full(len(keep), p))
    if extra_orders:
        line_order = np.concatenate([line_order, *extra_orders])
        line_product = np.concatenate([line_product, *extra_products])
        o = np.argsort(line_order, kind="stable")
        line_order, line_product = line_order[o], line_product[o]
    # one line per product per order
    dedup = pd.DataFrame({"o": line_order, "p": line_product}).drop_duplicates()
    line_order, line_product = dedup["o"].to_numpy(), dedup["p"].to_numpy()
    n_l = len(line_order)
    quantity = 1 + rng.geometric(0.75, n_l) - 1
    discount = np.where(rng.random(n_l) < 0.15, rng.choice([0.8, 0.9], n_l), 1.0)
    unit_price = np.round(price[line_product] * discount, 2)
    line_ids = _uuids(rng, n_l)

    # --- stock from each product's real demand, with planted problems --------------------------
    recent_cut = np.datetime64(pd.Timestamp(end) - pd.Timedelta(days=30))
    recent_mask = ordered_at[line_order] >= recent_cut
    demand30 = np.bincount(line_product[recent_mask], weights=quantity[recent_mask], minlength=n_p)
    daily = demand30 / 30.0
    kind = rng.choice(["normal", "low", "over", "slow"], n_p, p=[0.65, 0.13, 0.12, 0.10])
    cover = np.select(
        [kind == "low", kind == "over"],
        [rng.uniform(0.0, 6.0, n_p), rng.uniform(150, 400, n_p)],
        rng.uniform(25, 70, n_p),
    )
    stock = np.ceil(daily * cover).astype(int)
    stock = np.where(kind == "over", np.maximum(stock, rng.integers(60, 200, n_p)), stock)
    stock = np.where(kind == "slow", rng.integers(25, 120, n_p), stock)
    stock = np.where((kind == "normal") & (stock < 5), rng.integers(5, 20, n_p), stock)
    lead = rng.integers(3, 22, n_p)
    active_flag = rng.random(n_p) > 0.03

    products = pd.DataFrame(
        {
            "id": _uuids(rng, n_p), "sku": sku, "name": names, "description": descriptions,
            "category_id": cat_ids[p_cat], "price": price, "cost": cost, "stock_quantity": stock,
            "lead_time_days": lead, "image_url": [f"https://cdn.example.com/products/{s.lower()}.jpg" for s in sku],
            "is_active": active_flag, "created_at": np.datetime64(start.to_datetime64(), "s"),
        }
    )
    created = days[np.floor(c_start * (n_days - 1)).astype(int)].to_numpy().astype("datetime64[s]")
    created = created - rng.integers(0, 20 * 86400, n_c).astype("timedelta64[s]")
    first_names, last_names, domains = _name_pools(config.seed)
    fn = first_names[rng.integers(0, len(first_names), n_c)]
    ln = last_names[rng.integers(0, len(last_names), n_c)]
    customers = pd.DataFrame(
        {
            "id": cust_ids,
            "external_id": None,
            "email": _emails(fn, ln, domains[rng.integers(0, len(domains), n_c)]),
            "first_name": fn, "last_name": ln,
            "country": np.array(COUNTRIES)[rng.choice(len(COUNTRIES), n_c)],
            "created_at": created,
        }
    )
    orders = pd.DataFrame(
        {"id": order_ids, "customer_id": cust_ids[order_cust], "created_at": ordered_at, "status": status,
         "channel": channel}
    )
    order_items = pd.DataFrame(
        {"id": line_ids, "order_id": order_ids[line_order], "product_id": products["id"].to_numpy()[line_product],
         "quantity": quantity, "unit_price": unit_price}
    )
    truth = pd.DataFrame({"customer_id": cust_ids, "archetype": np.array(ARCHETYPES)[label],
                          "behaviour": np.array(LATENT)[arche],
                          "favourite_category": cat_ids[fav1], "second_category": cat_ids[fav2]})
    products_truth = pd.DataFrame({"product_id": products["id"], "bundle": bundle_of, "stock_kind": kind})
    stats = {
        "categories": len(categories), "products": n_p, "customers": n_c, "orders": n_o, "order_lines": n_l,
        "start": str(days[0].date()), "end": str(days[-1].date()), "bundles": n_bundles,
    }
    shop = SyntheticShop(categories, products, customers, orders, order_items, truth, stats)
    shop.products_truth = products_truth  # type: ignore[attr-defined]
    return shop


# --- writing --------------------------------------------------------------------------------------

TABLE_COLUMNS = {
    "categories": ("shop_category", ["id", "name", "description"]),
    "products": ("shop_product", ["id", "sku", "name", "description", "category_id", "price", "cost",
                                  "stock_quantity", "lead_time_days", "image_url", "is_active", "created_at"]),
    "customers": ("shop_customer", ["id", "external_id", "email", "first_name", "last_name", "country",
                                    "created_at"]),
    "orders": ("shop_order", ["id", "external_id", "customer_id", "created_at", "status", "channel", "currency"]),
    "order_items": ("shop_orderitem", ["id", "order_id", "product_id", "quantity", "unit_price"]),
}
ID_COLUMNS = {"id", "category_id", "customer_id", "order_id", "product_id"}


def _prepare(frame: pd.DataFrame, name: str, vendor: str) -> tuple[str, list[str], pd.DataFrame]:
    table, columns = TABLE_COLUMNS[name]
    frame = frame.copy()
    if name == "categories":
        frame["description"] = ""
    if name == "orders":
        frame["external_id"] = None
        frame["currency"] = "EUR"
    for col in columns:
        # ids stay 32-hex strings: SQLite's UUIDField stores exactly that and PostgreSQL's uuid type
        # accepts it, so no per-value conversion is needed
        if col == "created_at":
            stamps = pd.to_datetime(frame[col]).dt.strftime("%Y-%m-%d %H:%M:%S")
            frame[col] = stamps + ("+00:00" if vendor == "postgresql" else "")
    return table, columns, frame[columns]


def write_shop(shop: SyntheticShop, *, clear: bool = False, progress: Callable[[int], None] | None = None,
               chunk_size: int = 100_000) -> None:
    """Insert the frames in one transaction; `progress(n_rows)` is called after each chunk."""
    vendor = connection.vendor
    with transaction.atomic(), connection.cursor() as cursor, _large_sqlite_page_cache(cursor, vendor):
        if clear:
            clear_shop()
        for name in ("categories", "products", "customers", "orders", "order_items"):
            table, columns, frame = _prepare(getattr(shop, name), name, vendor)
            insert_frame(cursor, table, columns, frame, chunk_size=chunk_size, progress=progress)
        mark_changed()  # COPY bypasses the ORM's signals: tell the plugin's caches


@contextlib.contextmanager
def _large_sqlite_page_cache(cursor, vendor: str, mib: int = 256) -> Iterator[None]:
    """SQLite's default 2 MiB page cache holds a sliver of a million-line shop's indexes, so about half
    of a bulk write was spent re-reading pages; a large cache for the bulk phase only, restored after
    (the connection may live on, e.g. in a test or a long-running command)."""
    if vendor != "sqlite":
        yield
        return
    cursor.execute("PRAGMA cache_size")
    previous = cursor.fetchone()[0]
    cursor.execute(f"PRAGMA cache_size = -{mib * 1024}")
    try:
        yield
    finally:
        cursor.execute(f"PRAGMA cache_size = {int(previous)}")


def clear_shop() -> None:
    """Delete every shop row (the plugin's own tables are left alone)."""
    with connection.cursor() as cursor:
        for table in ("shop_orderitem", "shop_order", "shop_customer", "shop_product", "shop_category"):
            cursor.execute(f"DELETE FROM {table}")
    mark_changed()

