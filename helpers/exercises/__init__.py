"""Checks for the exercises at the end of each notebook: each says "right", or gives a hint.

One module per notebook topic holds the checks of that notebook's exercises; each check runs the
reader's answer on small fixed inputs, compares it with the series' own code and calls `report`.
A check never raises for a wrong or unfinished answer (an exercise cell must run as committed):
it prints one line that does not depend on float last digits, so nbval can compare it, and
returns whether the answer is right.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


def report(exercise: int | str, passed: bool, *, right: str, hint: str) -> bool:
    """Print one verdict line for an exercise and return `passed`."""
    if passed:
        print(f"Exercise {exercise}: right. {right}")
    else:
        print(f"Exercise {exercise}: not yet. Hint: {hint}")
    return bool(passed)


def attempt(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, str | None]:
    """Call the reader's function; return (result, None), or (None, what went wrong) if it raised."""
    try:
        return function(*args, **kwargs), None
    except Exception as error:  # the reader's code may fail in any way; the check says how
        return None, f"{type(error).__name__}: {error}"


def close(actual: Any, expected: float, *, tolerance: float) -> bool:
    """True when `actual` is a finite number within `tolerance` of `expected`."""
    try:
        value = float(actual)
    except (TypeError, ValueError):
        return False
    return math.isfinite(value) and abs(value - expected) <= tolerance
