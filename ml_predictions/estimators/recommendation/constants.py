"""Names shared by the recommender's modules (methods, normalizations) and its fixed shares."""
from __future__ import annotations

METHODS = ("hybrid", "bought_together", "similar")
NORMALIZATIONS = ("conditional", "cosine", "lift", "bm25")
# Which precomputed neighbour lists a customer's history is expanded with (tuned offline).
CUSTOMER_NEIGHBOURS = ("hybrid", "bought_together")
# Which neighbours the buy-again list adds to the customer's own repeats: "history" = item-item cosine
# over customers' whole histories (tastes), or one of the discovery lists (tuned offline).
BUY_AGAIN_NEIGHBOURS = ("history", *CUSTOMER_NEIGHBOURS)
# In the hybrid, a product without co-purchases is scored by content, with this small popularity share.
COLD_START_POPULARITY_SHARE = 0.05
# Buy again: popular products enter at this fraction of their popularity, far below any product the
# customer's history scores (a decayed repeat of 0.5 ** 20 is still ~1e-6), so they only fill short lists.
BUY_AGAIN_FILL = 1e-9
# Offline evaluation: at most this many held-out baskets and customers per query set (a seeded sample),
# and at most TUNING_QUERIES of them on the tuning's validation split. On the ~1M-line benchmark shop a
# 5,000-query recall@10 was within ~0.011 of every query's (~3 %), at a quarter of the 20,000-query cost
# (benchmarks/results/recommendations.md).
EVALUATION_QUERIES = 5000
TUNING_QUERIES = 3000
