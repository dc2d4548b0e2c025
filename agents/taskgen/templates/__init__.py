"""Task templates, one module per category (property_relations is the second conceptual module); importing
ALL_MODULES registers every template."""

from agents.taskgen.templates import (
    comparison,
    conceptual,
    design,
    prediction,
    property_relations,
    reasoning,
    structural,
)

ALL_MODULES = [structural, prediction, comparison, conceptual, property_relations, reasoning, design]
