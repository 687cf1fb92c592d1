"""``python -m benchmarks``: chainrule against the hand-written NumPy, PyTorch and micrograd yardsticks."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from suite import main  # noqa: E402

sys.exit(main())
