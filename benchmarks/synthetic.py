"""`python -m benchmarks.synthetic DIR`: write synthetic MNIST-sized data (60,000 / 10,000
28x28 images, a learnable class pattern plus noise) as the four standard IDX files."""

from __future__ import annotations

import sys
from pathlib import Path

from .common import write_synthetic_idx

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m benchmarks.synthetic DIR")
    print(write_synthetic_idx(Path(sys.argv[1])))
