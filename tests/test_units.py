import math

import pytest

from kb.errors import UnitError
from kb.units import canonical_unit_name, convert, dimension_of


@pytest.mark.parametrize(("value", "src", "dst", "expected"), [
    (25.0, "degC", "K", 298.15),
    (0.0, "K", "degC", -273.15),
    (212.0, "degF", "degC", 100.0),
    (1.0, "ln(Barrer)", "Barrer", math.e),
    (math.log(30.0), "ln(Barrer)", "Barrer", 30.0),
    (2.0, "log10(Barrer)", "Barrer", 100.0),
    (-8.0, "log10(cm3(STP) cm/(cm2 s cmHg))", "Barrer", 100.0),   # 1 Barrer = 1e-10 cm3(STP) cm/(cm2 s cmHg)
    (10.0, "cal/cm3", "J/cm3", 41.84),
    (5.0, "P", "Pa s", 0.5),
    (3e9, "Pa", "GPa", 3.0),
    (1e-9, "1/Pa", "1/GPa", 1.0),
    (1.0, "m2/s", "cm2/s", 1e4),
    (-5.0, "log10(cm2/s)", "cm2/s", 1e-5),
    (50.0, "1e-6/K", "1/K", 5e-5),
    (1000.0, "kg/m3", "g/cm3", 1.0),
])
def test_conversions(value, src, dst, expected):
    assert convert(value, src, dst) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_round_trip_through_log_units():
    assert convert(convert(123.0, "Barrer", "log10(Barrer)"), "log10(Barrer)", "Barrer") == pytest.approx(123.0)
    assert convert(100.0, "Barrer", "ln(Barrer)") == pytest.approx(math.log(100.0))


def test_aliases_resolve():
    assert canonical_unit_name("°C") == "degC"
    assert canonical_unit_name("ln(barrer)") == "ln(Barrer)"
    assert dimension_of("log10(S/cm)") == "conductivity"


def test_unknown_unit_suggests_close_names():
    with pytest.raises(UnitError, match="did you mean.*Barrer"):
        convert(1.0, "Barre", "Barrer")


def test_incompatible_dimensions_refused():
    with pytest.raises(UnitError, match="cannot convert 'K'.*'g/cm3'"):
        convert(1.0, "K", "g/cm3")


def test_log_of_non_positive_refused():
    with pytest.raises(UnitError, match="log"):
        convert(-1.0, "Barrer", "ln(Barrer)")
