"""Batch trace generation (distillation data): the reasoner solves tasks, verification keeps the right ones.

`python -m agents.distill --split train --out DIR` (see agents.distill.run for the record format).
"""
