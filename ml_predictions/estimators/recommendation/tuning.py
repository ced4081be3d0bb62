"""Tuning on a validation split carved from the training period, then the untouched holdout.

Greedy and cheap: one fit, then normalizations, hybrid weights, the customer blend and the buy-again
blend are varied on it through the estimator's public methods (set_params, rebuild_cooccurrence,
score_blocks, blend, score_top_k, customer_top_k, repeat_scores, buy_again_parts,
buy_again_top_k).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ml_predictions.estimators.recommendation.constants import (
    CUSTOMER_NEIGHBOURS,
    EVALUATION_QUERIES,
    NORMALIZATIONS,
    TUNING_QUERIES,
)
from ml_predictions.estimators.recommendation.evaluation import (
    BasketQueries,
    basket_queries,
    customer_targets,
    encode_lines,
    evaluate_model,
    ranking_metrics,
    time_split,
)
from ml_predictions.estimators.recommendation.kernels import top_k_dense
from ml_predictions.estimators.recommendation.recommender import ProductRecommender


def _recall_on(model: ProductRecommender, q: BasketQueries, method: str, k: int) -> float:
    if not len(q):
        return 0.0
    uniq, inv = np.unique(q.seeds, return_inverse=True)
    exclude = ~model.available_ if model.exclude_unavailable else None
    idx, _ = model.score_top_k(uniq, method, k, exclude=exclude)
    return ranking_metrics(idx[inv], q.targets, len(model.product_ids_), k)["recall_at_10"]


def tune(train_lines: pd.DataFrame, products: pd.DataFrame, params: dict[str, Any], *,
         validation_fraction: float = 0.1, tune_normalization: bool = True, tune_weights: bool = True,
         tune_buy_again: bool = True, max_queries: int | None = TUNING_QUERIES, k: int = 10) -> dict[str, Any]:
    """Pick normalization, then hybrid weights, by recall@k on the last orders of the *training* period.

    Greedy (normalization first with bought-together alone, then a small weight grid) so the tuning
    costs a handful of top-k passes over at most `max_queries` seed products, not a full grid of fits.
    """
    fit_lines, valid_lines, _ = time_split(train_lines, validation_fraction)
    chosen = dict(params)
    trace: dict[str, Any] = {}
    # one fit; normalizations and weights are then varied on it (precompute=False: only the validation
    # seeds are scored)
    # (without its normalized co-occurrence when the normalization is tuned: it is rebuilt below)
    m = ProductRecommender(**chosen).fit(fit_lines, products, precompute=False, cooccurrence=not tune_normalization)
    q = basket_queries(valid_lines, m.product_index_, len(m.product_ids_), max_basket_size=m.max_basket_size,
                       max_queries=max_queries, random_state=params.get("random_state"))
    if tune_normalization:
        scores = {}
        seeds = np.unique(q.seeds)
        for norm in NORMALIZATIONS:  # only the validation seeds' rows are built for the comparison
            m.rebuild_cooccurrence(norm, rows=seeds, prune=False)
            scores[norm] = _recall_on(m, q, "bought_together", k)
        chosen["normalization"] = max(NORMALIZATIONS, key=lambda x: (scores[x], -NORMALIZATIONS.index(x)))
        trace["normalization_recall"] = scores
        m.rebuild_cooccurrence(chosen["normalization"])  # every row: the customer lists need them all
    if tune_weights:
        grid = {}
        # the two score blocks of the validation seeds, built once; each grid point only re-blends them
        uniq, inv = np.unique(q.seeds, return_inverse=True)
        blocks = m.score_blocks(uniq, ("bought_together", "similar"))
        bt, ct = blocks["bought_together"], blocks["similar"]
        cold = bt.max(axis=1, initial=0.0) <= 0 if len(uniq) else np.zeros(0, bool)
        exclude = ~m.available_ if m.exclude_unavailable else None
        hy_buffer, scratch = np.empty(bt.shape, np.float32), np.empty(bt.shape, np.float32)
        for wc in (0.0, 0.05, 0.2, 0.5):
            for wp in (0.0, 0.05, 0.2, 0.5):
                m.set_params(bought_together_weight=1.0, content_weight=wc, popularity_weight=wp)
                recall = 0.0
                if len(q):
                    hy = m.blend(bt, cold, ct, out=hy_buffer, scratch=scratch)
                    hy[np.arange(len(uniq)), uniq] = 0.0
                    if exclude is not None:
                        hy[:, exclude] = 0.0
                    idx, _ = top_k_dense(hy, k)
                    recall = ranking_metrics(idx[inv], q.targets, len(m.product_ids_), k)["recall_at_10"]
                grid[f"content={wc},popularity={wp}"] = (recall, wc, wp)
        del blocks, bt, ct, hy_buffer, scratch
        best = max(grid.values(), key=lambda t: (t[0], -t[1] - t[2]))
        chosen.update(bought_together_weight=1.0, content_weight=best[1], popularity_weight=best[2])
        trace["weights_recall"] = {key: v[0] for key, v in grid.items()}
        m.set_params(bought_together_weight=1.0, content_weight=best[1], popularity_weight=best[2])
        # per customer: which neighbour lists expand the history, and how much popularity is blended in
        # (on the generator the history carries almost no signal beyond bundles, so the tuning is free
        # to end at "popularity" itself: the largest weight)
        c_grid = {}
        c_targets = customer_targets(m, valid_lines, max_queries=max_queries, random_state=params.get("random_state"))
        for nb in CUSTOMER_NEIGHBOURS if c_targets is not None else ():
            m.set_params(customer_neighbours=nb)
            parts = m.customer_parts(c_targets[2], k)  # one history x neighbours product per list
            for wcp in (0.001, 0.1, 0.3, 1.0, 3.0, 10.0):
                m.set_params(customer_popularity_weight=wcp)
                figures = ranking_metrics(m.customer_top_k_from_parts(parts, k)[0], c_targets[1],
                                          len(m.product_ids_), k)
                if figures["queries"] == 0:
                    break
                c_grid[(nb, wcp)] = figures["recall_at_10"]
            del parts
        if c_grid:
            best_c = max(c_grid, key=lambda key: (c_grid[key], -CUSTOMER_NEIGHBOURS.index(key[0]), -key[1]))
            chosen["customer_neighbours"], chosen["customer_popularity_weight"] = best_c
            trace["customer_popularity_recall"] = {f"{nb},{w}": r for (nb, w), r in c_grid.items()}
            m.set_params(customer_neighbours=best_c[0], customer_popularity_weight=best_c[1])
    if tune_buy_again:
        best_b, b_trace = _tune_buy_again(m, valid_lines, k=k, max_queries=max_queries,
                                          random_state=params.get("random_state"))
        if best_b is not None:
            chosen.update(best_b)
            trace["buy_again_recall"] = b_trace
    return {"params": chosen, "trace": trace, "catalogue": m.catalogue_part()}


# Greedy grids of the buy-again list. Own-history weights run from "mostly what similar customers went
# on to buy" (0.1) to "the customer's own list, the rest only breaking its ties and filling it" (0.999);
# half-lives from "last month counts" to "every order alike".
BUY_AGAIN_WEIGHTS = (0.1, 0.2, 0.33, 0.5, 0.67, 0.9, 0.999)
BUY_AGAIN_HALF_LIVES = (30.0, 90.0, 365.0, 1000.0)
BUY_AGAIN_POPULARITY_WEIGHTS = (0.0, 0.1, 0.3, 1.0, 3.0)
# neighbour sources tried: customers' tastes, or the item lists (which win where histories are short)
BUY_AGAIN_TUNED_NEIGHBOURS = ("history", "hybrid")


def _tune_buy_again(m: ProductRecommender, valid_lines: pd.DataFrame, *, k: int, max_queries: int | None,
                    random_state: int | None) -> tuple[dict[str, Any] | None, dict[str, float]]:
    """The buy-again blend, by recall@k on the validation orders (every product the customer bought
    there), NDCG@k breaking ties: neighbour source x own-history weight, then the repeat half-life,
    then the popularity share (greedy, 22 list evaluations instead of a 280-point grid, and only 5
    neighbour products: one per source and half-life tried). Remaining ties go to the longer memory,
    the larger own-history weight and the smaller popularity share: the simpler list."""
    targets = customer_targets(m, valid_lines, max_queries=max_queries, random_state=random_state, new_only=False)
    if targets is None:
        return None, {}
    cust, T, Hc = targets
    n = len(m.product_ids_)
    trace: dict[str, float] = {}
    # the neighbour product of the repeat rows, once per (neighbour source, half-life): the weights
    # below only re-blend it (buy_again_top_k), with the same lists as evaluate_buy_again's
    parts: dict[tuple[str, float], Any] = {}

    def parts_for(nb: str, h: float) -> Any:
        if (nb, h) not in parts:
            m.set_params(buy_again_neighbours=nb)
            parts[(nb, h)] = m.buy_again_parts(Hc, m.repeat_scores(h, rows=cust), k)
        return parts[(nb, h)]

    def score(part: Any, label: dict[str, Any], **weights: Any) -> tuple[float, float]:
        m.set_params(**weights)
        f = ranking_metrics(m.buy_again_top_k(part, k)[0], T, n, k)
        trace[",".join(f"{key}={value}" for key, value in label.items())] = f["recall_at_10"]
        return f["recall_at_10"], f["ndcg_at_10"]

    first = {(nb, w): score(parts_for(nb, 365.0), {"buy_again_neighbours": nb, "buy_again_weight": w},
                            buy_again_weight=w)
             for nb in BUY_AGAIN_TUNED_NEIGHBOURS for w in BUY_AGAIN_WEIGHTS}
    nb, w = max(first, key=lambda key: (first[key], -BUY_AGAIN_TUNED_NEIGHBOURS.index(key[0]), key[1]))
    m.set_params(buy_again_neighbours=nb, buy_again_weight=w)
    parts = {(nb, 365.0): parts[(nb, 365.0)]}
    trace["repeat_half_life_days=365.0"] = first[(nb, w)][0]  # the first stage's half-life
    lives = {h: first[(nb, w)] if h == 365.0 else score(parts_for(nb, h), {"repeat_half_life_days": h})
             for h in BUY_AGAIN_HALF_LIVES}
    h = max(lives, key=lambda key: (lives[key], key))
    best_parts = parts_for(nb, h)
    parts.clear()
    pops = {wp: score(best_parts, {"buy_again_popularity_weight": wp}, buy_again_popularity_weight=wp)
            for wp in BUY_AGAIN_POPULARITY_WEIGHTS}
    wp = max(pops, key=lambda key: (pops[key], -key))
    best = {"buy_again_neighbours": nb, "buy_again_weight": w, "repeat_half_life_days": h,
            "buy_again_popularity_weight": wp}
    m.set_params(**best)
    return best, trace


def tune_and_evaluate(order_lines: pd.DataFrame, products: pd.DataFrame, params: dict[str, Any], *,
                      test_fraction: float = 0.1, tune_normalization: bool = True, tune_weights: bool = True,
                      max_queries: int | None = EVALUATION_QUERIES) -> dict[str, Any]:
    """Time-based holdout: tune on the training period, then report every method on the held-out orders.

    At most `max_queries` baskets and customers of the holdout are evaluated (a sample seeded by
    params["random_state"]; None = every one), and at most min(TUNING_QUERIES, max_queries) on the
    validation split.
    Returns the chosen parameters and the offline figures; the caller then fits the final model on all
    orders with those parameters.
    """
    order_lines = encode_lines(order_lines)
    train_lines, test_lines, cutoff = time_split(order_lines, test_fraction)
    tuned = tune(train_lines, products, params, validation_fraction=test_fraction,
                 tune_normalization=tune_normalization, tune_weights=tune_weights,
                 max_queries=TUNING_QUERIES if max_queries is None else min(TUNING_QUERIES, max_queries))
    # with its lists: the item figures and the customer lists of the evaluation share one scoring pass
    model = ProductRecommender(**tuned["params"]).fit(train_lines, products, precompute=True,
                                                      content_from=tuned.pop("catalogue"))
    figures = evaluate_model(model, test_lines, max_queries=max_queries, random_state=params.get("random_state"))
    hybrid = figures["item"]["hybrid"]["recall_at_10"]
    popular = figures["item"]["popularity"]["recall_at_10"]
    return {
        "catalogue": model.catalogue_part(),  # the final fit's content_from
        "params": tuned["params"],
        "tuning": tuned["trace"],
        "evaluation": {
            "protocol": f"time-based holdout: last {test_fraction:.0%} of orders; basket completion (one product of each "
                        "held-out basket shown, the rest to find), per-customer discovery (products new to "
                        "the customer in the holdout) and buy again (every product a returning customer "
                        "bought in the holdout, beside the customer's own 10 most-bought products)",
            "test_cutoff": cutoff.isoformat() if hasattr(cutoff, "isoformat") else str(cutoff),
            "train_orders": int(train_lines["order_id"].nunique()),
            "test_orders": int(test_lines["order_id"].nunique()),
            **figures,
            "hybrid_vs_popularity_recall": round(hybrid / popular, 3) if popular > 0 else None,
        },
    }
