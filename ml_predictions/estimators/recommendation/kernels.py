"""Sparse and dense numerical kernels of the recommender: pure numpy/scipy, no model state.

Every products x products object is a scipy.sparse matrix; the only dense arrays are chunks of
`rows x n_products` scores. Row-wise top-k and pruning sort one uint64 key per entry ("row << 32 |
inverted float32 bits") instead of a two-key lexsort or a per-row Python loop.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp


def binary_matrix(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def bm25_weight(matrix: sp.csr_matrix, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """BM25 weighting of an items x documents matrix (documents = orders or customers).

    Same formula as implicit's `bm25_weight`: a document (basket) with many items counts less (idf), and
    an item bought very often is damped by the length normalization, so co-occurrence with the
    best-sellers stops dominating every neighbour list.
    """
    coo = matrix.tocoo()
    n_items = matrix.shape[0]
    idf = np.log(n_items / (1.0 + np.bincount(coo.col, minlength=matrix.shape[1]))).astype(np.float32)
    idf = np.maximum(idf, 0.0)
    row_sums = np.asarray(matrix.sum(axis=1)).ravel()
    avg = row_sums.mean() if len(row_sums) and row_sums.mean() > 0 else 1.0
    length_norm = (1.0 - b) + b * row_sums / avg
    data = coo.data * (k1 + 1.0) / (k1 * length_norm[coo.row] + coo.data) * idf[coo.col]
    return sp.csr_matrix((data.astype(np.float32), (coo.row, coo.col)), shape=matrix.shape)


def prune_rows(matrix: sp.csr_matrix, keep: int, *, chunk_cells: int = 4_000_000) -> sp.csr_matrix:
    """Keep the `keep` largest entries of each row (bounded artifact and request cost).

    Only rows longer than `keep` are touched. Each long row's keep-th largest value is found with
    np.partition (linear, float32) on blocks of rows padded to the same length, rows grouped by length
    so the padding stays small; a full sort of one key per entry was a third of a fit on 9M entries.
    Entries strictly above the threshold are kept, and ties at the threshold are taken in column order
    until the row has exactly `keep` entries (deterministic).
    """
    matrix = matrix.tocsr()
    counts = np.diff(matrix.indptr)
    long_rows = np.flatnonzero(counts > keep)
    if not len(long_rows):
        return matrix
    n_rows = matrix.shape[0]
    in_long = np.zeros(n_rows, bool)
    in_long[long_rows] = True
    rows = np.repeat(np.arange(n_rows, dtype=np.int32 if n_rows < 2**31 else np.int64), counts)
    pos = np.flatnonzero(in_long[rows])
    r = rows[pos]
    vals = np.asarray(matrix.data[pos], dtype=np.float32)
    thr = np.zeros(n_rows, np.float32)
    thr[long_rows] = _kth_largest_per_row(matrix, long_rows, counts, keep, chunk_cells)
    t = thr[r]
    strict = vals > t
    need = keep - np.bincount(r[strict], minlength=n_rows)
    tie_pos = np.flatnonzero(vals == t)
    tie_rows = r[tie_pos]
    tie_rank = np.arange(len(tie_pos)) - np.searchsorted(tie_rows, tie_rows, side="left")
    keep_long = strict
    keep_long[tie_pos[tie_rank < need[tie_rows]]] = True
    keep_mask = ~in_long[rows]
    keep_mask[pos] = keep_long
    return sp.csr_matrix((matrix.data[keep_mask], matrix.indices[keep_mask], np.concatenate(
        [[0], np.cumsum(np.minimum(counts, keep))])), shape=matrix.shape)


def _kth_largest_per_row(matrix: sp.csr_matrix, long_rows: np.ndarray, counts: np.ndarray, keep: int,
                         chunk_cells: int) -> np.ndarray:
    """The keep-th largest stored value (float32) of each of `long_rows`, in their order."""
    perm = np.argsort(counts[long_rows], kind="stable")
    by_len = long_rows[perm]
    lengths = counts[by_len]
    out = np.empty(len(by_len), np.float32)
    start = 0
    while start < len(by_len):
        # rows sorted by length: the block [start, end) is padded to its last row's length
        cells = (np.arange(1, len(by_len) - start + 1)) * lengths[start:]
        end = start + max(1, int(np.searchsorted(cells, chunk_cells, side="right")))
        block = by_len[start:end]
        lens = lengths[start:end]
        width = int(lens[-1])
        total = int(lens.sum())
        row_id = np.repeat(np.arange(len(block), dtype=np.int32), lens)
        offs = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
        pad = np.full((len(block), width), -np.inf, np.float32)
        pad[row_id, offs] = matrix.data[np.repeat(matrix.indptr[block], lens) + offs]
        out[start:end] = np.partition(pad, width - keep, axis=1)[:, width - keep]
        start = end
    result = np.empty(len(long_rows), np.float32)
    result[perm] = out
    return result


def drop_diagonal(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """The same matrix without its diagonal and explicit zeros, built straight from the CSR arrays.

    Run on the 10-20M entries of every co-occurrence product: the rows are int32 and the new row
    lengths come from the few dropped entries, not from a count of every kept one.
    """
    n = matrix.shape[0]
    counts = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(n, dtype=np.int32 if n < 2**31 else np.int64), counts)
    keep = (matrix.indices != rows) & (matrix.data != 0)
    lengths = counts - np.bincount(rows[np.flatnonzero(~keep)], minlength=n)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    return sp.csr_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)


# sparse_top_k: stored entries per group of the threshold pass
SPARSE_TOP_K_GROUP = 8


def _descending_keys(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """uint64 keys "row << 32 | inverted float32 bits": ascending keys = rows in order, values descending."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    sortable = np.where(bits >> np.uint32(31), ~bits, bits | np.uint32(0x80000000))
    return (rows.astype(np.uint64) << np.uint64(32)) | (~sortable).astype(np.uint64)


