"""One seeded pass of whole-array draws from customers to order lines (see the package docstring for
the planted structure and why it is drawn this way)."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from .config import (
    ADJECTIVES,
    ARCHETYPES,
    CATEGORIES,
    CHANNELS,
    CHURN_GAP_DAYS,
    COLOURS,
    COUNTRIES,
    LATENT,
    LATENT_BASKET,
    LATENT_RATE,
    LATENT_SHARE,
    PREFERENCE_SHARE,
    PRESENT_AT_START,
    SECOND_CATEGORY,
    GeneratorConfig,
    SyntheticShop,
)
from .draws import _daily_intensity, _emails, _name_pools, _uuids


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
