"""The autodiff engine: Tensor, the primitive ops, the backward pass and the array backend."""
from chainrule.engine import backend
from chainrule.engine.backend import float32, float64
from chainrule.engine.function import (
    Function,
    GraphFreedError,
    enable_grad,
    is_grad_enabled,
    no_grad,
    recording,
    unbroadcast,
)
from chainrule.engine.tensor import Tensor, topological_order
from chainrule.engine.api import (
    arange, cat, clip, concatenate, exp, full, full_like, linear, log, matmul, maximum, minimum,
    ones, ones_like, rand, rand_like, randn, randn_like, relu, sigmoid, sqrt, stack, tanh, tensor,
    where, zeros, zeros_like,
)
from chainrule.engine.conv import (
    adaptive_avg_pool1d, adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d, conv2d_relu,
    max_pool1d, max_pool2d, pad,
)
from chainrule.engine.graph import Graph, trace
from chainrule.engine.devices import (
    Device, DeviceError, device, device_of, register_backend, to_device, to_host, unregister_backend,
)

__all__ = [
    "Device", "DeviceError", "device", "device_of", "register_backend", "to_device", "to_host",
    "unregister_backend",
    "Function", "Graph", "GraphFreedError", "Tensor", "arange", "backend", "cat", "clip",
    "concatenate", "enable_grad", "exp", "float32", "float64", "full", "full_like",
    "is_grad_enabled", "linear", "log", "matmul", "maximum", "minimum", "no_grad", "ones", "recording",
    "ones_like", "rand", "rand_like", "randn", "randn_like", "relu", "sigmoid", "sqrt", "stack",
    "tanh", "tensor", "topological_order", "trace", "unbroadcast", "where", "zeros", "zeros_like",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "conv1d", "conv2d",
    "conv2d_relu", "max_pool1d", "max_pool2d", "pad",
]
