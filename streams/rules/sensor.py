"""Sensor readings: units normalised to one per metric, values checked against what is physically
possible, timestamps checked against the clock (a reading from the future is refused; a late one is kept
and flagged so windows can tell)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from streams.rules.outcome import Flag, RuleViolation
from streams.rules.text import clean_text

__all__ = ["FUTURE_TOLERANCE_MS", "LATE_AFTER_MS", "METRICS", "Reading", "normalize_reading"]

FUTURE_TOLERANCE_MS = 5 * 60_000  # station clocks drift; five minutes ahead is still believed
LATE_AFTER_MS = 60 * 60_000


@dataclass(frozen=True)
class Metric:
    unit: str  # the unit pobi stores
    low: float  # physically possible range, in that unit
    high: float
    conversions: dict[str, Callable[[float], float]]  # accepted spelling (lower case) → to the stored unit


def _same(v: float) -> float:
    return v


def _fahrenheit(v: float) -> float:
    return (v - 32) * 5 / 9


# keys are spellings after NFKC and lower-casing
_MICRO = {"μg/m3": _same, "ug/m3": _same, "mg/m3": lambda v: v * 1000}
METRICS: dict[str, Metric] = {
    "pm25": Metric("μg/m³", 0, 1000, _MICRO),
    "pm10": Metric("μg/m³", 0, 2000, _MICRO),
    "no2": Metric("μg/m³", 0, 2000, _MICRO),
    "so2": Metric("μg/m³", 0, 5000, _MICRO),
    "o3": Metric("μg/m³", 0, 1200, _MICRO),
    "co": Metric("mg/m³", 0, 150, {"mg/m3": _same, "μg/m3": lambda v: v / 1000, "ug/m3": lambda v: v / 1000}),
    "temperature": Metric("℃", -60, 60, {"°c": _same, "c": _same, "degc": _same, "°f": _fahrenheit, "f": _fahrenheit,
                                          "k": lambda v: v - 273.15}),
    "humidity": Metric("%", 0, 100, {"%": _same, "%rh": _same, "rh": _same}),
}
_METRIC_ALIASES = {"pm2.5": "pm25", "pm_25": "pm25", "temp": "temperature", "rh": "humidity"}


@dataclass(frozen=True)
class Reading:
    metric: str
    value: float
    unit: str
    flags: tuple[Flag, ...] = field(default=())


def normalize_reading(metric: str | None, value: float | None, unit: str | None, *, measured_ms: int,
                      now_ms: int) -> Reading:
    name = (clean_text(metric) or "").lower()
    name = _METRIC_ALIASES.get(name, name)
    spec = METRICS.get(name)
    if spec is None:
        raise RuleViolation("sensor.metric_unknown", f"metric {metric!r} is not one pobi knows: {', '.join(METRICS)}")
    if value is None:
        raise RuleViolation("sensor.value_missing", "the reading has no value")
    # clean_text applies NFKC, so ℃ arrives as °c, ³ as 3 and the micro sign µ as the Greek μ
    spelled = (clean_text(unit) or clean_text(spec.unit) or "").lower().replace(" ", "")
    convert = spec.conversions.get(spelled)
    if convert is None:
        raise RuleViolation("sensor.unit_unknown", f"{name} cannot be given in {unit!r}; use {spec.unit}")
    converted = round(convert(float(value)), 4)
    if not spec.low <= converted <= spec.high:
        raise RuleViolation("sensor.out_of_range",
                            f"{name} {converted} {spec.unit} is outside what is physically possible "
                            f"({spec.low}…{spec.high})")
    if measured_ms > now_ms + FUTURE_TOLERANCE_MS:
        raise RuleViolation("sensor.future_timestamp",
                            f"measured {(measured_ms - now_ms) / 60_000:.0f} minutes in the future")
    flags: list[Flag] = []
    if convert is not _same:
        flags.append(Flag("sensor.unit_converted", f"{value} {unit} converted to {converted} {spec.unit}"))
    if now_ms - measured_ms > LATE_AFTER_MS:
        minutes = (now_ms - measured_ms) / 60_000
        flags.append(Flag("sensor.late", f"arrived {minutes:.0f} minutes after it was measured"))
    return Reading(name, converted, spec.unit, tuple(flags))
