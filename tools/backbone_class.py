"""The backbone-class rule now lives in kb.backbone_class (kb.build needs it for the structure index).

Kept so that existing imports (`from tools.backbone_class import backbone_class`) keep working.
"""

from kb.backbone_class import (
    LINKAGES,
    POLYMER_CLASSES,
    RULE_VERSION,
    ClassVerdict,
    backbone_class,
    classify_backbone,
)

__all__ = ["LINKAGES", "POLYMER_CLASSES", "RULE_VERSION", "ClassVerdict", "backbone_class", "classify_backbone"]
