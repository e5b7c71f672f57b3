"""Send a job's Python logging, warnings and stderr to its Snakemake log file."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path


@contextlib.contextmanager
def job_log(path: str | Path | None):
    """Within the block, logging/warnings/stderr/stdout go to ``path`` (append)."""
    if not path:
        yield logging.getLogger("dlscore")
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)
        old_err, old_out = sys.stderr, sys.stdout
        sys.stderr = sys.stdout = fh
        try:
            yield logging.getLogger("dlscore")
        except Exception as exc:  # the one clear error goes to the log and to the console
            from dlscore.errors import InputError, ManifestError
            if isinstance(exc, (InputError, ManifestError)):
                logging.getLogger("dlscore").error("%s", exc)  # a user's input: the message is the whole story
            else:
                logging.getLogger("dlscore").exception("%s", exc)  # a fault: keep the traceback for the report
            raise
        finally:
            sys.stderr, sys.stdout = old_err, old_out
            root.removeHandler(handler)
