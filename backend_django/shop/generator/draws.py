"""Vectorised draws the synthesis builds on: time-ordered ids, name pools, e-mail addresses and the
daily demand intensity."""
from __future__ import annotations

import binascii
import functools
import unicodedata

import numpy as np
import pandas as pd
from faker import Faker

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
    """Unique, plausible addresses: ascii local part from the name plus the row number. The names come
    from pools of a few hundred, so each is made ascii once (cached), not once per customer."""
    @functools.cache
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
