"""How numbers and signs are printed, in figures and in manuscript tables alike: p as journals
print it, and ≥ / ≤ for the ASCII ``>=`` / ``<=`` that config labels are typed in."""

from __future__ import annotations

import math


def p_value(p) -> str:
    """A p-value as journals print it: "<0.001"; 3 decimals below 0.01; 2 decimals up to 0.99;
    ">0.99"; "" when absent."""
    if p is None or (isinstance(p, float) and math.isnan(p)) or p == "":
        return ""
    p = float(p)
    if p < 0.001:
        return "<0.001"
    if p < 0.01:
        return f"{p:.3f}"
    return ">0.99" if p > 0.99 else f"{p:.2f}"


def p_text(p) -> str:
    """ "p = 0.04", "p < 0.001", "p > 0.99" (figure legends and annotations); "p n/a" when absent."""
    s = p_value(p)
    return "p n/a" if not s else f"p {s[0]} {s[1:]}" if s[0] in "<>" else f"p = {s}"


def math_signs(text: str) -> str:
    """``text`` with ≥ and ≤ for >= and <=."""
    return text.replace(">=", "≥").replace("<=", "≤")
