"""The template registry: templates register themselves by name; unknown names get a did-you-mean."""

from __future__ import annotations

import difflib

from agents.taskgen.base import Template

TEMPLATES: dict[str, Template] = {}


def register(template_cls: type) -> type:
    """Class decorator: instantiate the template and register it under its name (names are unique)."""
    template = template_cls()
    if template.name in TEMPLATES:
        raise ValueError(f"template {template.name!r} registered twice")
    TEMPLATES[template.name] = template
    return template_cls


def load_templates() -> dict[str, Template]:
    """Import every template module (they register on import) and return the registry."""
    from agents.taskgen.templates import ALL_MODULES  # noqa: F401  (import side effect registers)

    return TEMPLATES


def get_template(name: str) -> Template:
    templates = load_templates()
    if name not in templates:
        close = difflib.get_close_matches(name, list(templates), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown template {name!r}{hint}")
    return templates[name]
