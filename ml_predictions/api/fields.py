"""Request fields shared by every endpoint."""
from __future__ import annotations

from datetime import date
from typing import Any

from rest_framework import serializers

# Every date a caller sends stays inside this range: the code adds windows of up to a century (apply's
# window_days) and horizons of a year to it, and pandas timestamps end in 2262, so a date like
# 0001-01-01 or 9999-12-31 used to overflow into a 500 instead of a 400 naming the field.
MIN_REQUEST_DATE = date(1970, 1, 1)
MAX_REQUEST_DATE = date(2199, 12, 31)


class BoundedDateField(serializers.DateField):
    """A DateField that refuses days outside MIN_REQUEST_DATE .. MAX_REQUEST_DATE."""

    def to_internal_value(self, value: Any) -> date:
        day = super().to_internal_value(value)
        if not MIN_REQUEST_DATE <= day <= MAX_REQUEST_DATE:
            raise serializers.ValidationError(
                f"must be between {MIN_REQUEST_DATE.isoformat()} and {MAX_REQUEST_DATE.isoformat()}.")
        return day


class StrictInputSerializer(serializers.Serializer):
    """A request body whose unknown keys are refused by name (a typo such as `n_clusterz` would otherwise
    be dropped and the training run with defaults), as the `train` command refuses them."""

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys"):
            unknown = sorted(str(key) for key in data.keys() if key not in self.fields)
            if unknown:
                accepted = ", ".join(sorted(self.fields))
                raise serializers.ValidationError(
                    {key: [f"Unknown parameter {key!r}; accepted: {accepted}."] for key in unknown})
        return super().to_internal_value(data)
