"""Every measure the tools report, in the order tables show them: the spec's six first.

Adding a measure: write it in its module's MEASURES (or a new module listed here), with its tests.
"""
from __future__ import annotations

from motionlab.evaluation import foot, kinetic, manifold, metrics, rhythm, smoothness
from motionlab.evaluation.measure import Measure

# the spec's six, then the field's measures adapted to 2D (docs/MEASURES.md)
ALL: tuple[Measure, ...] = (*metrics.MEASURES, *kinetic.MEASURES, *manifold.MEASURES, *foot.MEASURES,
                            *smoothness.MEASURES, *rhythm.MEASURES)
BY_NAME = {m.name: m for m in ALL}
SPEC = tuple(m.name for m in ALL if m.spec)
