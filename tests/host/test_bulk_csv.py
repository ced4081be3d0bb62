"""The fast CSV text for PostgreSQL's COPY must be byte-identical to pandas' to_csv, or step aside."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from backend_django.shop.bulk import _PG_NULL, _plain_csv


def _pandas(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, header=False, index=False, na_rep=_PG_NULL)
    return buffer.getvalue()


def test_plain_frames_render_exactly_like_to_csv():
    frame = pd.DataFrame({
        "id": pd.array(["019b76daa8007e1e", "019b76daa8017046", None, "x", ""], dtype="string"),
        "obj": np.array(["a", None, "ñandú €", " spaced ", "z"], dtype=object),
        "qty": np.array([1, -2, 0, 10**12, 7], dtype=np.int64),
        "price": [67.99, np.nan, 0.1 + 0.2, 1e20, -0.0],
        "tiny": [1e-7, 3.0, np.inf, 2.5, 123456789.123],
        "flag": [True, False, True, False, True],
    })
    text = _plain_csv(frame)
    assert text is not None
    assert text == _pandas(frame)
    assert text.splitlines()[2] == "\\N,ñandú €,0,0.30000000000000004,inf,True"


def test_fields_that_need_quoting_or_odd_dtypes_fall_back_to_pandas():
    base = {"n": [1, 2]}
    assert _plain_csv(pd.DataFrame({**base, "s": ["a,b", "c"]})) is None
    assert _plain_csv(pd.DataFrame({**base, "s": ['say "hi"', "c"]})) is None
    assert _plain_csv(pd.DataFrame({**base, "s": ["two\nlines", "c"]})) is None
    assert _plain_csv(pd.DataFrame({**base, "s": [1.5, "c"]})) is None  # mixed object column
    assert _plain_csv(pd.DataFrame({**base, "f": np.array([0.1, 0.2], dtype=np.float32)})) is None
    assert _plain_csv(pd.DataFrame({**base, "i": pd.array([1, None], dtype="Int64")})) is None
    assert _plain_csv(pd.DataFrame({**base, "t": pd.to_datetime(["2024-01-01", "2024-01-02"])})) is None
    assert _plain_csv(pd.DataFrame({"only": ["", "a"]})) is None  # to_csv quotes a lone empty field
