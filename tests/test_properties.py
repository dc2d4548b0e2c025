import pytest

from kb.errors import UnknownPropertyError
from kb.properties import PROPERTIES, gas_of, get_property, plausibility_problem, to_canonical


def test_registry_has_the_core_properties_with_canonical_units():
    assert get_property("tg").unit == "K"
    assert get_property("density").unit == "g/cm3"
    assert get_property("perm_co2").unit == "Barrer"
    assert get_property("FFV").name == "ffv"  # case-insensitive


def test_every_property_has_a_description_and_a_sane_range():
    for prop in PROPERTIES.values():
        assert prop.description and prop.min_value < prop.max_value, prop.name


def test_unknown_property_names_close_matches():
    with pytest.raises(UnknownPropertyError) as info:
        get_property("denisty")
    assert "density" in info.value.suggestions
    assert "did you mean density" in str(info.value)


def test_plausibility():
    tg = get_property("tg")
    assert plausibility_problem(tg, 373.0) is None
    assert "outside plausible range" in plausibility_problem(tg, 5000.0)
    assert "not a finite" in plausibility_problem(tg, float("nan"))


def test_to_canonical_and_gas():
    assert to_canonical(get_property("tg"), 100.0, "degC") == pytest.approx(373.15)
    assert gas_of("perm_co2") == "CO2" and gas_of("sol_h2o") == "H2O" and gas_of("tg") is None
