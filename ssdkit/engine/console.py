"""What a run prints on the console: the CPU line, the work dir, progress and results; mmengine's dump
(environment, config, hook table, per-parameter settings, deprecation notes) goes to the log file only, unless the
run is verbose (``ssdkit train --verbose``)."""

from __future__ import annotations

import logging

#: the starts of the console messages kept in the log file only
DUMP_STARTS = (
    "\n------------------------------------------------------------\nSystem environment",
    "Config:\n",
    "Distributed training is not used",
    "Hooks will be executed in the following order",
    "paramwise_options -- ",
    "Exp name: ",
    '"FileClient" will be deprecated',
    '"HardDiskBackend" is the alias',
    "BF16OptimWrapper: this ",  # the float32 fallback, shown on the console once by its Python warning
)
#: endings of the same kind (mmengine's optimizer builder, one warning per frozen parameter)
DUMP_ENDS = ("is skipped since its requires_grad=False",)


class ConsoleFilter(logging.Filter):
    """Drops the dump's records from the handler it is added to (the console); counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if record.levelno <= logging.WARNING and (message.startswith(DUMP_STARTS) or message.endswith(DUMP_ENDS)):
            self.dropped += 1
            return False
        return True


def quiet_console(logger: logging.Logger) -> ConsoleFilter:
    """Add a :class:`ConsoleFilter` to ``logger``'s console handlers (its file handlers keep everything)."""
    console = ConsoleFilter()
    for handler in logger.handlers:
        if type(handler) is logging.StreamHandler:
            handler.addFilter(console)
    return console


def log_file(logger: logging.Logger) -> str | None:
    """The file ``logger`` writes to, if any."""
    return next((h.baseFilename for h in logger.handlers if isinstance(h, logging.FileHandler)), None)
