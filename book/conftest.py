"""pytest set-up for `pytest --nbval book/`: the quick profile, and what nbval compares.

- ``WISETUT_PROFILE`` is set to ``quick`` unless already set. The notebook kernels start later
  and inherit it, so every chapter re-runs in seconds.
- Under pytest-xdist (``make test``: a chapter per worker), ``OMP_NUM_THREADS`` is 1 unless already set,
  so that two kernels on two cores do not each run two torch threads.
- ``WISETUT_OUTPUT_DIR`` is set to a fresh temporary folder unless already set (per worker): a test run writes
  its figures, results and checkpoints there, never into the book, and never reuses a checkpoint
  left by an earlier run of different code.
- Progress bars (stderr) and SVG are left out of the comparison; Matplotlib's ``<Figure ...>``
  reprs and memory addresses are sanitised. PNG images are never compared by nbval.
- Cells whose output depends on the profile carry the ``nbval-ignore-output`` tag in the
  notebooks themselves; everything else is compared strictly.
"""

import os
import tempfile

os.environ.setdefault("WISETUT_PROFILE", "quick")
if os.environ.get("PYTEST_XDIST_WORKER"):  # make test: a chapter per worker, one torch thread per kernel (no oversubscription)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("WISETUT_OUTPUT_DIR", tempfile.mkdtemp(prefix="wisetut-nbval-"))

SANITIZE = {
    r"<Figure size \d+x\d+ with \d+ Axes>": "<Figure>",
    r"0x[0-9a-fA-F]+": "0xADDRESS",
}


def pytest_collectstart(collector):
    if type(collector).__name__ == "IPyNbFile":
        collector.skip_compare = tuple(collector.skip_compare) + ("stderr", "image/svg+xml")
        collector.sanitize_patterns.update(SANITIZE)
