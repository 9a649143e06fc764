"""The ML core of relearn-tui: models, augmentation, unlearning methods and the audit.

Nothing here imports ``relearn_tui`` or touches a database; inputs and outputs are the plain
dataclasses of :mod:`engine.types`.
"""
