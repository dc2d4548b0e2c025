"""tools.constraint_sql: group and class names, parameters only, hidden splits."""

from __future__ import annotations

import pytest

from tools.connections import connection
from tools.constraint_sql import checked_class, find_sql, group_column
from tools.errors import ToolError
from tools.kb_view import KBView
from tools.schema import Constraint


@pytest.mark.parametrize(("name", "column"), [
    ("ester", "n_ester"), ("Esters", "n_ester"), ("n_amide", "n_amide"), ("fluorine", "n_f"),
    ("aromatic ring", "aromatic_rings"), ("halogen", "halogens"), ("benzene", "n_phenyl"), ("carbamate", "n_urethane"),
])
def test_group_columns(name: str, column: str) -> None:
    assert group_column(name) == column


def test_unknown_names() -> None:
    with pytest.raises(ToolError, match="did you mean siloxane"):
        group_column("siloxan")
    with pytest.raises(ToolError, match="classes are: "):
        checked_class("polyfoo")
    assert checked_class(" PolyImide ") == "polyimide"


def test_user_values_are_parameters(small_kb, small_kb_config) -> None:
    view = KBView.for_split(small_kb_config.kb_dir, "test")
    evil = "MIT'; DROP TABLE polymers; --"
    constraints = [Constraint(type="property_range", property="tg", min=0, max=300, unit="degC"),
                   Constraint(type="licence", value=evil), Constraint(type="data_kind", value="experimental"),
                   Constraint(type="require_group", group="ether")]
    query = find_sql(view, constraints, "density", None, False, 7)
    sql, params = query.sql, query.params
    assert evil.lower() not in sql and "DROP" not in sql and "experimental" not in sql.split("CASE kind")[0]
    assert evil.lower() in params and params[-1] == 7 and [r.prop for r in query.ranges] == ["tg"]
    assert pytest.approx(273.15) in params and pytest.approx(573.15) in params
    assert connection(view).execute(sql, params).fetchall() == []
    values_sql, values_params = query.values_sql([1, 2])
    assert evil.lower() not in values_sql and connection(view).execute(values_sql, values_params).fetchall() == []
    with pytest.raises(ToolError, match="unknown data kind"):
        find_sql(view, [Constraint(type="data_kind", value="measured")], None, None, True, 5)
