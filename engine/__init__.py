"""The ML core of relearn-tui: models, augmentation, unlearning methods and the audit.

Nothing here imports ``relearn_tui`` or touches a database; inputs and outputs are the plain
dataclasses of :mod:`engine.types`.
"""

import logging as _logging


class _HubKernelNotice(_logging.Filter):
    """Drops bitsandbytes' notice that it could not fetch a CPU kernel from the Hugging Face
    hub (through the ``kernels`` package). The product never downloads at run time, so the
    notice shows on every AVX512-BF16 machine and asks for something a user must not do;
    bitsandbytes then uses its own CPU code, whose output the audit checks against the
    format (engine.audit.quantize.self_check)."""

    def filter(self, record: _logging.LogRecord) -> bool:
        return "kernels-community" not in str(record.msg)


# set before bitsandbytes is imported (by us, transformers or peft): getLogger returns this
# same logger to it
_logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_HubKernelNotice())
