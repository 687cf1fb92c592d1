"""The playground: the lecture, live in a browser (``chainrule playground``).

Circuits you can step through (an expression of ``chainrule graph``'s language, its forward
values and gradients on every wire, the backward pass one gate at a time) and networks you can
watch learn (TensorFlow Playground's panels, trained by chainrule's one loop, with the
lecture's derivative-free strategies, a race on equal budgets, and the code that reproduces a
setup). The server is Starlette on uvicorn, in the optional extra ``chainrule[playground]``;
the page is plain HTML, CSS and JavaScript in ``static/``, no build step.

>>> from chainrule.playground import circuit
>>> circuit("(x + y) * z", {"x": -2, "y": 5, "z": -4})["output"]
-12.0
"""
from chainrule.playground.circuits import PRESETS, circuit
from chainrule.playground.networks import NetworkTraining, Race, code, featurize, make_data
from chainrule.playground.server import Server, create_app, serve, start
from chainrule.playground.settings import NetworkSettings, SettingsError

__all__ = ["PRESETS", "circuit", "NetworkTraining", "Race", "code", "featurize", "make_data", "Server",
           "create_app", "serve", "start", "NetworkSettings", "SettingsError"]
