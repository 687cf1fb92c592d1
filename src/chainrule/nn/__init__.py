"""Neural-network building blocks: Module, Parameter, layers, losses, initializations, summary."""
from chainrule.nn import functional, init
from chainrule.nn.layers import (
    ACTIVATIONS, MLP, Dropout, Identity, LeakyReLU, Linear, ReLU, Sequential, Sigmoid, Tanh,
    get_activation,
)
from chainrule.nn.losses import BCEWithLogitsLoss, BinaryHingeLoss, CrossEntropyLoss, MSELoss, MulticlassHingeLoss
from chainrule.nn.module import Module, Parameter, module_device
from chainrule.nn.counting import ModelSummary, summary
from chainrule.nn.conv import Conv1d, Conv2d
from chainrule.nn.cnn import CNN
from chainrule.nn.normalization import BatchNorm1d, BatchNorm2d
from chainrule.nn.pooling import AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from chainrule.nn.spatial import Dropout2d, Flatten, Unflatten

__all__ = [
    "ACTIVATIONS", "BCEWithLogitsLoss", "BinaryHingeLoss", "CrossEntropyLoss", "Dropout", "Identity",
    "LeakyReLU", "Linear", "MLP", "MSELoss", "Module", "ModelSummary", "MulticlassHingeLoss",
    "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh", "functional", "get_activation", "init",
    "module_device", "summary",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AvgPool1d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d",
    "CNN", "Conv1d", "Conv2d", "Dropout2d", "Flatten", "MaxPool1d", "MaxPool2d", "Unflatten",
]
