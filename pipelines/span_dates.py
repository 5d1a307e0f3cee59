"""Dates as span numbers: a span named by a date is its days since 1970-01-01 (TFX's date
specs count the same way), so spans stay ordered and one calendar day is one span. ExampleGen's
``{YYYY}{MM}{DD}`` patterns, ``lockgate run --date`` and a scheduled Airflow run's data interval
all use this one mapping."""

from __future__ import annotations

from datetime import date, timedelta

EPOCH = date(1970, 1, 1)


def span_of_date(day: date) -> int:
    return (day - EPOCH).days


def date_of_span(span: int) -> date:
    return EPOCH + timedelta(days=span)
