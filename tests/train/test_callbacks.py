"""The callbacks of the one loop (chainrule/train/callbacks.py): EarlyStopping's rule and a
callback that stops training after a batch."""
import pytest

import chainrule as cr
from chainrule.train import Callback, EarlyStopping, fit, get_task, predict_scores


def test_early_stopping_stops_and_restores_the_best(digits):
    X, y, Xt, yt = digits
    net = cr.nn.MLP(64, [64], 10, rng=0)
    history = fit(net, X[:200], y[:200], optimizer="adam", lr=0.01, epochs=100, batch_size=32,
                  validation=(Xt, yt), early_stopping=3)
    assert len(history) < 100
    best = min(history.column("val_loss"))
    task = get_task("cross-entropy")
    assert float(task(cr.tensor(predict_scores(net, Xt)), yt).item()) == pytest.approx(best, rel=1e-5)


def test_early_stopping_validates_patience():
    with pytest.raises(ValueError, match="patience must be a whole number >= 1; got 0"):
        EarlyStopping(0)
    with pytest.raises(TypeError, match="patience must be a whole number >= 1; got 2.0"):
        EarlyStopping(2.0)


@pytest.mark.parametrize("patience", [1, 2, 3])
def test_early_stopping_stops_at_the_end_of_the_patience_th_epoch_without_progress(spiral, patience):
    X, y = spiral
    script = [1.0, 0.5, 0.4] + [0.6] * 10  # best at epoch 3, then no progress

    class Scripted(Callback):
        def on_epoch_end(self, trainer, record):
            record["val_loss"] = script[record["epoch"] - 1]

    net = cr.nn.Linear(2, 3, rng=0)
    history = fit(net, X, y, epochs=12, validation=(X, y), callbacks=[Scripted()], early_stopping=patience)
    assert len(history) == 3 + patience


def test_a_callback_can_stop_training_after_a_batch(spiral):
    X, y = spiral

    class Budget(Callback):
        def on_batch_end(self, trainer, loss):
            return trainer.evaluations >= 5

    history = fit(cr.nn.Linear(2, 3, rng=0), X, y, epochs=10, batch_size=30, callbacks=[Budget()])
    assert len(history) == 1 and history.final["evaluations"] == 5
