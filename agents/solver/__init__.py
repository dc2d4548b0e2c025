"""The solver agent: a LangGraph graph over the tools with swappable backbones (see graph.py)."""
