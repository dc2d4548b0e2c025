"""Task templates, one module per category; importing ALL_MODULES registers every template."""

from agents.taskgen.templates import structural

ALL_MODULES = [structural]
