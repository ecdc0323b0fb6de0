"""Kubernetes resource quantities ("2", "2k", "1Ki", "1e3", "500m"), parsed exactly.

Follows the grammar of k8s.io/apimachinery/pkg/api/resource (ParseQuantity):

    <quantity>     ::= <sign><number><suffix>
    <number>       ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <suffix>       ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>     ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>    ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <sign><digits> | "E" <sign><digits>

Decimal, not float: "0.1" and "100m" must compare equal, and a board count of "2" must not
become 1.9999999.
"""

from __future__ import annotations

import re
from decimal import Decimal

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:\d+\.?\d*|\.\d+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE]?)"
)


def parse_quantity(text: str) -> Decimal:
    """The exact value of a Kubernetes quantity string.

    Raises ValueError when `text` is not a quantity (empty, spaces, unknown suffix), as
    ParseQuantity returns ErrFormatWrong / ErrSuffix.
    """
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    number = Decimal(match["number"])
    suffix = match["suffix"]
    if suffix in _BINARY:
        return number * (Decimal(1024) ** _BINARY[suffix])
    if len(suffix) > 1:  # an exponent; a bare "E" is the exa suffix
        return number.scaleb(int(suffix[1:]))
    return number.scaleb(_DECIMAL[suffix])


def parse_count(text: str) -> int:
    """A quantity that must be a whole, non-negative number (an extended resource count).

    Extended resources such as FPGA boards are integers in Kubernetes; "2", "2.0" and
    "2000m" are 2, "1.5" or "-1" raise ValueError rather than being rounded.
    """
    value = parse_quantity(text)
    if value < 0 or value != value.to_integral_value():
        raise ValueError(f"not a whole, non-negative count: {text!r}")
    return int(value)
