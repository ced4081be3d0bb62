"""The file as text: refused early when it does not decode, every column kept as a string, and each
row's physical line number kept so an error names the line the user sees in an editor."""
from __future__ import annotations

import codecs
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from .options import ImportOptions

_BAD_LINE = re.compile(r"Skipping line (\d+): ([^\n]+)")


def _check_text(path: Path, encoding: str) -> None:
    """Refuse, naming the line, a file that does not decode or holds a NUL character: PostgreSQL cannot
    store NUL in text at all and SQLite would keep it silently, so every database gets the same clear
    error before anything is written. Read in blocks: a large export never sits in memory twice."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    line = 1
    with open(path, "rb") as fh:
        while True:
            block = fh.read(1 << 20)
            final = not block
            try:
                text = decoder.decode(block, final=final)
            except UnicodeDecodeError as exc:
                bad_line = line + exc.object[: exc.start].count(b"\n")
                raise ValueError(f"{path.name}:{bad_line}: not valid {encoding} "
                                 f"(byte {exc.object[exc.start]:#04x}); pass --encoding") from exc
            nul = text.find("\x00")
            if nul >= 0:
                raise ValueError(f"{path.name}:{line + text.count(chr(10), 0, nul)}: NUL character in the "
                                 "file; remove it (binary or truncated export?)")
            line += text.count("\n")
            if final:
                return


def _read_csv(path: Path, opts: ImportOptions) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]]]:
    """Read every column as text. Returns the frame, each row's physical line number (header = 1) and
    the lines the tokenizer rejected (wrong field count)."""
    kwargs = {"sep": r"\s+"} if opts.sep in {"whitespace", r"\s+"} else {"sep": opts.sep}
    _check_text(path, opts.encoding)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding=opts.encoding,
                            on_bad_lines="warn", skip_blank_lines=False, **kwargs)
    rejected = []
    for w in caught:
        text = str(w.message)
        for match in _BAD_LINE.finditer(text):  # the C parser's "Skipping line 4: expected 8 fields, saw 9"
            rejected.append((int(match.group(1)), f"malformed row: {match.group(2).strip()}"))
    frame.columns = [str(c).strip() for c in frame.columns]
    bad = {line for line, _ in rejected}
    candidates = np.arange(2, 2 + len(frame) + len(bad))
    lines = candidates[~np.isin(candidates, list(bad))][: len(frame)]
    blank = frame.isna().all(axis=1).to_numpy()
    return frame[~blank].reset_index(drop=True), lines[~blank], rejected
