"""The ``sps`` command line (also ``python -m sps``): pose transfer, clothing texture transfer and clothing edits
of your own photos, one photo or a folder of them at a time.

    sps transfer SOURCE --pose PRESET|PHOTO|KEYPOINTS.json -o OUT
    sps texture PERSON CLOTHES -o OUT
    sps edit SOURCE --edit shorts|skirt|short-sleeves|long-sleeves -o OUT

Common options: ``--save-intermediates`` (parsing maps and poses next to each output), ``--device``,
``--weights PATH|REPO_ID`` (default: ``$SPS_WEIGHTS``, else ``./weights``), ``--threads``, ``-q``, ``-v``.
A folder gets a progress bar; photos that cannot be used are skipped and listed in the summary at the end; the
exit status is 0 when at least one output was written, 1 when none was, 2 for unusable arguments.

Modules: ``inputs`` (photos, ``--pose``, default weights), ``batch`` (running jobs, writing outputs and
intermediates, the summary), ``main`` (the commands and their arguments).
"""
from .main import build_parser, main

__all__ = ["build_parser", "main"]