def _rank_in_rows(sorted_rows: np.ndarray, n_rows: int) -> np.ndarray:
    """Position of each entry inside its row, for entries already sorted by row."""
    per_row = np.bincount(sorted_rows, minlength=n_rows)
    return np.arange(len(sorted_rows)) - np.repeat(np.cumsum(per_row) - per_row, per_row)


def sparse_top_k(matrix: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-k of a sparse matrix with positive entries, as dense (rows x k) arrays padded with -1.

    The customer lists rank a few hundred entries per row to keep ten, and sorting every entry was the
    largest cost of the tuning grids. So, as in `top_k_dense`: the maximum of each group of
    SPARSE_TOP_K_GROUP consecutive stored entries of a row is a real entry of it, hence the k-th largest
    group maximum bounds the row's k-th largest value from below; only the entries at or above it (at
    most k groups' worth, plus ties) are sorted. One stable argsort of "row << 32 | inverted float32
    bits" keys then orders each row by decreasing score, equal scores in stored order.
    """
    matrix = matrix.tocsr()
    n_rows = matrix.shape[0]
    counts = np.diff(matrix.indptr).astype(np.int64)
    idx = np.full((n_rows, k), -1, np.int32)
    val = np.zeros((n_rows, k), np.float32)
    if matrix.nnz == 0 or k <= 0:
        return idx, val
    data = np.ascontiguousarray(matrix.data, dtype=np.float32)
    indices = matrix.indices
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), counts)
    g = SPARSE_TOP_K_GROUP
    groups = -(-counts // g)
    if (groups > k).any():
        g_rows = np.repeat(np.arange(n_rows, dtype=np.int64), groups)
        starts = matrix.indptr[:-1].astype(np.int64)[g_rows] + _rank_in_rows(g_rows, n_rows) * g
        heads = np.maximum.reduceat(data, starts)
        order = np.argsort(_descending_keys(g_rows, heads), kind="stable")
        at_k = order[_rank_in_rows(g_rows[order], n_rows) == k - 1]  # the k-th largest head of each row
        bound = np.full(n_rows, -np.inf, np.float32)
        bound[g_rows[at_k]] = heads[at_k]
        cand = np.flatnonzero(data >= bound[rows])
        rows, data, indices = rows[cand], data[cand], indices[cand]
    order = np.argsort(_descending_keys(rows, data), kind="stable")
    rank = _rank_in_rows(rows[order], n_rows)
    take = rank < k
    sel = order[take]
    idx[rows[sel], rank[take]] = indices[sel]
    val[rows[sel], rank[take]] = data[sel]
    return idx, val


def left_out(shown: list[float] | np.ndarray, excluded: np.ndarray, top_n: int) -> int:
    """How many of the `excluded` scores would rank within the first `top_n` of the unfiltered list.

    `shown` is the filtered list (descending). An excluded score's unfiltered rank is the number of
    excluded scores above it plus the shown scores at or above it (ties go to the shown product).
    """
    shown = np.asarray(shown, dtype=np.float64)
    excluded = np.sort(np.asarray(excluded, dtype=np.float64))[::-1]
    excluded = excluded[excluded > 0][:top_n]
    if not len(excluded):
        return 0
    ranks = np.arange(len(excluded)) + np.searchsorted(-shown, -excluded, side="right")
    return int((ranks < top_n).sum())


def epoch_seconds(values: pd.Series) -> np.ndarray:
    """Seconds since the epoch, vectorized (tz-aware .to_numpy() would build 1M Timestamp objects)."""
    ts = pd.to_datetime(values, utc=True)
    return (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64)


def map_ids(values: pd.Series, index: dict[str, int]) -> np.ndarray:
    """Map ids to positions (-1 = unknown), converting only the distinct values (1M lines, ~10k ids)."""
    codes, uniques = pd.factorize(values)
    mapped = np.array([index.get(str(u), -1) for u in uniques], dtype=np.int64)
    out = np.full(len(codes), -1, np.int64)
    ok = codes >= 0
    out[ok] = mapped[codes[ok]]
    return out


# top_k_dense: columns per block of the threshold pass, and the narrowest matrix it is used on (below
# it the exact k-th largest score of each row, one np.partition, is the threshold)
TOP_K_BLOCK = 32
TOP_K_BLOCKED_MIN_COLS = 2048


def top_k_dense(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-k of a dense chunk; positions with a score <= 0 come back as index -1.

    An argpartition of every 10k-wide row was the largest single cost of a training (the tuning grid
    and the precomputed lists rank ~100M cells each). Instead: the maximum of each block of
    TOP_K_BLOCK columns is a real score of the row, so the k-th largest block maximum is a lower bound
    of the row's k-th largest score; only the few cells at or above it (at most k blocks' worth) are
    then ranked. Ties are ordered by column, so the result is deterministic and exact.
    """
    n_rows, n_cols = scores.shape
    k_eff = min(k, n_cols)
    if k_eff <= 0:
        return np.full((n_rows, k), -1, np.int32), np.zeros((n_rows, k), np.float32)
    n_blocks = n_cols // TOP_K_BLOCK
    # float32 throughout: a threshold rounded from float64 could exclude the very score it came from
    scores = np.ascontiguousarray(scores, dtype=np.float32)
    if n_rows == 0:
        return np.full((0, k), -1, np.int32), np.zeros((0, k), np.float32)
    if n_cols < TOP_K_BLOCKED_MIN_COLS or n_blocks <= k_eff:
        # narrow: the exact k-th largest score of each row is the threshold
        threshold = np.partition(scores, n_cols - k_eff, axis=1)[:, n_cols - k_eff].astype(np.float32)
    else:
        # block b = columns b, b + n_blocks, b + 2 n_blocks, ...: a strided max is one pass over the rows
        heads = scores[:, :n_blocks * TOP_K_BLOCK].reshape(n_rows, TOP_K_BLOCK, n_blocks).max(axis=1)
        threshold = np.partition(heads, n_blocks - k_eff, axis=1)[:, n_blocks - k_eff].astype(np.float32)
    # only positive scores are listed: the smallest positive float32 bounds the threshold from below
    np.maximum(threshold, np.float32(np.finfo(np.float32).smallest_subnormal), out=threshold)
    flat = np.flatnonzero(scores >= threshold[:, None])  # row-major: rows, then columns, ascending
    rows, cols = np.divmod(flat, n_cols)
    vals = np.ascontiguousarray(scores.ravel()[flat], dtype=np.float32)
    return _rank_candidates(rows, cols, vals, n_rows, k)


def _rank_candidates(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int,
                     k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of (row, col, positive value) candidates given row by row in column order: one stable
    argsort of "row << 32 | inverted float32 bits" keys, so equal scores keep their column order."""
    idx = np.full((n_rows, k), -1, np.int32)
    val = np.zeros((n_rows, k), np.float32)
    if not len(rows):
        return idx, val
    bits = vals.view(np.uint32)  # positive floats: the bit pattern orders like the value
    order = np.argsort((rows.astype(np.uint64) << np.uint64(32)) | (~bits).astype(np.uint64), kind="stable")
    counts = np.bincount(rows, minlength=n_rows)
    rank = np.arange(len(order)) - np.repeat(np.cumsum(counts) - counts, counts)
    take = rank < k
    sel = order[take]
    idx[rows[sel], rank[take]] = cols[sel]
    val[rows[sel], rank[take]] = vals[sel]
    return idx, val


def contains(matrix: sp.spmatrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Whether each (row, col) pair is a stored positive entry of `matrix`, as a plain bool array.

    Fancy indexing a scipy matrix (`matrix[rows, cols] > 0`) returns an np.matrix for most inputs but a
    *sparse* matrix for empty ones (every recommendation missing, e.g. a catalogue all out of stock), on
    which `> 0` cannot become a bool array. Sorted int64 keys and one searchsorted have one behaviour
    for every shape and never build a dense block.
    """
    rows = np.asarray(rows, dtype=np.int64).ravel()
    cols = np.asarray(cols, dtype=np.int64).ravel()
    if not len(rows) or matrix.nnz == 0:
        return np.zeros(len(rows), bool)
    coo = matrix.tocoo()
    positive = coo.data > 0
    n_cols = np.int64(matrix.shape[1])
    stored = np.unique(coo.row[positive].astype(np.int64) * n_cols + coo.col[positive].astype(np.int64))
    keys = rows * n_cols + cols
    pos = np.minimum(np.searchsorted(stored, keys), max(len(stored) - 1, 0))
    return (stored[pos] == keys) if len(stored) else np.zeros(len(rows), bool)


def sparse_row_top_k(matrix: sp.csr_matrix, rows: np.ndarray, k: int, exclude: np.ndarray | None, *,
                     with_excluded: bool) -> tuple[list, list]:
    """Top-k of `rows` of a sparse products x products matrix, each row scaled by its maximum over every
    product (as the dense scoring does), self and `exclude` dropped; with `with_excluded`, the top-k
    among the excluded products too. Ranking the sparse rows directly needs no dense block."""
    sub = matrix[rows].tocsr()
    sub.sum_duplicates()
    counts = np.diff(sub.indptr)
    top = np.zeros(len(rows), np.float32)
    nz = counts > 0
    if nz.any():
        top[nz] = np.maximum.reduceat(sub.data, sub.indptr[:-1][nz])
    r = np.repeat(np.arange(len(rows)), counts)
    data = (sub.data / np.where(top > 0, top, 1)[r]).astype(np.float32)
    data[sub.indices == rows[r]] = 0.0  # self (the fitted matrix has no diagonal; a safeguard)
    data[top[r] <= 0] = 0.0
    left: list = []
    if exclude is not None:
        gone = exclude[sub.indices]
        if with_excluded:
            dropped = sp.csr_matrix((np.where(gone, data, 0.0).astype(np.float32), sub.indices.copy(),
                                     sub.indptr.copy()), shape=sub.shape)
            dropped.eliminate_zeros()
            left = [sparse_top_k(dropped, k)]
        data[gone] = 0.0
    scored = sp.csr_matrix((data, sub.indices, sub.indptr), shape=sub.shape)
    scored.eliminate_zeros()
    return [sparse_top_k(scored, k)], left
