"""Task templates, one module per category; importing ALL_MODULES registers every template."""

from agents.taskgen.templates import comparison, conceptual, design, prediction, reasoning, structural

ALL_MODULES = [structural, prediction, comparison, conceptual, reasoning, design]
