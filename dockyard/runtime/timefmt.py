"""Kept for callers not yet moved to dockyard.timeutil, the one place for timestamps."""

from dockyard.timeutil import ZERO_TIME, now_rfc3339
from dockyard.timeutil import parse_rfc3339_or_zero as parse_rfc3339

__all__ = ["ZERO_TIME", "now_rfc3339", "parse_rfc3339"]
