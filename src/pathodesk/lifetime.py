"""What a server keeps for its whole life (modules, routes, the model stack) is moved out of
the garbage collector's full passes with ``gc.freeze``. A full pass otherwise walks every
object with all threads stopped: about 0.3 s once torch and scikit-learn are loaded (2-core
machine), a pause every viewer's tiles would wait through.

Start-up freezes what it loaded; the model stack loads later, with the first job of a kind
or the first model read (``jobs.kinds``, ``ml.registry``), and is frozen then.
"""

from __future__ import annotations

import gc
import sys
import threading

_lock = threading.Lock()
_modules_frozen = 0


def freeze_new_modules() -> None:
    """Collect and freeze once more if modules were imported since the last time; else
    nothing (a model loaded again costs no collection)."""
    global _modules_frozen
    with _lock:
        if len(sys.modules) == _modules_frozen:
            return
        gc.collect()
        gc.freeze()
        _modules_frozen = len(sys.modules)
