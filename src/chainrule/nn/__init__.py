"""Neural-network building blocks: Module, Parameter, layers, losses, initializations, summary."""
from chainrule.nn import functional, init, utils
from chainrule.nn.layers import (
    ACTIVATIONS, ELU, GELU, MLP, Dropout, Elementwise, Identity, LayerNorm, LeakyReLU, Linear,
    LogSoftmax, ReLU, Sequential, Sigmoid, SiLU, Softmax, Softplus, Tanh, get_activation,
)
from chainrule.nn.container import ModuleDict, ModuleList
from chainrule.nn.losses import (
    BCELoss, BCEWithLogitsLoss, BinaryHingeLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss,
    MulticlassHingeLoss, NLLLoss, SmoothL1Loss,
)
from chainrule.nn.module import Module, Parameter, module_device
from chainrule.nn.counting import ModelSummary, summary, summary_from_shapes
from chainrule.nn.conv import Conv1d, Conv2d
from chainrule.nn.cnn import CNN
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d
from chainrule.nn.pooling import AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from chainrule.nn.spatial import Dropout2d, Flatten, Unflatten

__all__ = [
    "ACTIVATIONS", "BCELoss", "BCEWithLogitsLoss", "BinaryHingeLoss", "CrossEntropyLoss", "Dropout",
    "ELU", "Elementwise", "GELU", "HuberLoss", "Identity", "L1Loss", "LayerNorm", "LeakyReLU",
    "Linear", "LogSoftmax", "MLP", "MSELoss", "Module", "ModelSummary", "ModuleDict", "ModuleList",
    "MulticlassHingeLoss", "NLLLoss", "Parameter", "ReLU", "Sequential", "SiLU", "Sigmoid",
    "SmoothL1Loss", "Softmax", "Softplus", "Tanh", "functional", "get_activation", "init",
    "module_device", "summary", "summary_from_shapes", "utils",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d",
    "CNN", "Conv1d", "Conv2d", "Dropout2d", "Flatten", "MaxPool1d", "MaxPool2d", "Unflatten",
]
