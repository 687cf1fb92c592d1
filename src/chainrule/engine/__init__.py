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
    recording,
    subscribe,
    unbroadcast,
)
from chainrule.engine.tensor import Tensor, topological_order
from chainrule.engine.api import (
    arange, cat, clamp, clip, concatenate, exp, full, full_like, linear, linear_relu, log,
    log_softmax, matmul, maximum, minimum, ones, ones_like, rand, rand_like, randn, randn_like,
    relu, sigmoid, softmax, sqrt, stack, tanh, tensor, where, zeros, zeros_like,
)
from chainrule.engine.conv import (
    adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d, conv2d_relu,
    max_pool1d, max_pool2d, max_pool2d_relu, pad,
)
from chainrule.engine.graph import Graph, trace
from chainrule.engine.devices import (
    Device, DeviceError, device, device_of, register_backend, to_device, to_host, unregister_backend,
)

__all__ = [
    "Device", "DeviceError", "device", "device_of", "register_backend", "to_device", "to_host",
    "unregister_backend",
    "Function", "Graph", "GraphFreedError", "Tensor", "arange", "backend", "cat",
    "clamp", "clip", "concatenate", "enable_grad", "exp", "float32", "float64",
    "full", "full_like", "is_grad_enabled", "linear", "linear_relu", "log", "log_softmax",
    "matmul", "maximum", "minimum", "no_grad", "ones", "ones_like", "rand", "rand_like", "randn",
    "randn_like", "recording", "relu", "sigmoid", "softmax", "sqrt", "stack", "tanh", "tensor",
    "topological_order", "trace", "unbroadcast", "where", "zeros", "zeros_like",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "conv1d", "conv2d",
    "conv2d_relu", "max_pool1d", "max_pool2d", "max_pool2d_relu", "pad",
]
