"""The autodiff engine: Tensor, the primitive and fused ops, the backward pass and the array backend.

The modules import each other in one direction only: backend → function → ops → fused →
tensor → api → graph.
"""
from chainrule.engine import backend
from chainrule.engine.backend import float32, float64
from chainrule.engine.function import (
    ELEMENTWISE,
    Function,
    GraphFreedError,
    elementwise,
    enable_grad,
    is_grad_enabled,
    no_grad,
    subscribe,
    unbroadcast,
)
from chainrule.engine.tensor import Tensor
from chainrule.engine.api import (
    arange, cat, clamp, clip, concatenate, exp, full, full_like, linear, linear_relu, log,
    log_softmax, matmul, maximum, minimum, ones, ones_like, rand, rand_like, randn, randn_like,
    relu, sigmoid, softmax, sqrt, stack, tanh, tensor, where, zeros, zeros_like,
)
from chainrule.engine.conv import (
    adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d, conv2d_relu,
    max_pool1d, max_pool2d, pad,
)
from chainrule.engine.graph import Graph, trace

__all__ = [
    "Function", "Graph", "GraphFreedError", "Tensor", "arange", "backend", "cat",
    "clamp", "clip", "concatenate", "enable_grad", "exp", "float32", "float64",
    "full", "full_like", "is_grad_enabled", "linear", "linear_relu", "log", "log_softmax",
    "matmul", "maximum", "minimum", "no_grad", "ones", "ones_like", "rand", "rand_like", "randn",
    "randn_like", "relu", "sigmoid", "softmax", "sqrt", "stack", "tanh", "tensor",
    "trace", "unbroadcast", "where", "zeros", "zeros_like",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "conv1d", "conv2d",
    "conv2d_relu", "max_pool1d", "max_pool2d", "pad",
]
