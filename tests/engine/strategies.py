"""Hypothesis strategies for the engine's tests: shapes, broadcastable pairs, float64 arrays."""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


def arrays(shape, low=-3.0, high=3.0, away_from=None):
    """float64 arrays in [low, high]; ``away_from`` keeps entries 1e-2 from a kink (e.g. 0)."""
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)
    if away_from is not None:
        elements = elements.filter(lambda v: abs(v - away_from) > 1e-2)
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def broadcast_pair(draw, low=-3.0, high=3.0):
    """Two float64 arrays whose shapes broadcast against each other (possibly unequal)."""
    shapes2 = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4))
    a, b = shapes2.input_shapes
    return draw(arrays(a, low, high)), draw(arrays(b, low, high))
