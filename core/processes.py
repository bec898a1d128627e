"""Child processes that do not outlive the job that started them."""

from __future__ import annotations

import signal
import sys


def die_with_parent() -> None:
    """For `subprocess.Popen(preexec_fn=...)`: in the child, before exec, ask the kernel to kill it when
    its parent dies, so a killed job leaves no orphan writing on (Linux; elsewhere a no-op)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
