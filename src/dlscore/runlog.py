"""Send a job's Python logging, warnings and stderr to its Snakemake log file."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path


@contextlib.contextmanager
def job_log(path: str | Path | None):
    """Within the block, logging/warnings/stderr/stdout go to ``path`` (append). An
    :class:`~dlscore.errors.InputError` or :class:`~dlscore.errors.ManifestError` raised in
    the block is written to the log with its traceback and to the console as its message
    alone, and ends the process with status 1; any other exception propagates."""
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
        clear = None
        try:
            yield logging.getLogger("dlscore")
        except Exception as exc:  # the traceback goes to the log; a clear error alone to the console
            import errno

            from dlscore.errors import InputError, ManifestError
            logging.getLogger("dlscore").exception("%s", exc)
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                clear = InputError(f"the disk is full ({exc.strerror})", "free space (or raise your quota) and "
                                   "run the same command again: finished outputs are kept",
                                   where=exc.filename and Path(exc.filename).name)
            elif not isinstance(exc, (InputError, ManifestError)):
                raise
            else:
                clear = exc
        finally:
            sys.stderr, sys.stdout = old_err, old_out
            root.removeHandler(handler)
    if clear is not None:  # a user's input: the message is the whole story (traceback in the log)
        print(f"ERROR: {clear}\n(details: {path})", file=sys.stderr)
        raise SystemExit(1)
