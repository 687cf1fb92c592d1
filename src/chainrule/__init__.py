"""chainrule: neural networks from first principles.

A reverse-mode autodiff engine over NumPy, the lecture's linear classifiers, the perceptron,
multi-layer networks and every optimization strategy from random search to Adam.

>>> import chainrule as cr
>>> x = cr.tensor(-2.0, requires_grad=True)
>>> y = cr.tensor(5.0, requires_grad=True)
>>> z = cr.tensor(-4.0, requires_grad=True)
>>> f = (x + y) * z
>>> f.backward()
>>> f.item(), x.grad.item(), y.grad.item(), z.grad.item()
(-12.0, -4.0, -4.0, 3.0)
"""
import chainrule._startup  # noqa: F401  (the command's Ctrl-C while it starts; nothing for a library user)
from chainrule._version import __version__
from chainrule.engine import *  # noqa: F401,F403  (the engine's public names are the package's)
from chainrule.engine import __all__ as _engine_all
from chainrule.gradcheck import GradcheckError, gradcheck, numerical_gradient
# nn, optim and models are cheap (NumPy only) and models registers its classes with io.load_model.
from chainrule import nn, optim, models  # noqa: E402

# Loaded on first use (PEP 562): `import chainrule.engine` does not load the training loop, the
# runs, the plots or scikit-learn's wrappers, and `chainrule.viz.plot_history(...)` works after a
# plain `import chainrule`.
_LAZY_MODULES = ("data", "estimators", "expr", "io", "metrics", "playground", "runs", "sweep", "train", "validation",
                 "viz")


def __getattr__(name):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"chainrule.{name}")
    if name == "fit":
        from chainrule.train import fit

        return fit
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_MODULES) | {"fit"})


__all__ = [
    "__version__", "GradcheckError", "fit", "gradcheck", "models", "nn", "numerical_gradient", "optim",
    *_engine_all,
]

