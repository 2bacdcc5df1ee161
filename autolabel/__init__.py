"""Auto labeling (SPEC F4): model registry, pre-labeling, active learning, hard examples.

Not built yet: the store already holds what it will write (to_be_confirmed status, confidence,
model, hard-example flags with coefficient and reason, clusters), and the views filter on them.
"""

from . import runner  # noqa: E402,F401  the handlers register themselves: importing any module of the package first works
