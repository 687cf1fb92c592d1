"""train.AugmentEachEpoch: fresh augmented copies every epoch, and a resumed run that sees the same ones."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.data import Augment
from chainrule.train import AugmentEachEpoch, Callback, Checkpoint


def _data():
    rng = np.random.default_rng(0)
    return rng.random((40, 16), dtype=np.float32), rng.integers(0, 3, 40)


class _Crash(Callback):
    """A run killed in the middle of epoch ``at + 1``."""

    def __init__(self, at):
        self.at = at

    def on_batch_end(self, trainer, loss):
        if trainer.epoch == self.at:
            raise RuntimeError("killed")


def _run(epochs, seed=0, crash=None, **kwargs):
    X, y = _data()
    net = cr.nn.CNN((1, 4, 4), 3, "c2-m2", rng=1)
    shifts = AugmentEachEpoch(Augment((1, 4, 4), crop_padding=1, seed=seed), X, y)
    callbacks = [shifts] if "checkpoint_first" not in kwargs else [Checkpoint(kwargs.pop("checkpoint_first")), shifts]
    callbacks += [] if crash is None else [_Crash(crash)]
    history = cr.fit(net, X, y, optimizer="adam", lr=0.01, epochs=epochs, batch_size=8, callbacks=callbacks, **kwargs)
    return net, shifts, history


def test_each_epoch_trains_on_new_copies():
    net, shifts, history = _run(3)
    assert shifts.draws == 3 and len(history) == 3
    plain = cr.nn.CNN((1, 4, 4), 3, "c2-m2", rng=1)
    X, y = _data()
    cr.fit(plain, X, y, optimizer="adam", lr=0.01, epochs=3, batch_size=8)
    assert not np.array_equal(plain.state_dict()["0.weight"], net.state_dict()["0.weight"])
    again, _, _ = _run(3)
    np.testing.assert_array_equal(again.state_dict()["0.weight"], net.state_dict()["0.weight"])


@pytest.mark.parametrize("order", ["checkpoint last", "checkpoint first"])
def test_a_resumed_run_sees_the_copies_an_uninterrupted_one_sees(tmp_path, order):
    # The checkpoint keeps the generator's state the next epoch's copies are drawn from, whether
    # it is written before or after this callback draws them.
    path = tmp_path / "ckpt.npz"
    where = {"checkpoint": path} if order == "checkpoint last" else {"checkpoint_first": path}
    whole, _, _ = _run(4)
    with pytest.raises(RuntimeError, match="killed"):  # the checkpoint holds epoch 2 of 4
        _run(4, crash=2, **where)
    resumed, shifts, history = _run(4, resume=path)
    assert len(history) == 4 and shifts.draws == 2  # epochs 3 and 4, drawn from the saved state
    for name, value in whole.state_dict().items():
        np.testing.assert_array_equal(resumed.state_dict()[name], value, err_msg=name)
