"""The cost of an epoch does not grow with the epochs before it (issue 11, defect 4).

    OPENBLAS_NUM_THREADS=1 python benchmarks/checkpoint_cost.py            # 100, 1,000, 10,000 epochs
    OPENBLAS_NUM_THREADS=1 python benchmarks/checkpoint_cost.py --quick    # 100 and 2,000

The run is ``chainrule train --data spiral --hidden 100 --epochs E --batch-size full --lr 1
--optimizer sgd`` as the library runs it (``runs.train_run`` with the command's checkpoint
writer, ``Checkpoint(every=1.0)``, into a temporary folder). A callback notes the clock at the
end of every epoch; the figure is the mean time of an epoch over the run's last ``WINDOW``
epochs (the first epoch, which writes the first checkpoint, is never in a window). The runs
alternate (A B C A B C …) and each keeps its best mean. Before the fix the checkpoint deep-copied
the whole history every epoch (0.86 / 2.98 / 11.0 s for 500 / 1,000 / 2,000 epochs); the
target is a ratio of at most 1.2 between the longest run's epochs and the shortest's.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.20
WINDOW = 99


def epoch_seconds(epochs: int) -> float:
    """Mean seconds per epoch over the last WINDOW epochs of an `epochs`-epoch run."""
    from chainrule.runs import RunSettings, train_run
    from chainrule.train import Callback, Checkpoint

    class Clock(Callback):
        def __init__(self):
            self.times = []

        def on_epoch_end(self, trainer, record):
            self.times.append(time.perf_counter())

    settings = RunSettings(data="spiral", hidden=[100], epochs=epochs, batch_size="full", lr=1.0, optimizer="sgd")
    clock = Clock()
    with tempfile.TemporaryDirectory() as folder:
        train_run(settings, callbacks=[clock, Checkpoint(Path(folder) / "checkpoint.npz", every=1.0)])
    t = clock.times[-(WINDOW + 1):]
    return (t[-1] - t[0]) / (len(t) - 1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 and 2,000 epochs only")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", help="write the figures here as JSON")
    args = parser.parse_args(argv)
    lengths = (100, 2000) if args.quick else (100, 1000, 10000)
    best = {n: float("inf") for n in lengths}
    for _ in range(args.repeats):
        for n in lengths:
            best[n] = min(best[n], epoch_seconds(n))
    ratio = best[lengths[-1]] / best[lengths[0]]
    for n in lengths:
        print(f"{n:>6} epochs: {best[n] * 1e3:.3f} ms per epoch (last {WINDOW} epochs)")
    verdict = "ok" if ratio <= TARGET else "FAILS"
    print(f"ratio {lengths[-1]} / {lengths[0]} epochs: {ratio:.3f} (target <= {TARGET}): {verdict}")
    if args.out:
        Path(args.out).write_text(json.dumps({"ms_per_epoch": {str(n): best[n] * 1e3 for n in lengths},
                                              "ratio": ratio, "target": TARGET}, indent=2) + "\n")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
