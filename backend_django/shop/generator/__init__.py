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

from .config import GeneratorConfig, SyntheticShop
from .draws import _uuids
from .synthesis import synthesize
from .writing import clear_shop, write_shop

__all__ = ["GeneratorConfig", "SyntheticShop", "_uuids", "clear_shop", "synthesize", "write_shop"]
