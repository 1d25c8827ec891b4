import logging
import sys

from cxmetrics.cli import main


class _Said(logging.Formatter):
    """The package's warnings as the command's own: ``warning: …`` on stderr."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(_Said())
_handler.setLevel(logging.WARNING)
logging.getLogger("cxmetrics").addHandler(_handler)
sys.exit(main())
