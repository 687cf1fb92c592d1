"""The steps of the one loop (chainrule/train/steps.py), chosen from what model and optimizer declare."""
import numpy as np

import chainrule as cr


def test_the_step_follows_what_model_and_optimizer_declare():
    from chainrule.train import AnalyticStep, AutodiffStep, ClosureStep, RuleStep, choose_step

    class Plain:
        pass

    class Analytic:
        def analytic_loss(self, X, y, reg, grad=True):
            return 0.0, {}

    class Rule:
        def update_rule(self, X, y, lr):
            return 0.0, 0

    class Closure:
        requires_closure = True

    class Gradient:
        requires_closure, uses_grad = False, True

    assert choose_step(Plain(), Gradient()) is AutodiffStep
    assert choose_step(Analytic(), Gradient()) is AnalyticStep
    assert choose_step(Analytic(), Closure()) is ClosureStep
    assert choose_step(Plain(), Closure()) is ClosureStep
    assert choose_step(Rule(), None) is RuleStep


def test_linear_models_train_with_their_analytic_gradient_in_the_one_loop(digits):
    X, y, _, _ = digits
    model = cr.models.LinearClassifier(64, 10, loss="svm", reg=1e-3)
    trainer = cr.train.Trainer(model, X, y, cr.train.TrainConfig(loss="svm", lr=0.1, epochs=1, reg=1e-3))
    assert trainer.step.name == "analytic"
    reference = cr.models.LinearClassifier(64, 10, loss="svm", reg=1e-3).fit(X, y, lr=0.1, epochs=1, batch_size=32)
    trainer.run()
    assert np.array_equal(model.weight.numpy(), reference.weight.numpy())
