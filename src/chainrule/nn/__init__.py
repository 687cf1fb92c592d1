"""Neural-network building blocks: Module, Parameter, layers, losses, initializations, summary."""
from chainrule.nn import functional, init
from chainrule.nn.layers import (
    ACTIVATIONS, MLP, Dropout, Identity, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh,
    get_activation,
)
from chainrule.nn.losses import BCEWithLogitsLoss, BinaryHingeLoss, CrossEntropyLoss, MSELoss, MulticlassHingeLoss
from chainrule.nn.module import Module, Parameter
from chainrule.nn.counting import ModelSummary, summary, summary_from_shapes

__all__ = [
    "ACTIVATIONS", "BCEWithLogitsLoss", "BinaryHingeLoss", "CrossEntropyLoss", "Dropout", "Identity",
    "LeakyReLU", "Linear", "MLP", "MSELoss", "Module", "ModelSummary", "MulticlassHingeLoss",
    "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh", "functional", "get_activation", "init",
    "summary", "summary_from_shapes",
]
