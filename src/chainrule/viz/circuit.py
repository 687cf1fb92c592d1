"""Circuit diagrams of computational graphs, drawn the way the lecture draws them.

Every input shows its name and value, every gate its operation (``+``, ``*``, ``exp``,
``1/x``, ``**2``, ``σ`` ...), every constant its value, and every wire the forward value
flowing along it (above, green) and, once ``backward()`` has run, the gradient of the output
with respect to that value (below, red). A tensor with more than four elements shows its shape.

:func:`to_dot` writes Graphviz DOT text; :func:`draw` also renders it, with Graphviz ``dot``
when it is installed and otherwise with matplotlib and a layered layout of its own, so it
works after a plain ``pip install``. The returned :class:`Circuit` displays itself inline in
Jupyter.

Example:
    >>> import chainrule as cr
    >>> x = cr.tensor(-2.0, requires_grad=True, name="x")
    >>> y = cr.tensor(5.0, requires_grad=True, name="y")
    >>> z = cr.tensor(-4.0, requires_grad=True, name="z")
    >>> f = (x + y) * z
    >>> f.backward()
    >>> print(to_dot(f).splitlines()[0])
    digraph circuit {
    >>> circuit = draw(f, "fxyz.png")   # writes fxyz.dot and fxyz.png  # doctest: +SKIP
"""
from __future__ import annotations

import html
import io
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chainrule import validation as check
from chainrule.io import write_atomic

__all__ = ["Circuit", "draw", "to_dot", "FORMATS", "ENGINES", "MAX_MATPLOTLIB_NODES"]

FORMATS = ("svg", "png", "pdf", "dot")
"""Output formats :func:`draw` and :meth:`Circuit.save` accept."""

ENGINES = ("auto", "graphviz", "matplotlib")
"""Renderers :func:`draw` accepts; ``auto`` uses Graphviz when ``dot`` is on the PATH."""

VALUE_COLOR = "#2e7d32"  # green, as in the lecture's diagrams
GRAD_COLOR = "#c62828"  # red
#: What the two colours mean, written under every drawing.
LEGEND = ("value (forward pass), above each wire", "gradient (backward pass), below each wire")


def _has_grads(spec) -> bool:
    return any(e.grad is not None for e in spec.edges)


def _legend_html(grads: bool) -> str:
    value = f'<FONT COLOR="{VALUE_COLOR}">{LEGEND[0]}</FONT>'
    return value + (f'&nbsp;&nbsp;&nbsp;<FONT COLOR="{GRAD_COLOR}">{LEGEND[1]}</FONT>' if grads else "")
_WIRE_COLOR = "#555555"
_CONST_COLOR = "#666666"

# --- the picture, independent of the renderer ------------------------------------------


@dataclass(frozen=True)
class _Node:
    id: str
    kind: str  # "input" (a leaf that requires grad), "const", "gate", "output"
    label: str  # the gate's symbol, or the leaf's name ("" when unnamed)
    value: str = ""  # a leaf's value
    name: str = ""  # a named intermediate result, shown beside its gate


@dataclass(frozen=True)
class _Edge:
    src: str
    dst: str
    value: str
    grad: str | None


@dataclass(frozen=True)
class _Spec:
    nodes: tuple
    edges: tuple


def _to_numpy(a):
    if a is None:
        return None
    # CuPy arrays copy to the host with .get(); checking the module avoids importing cupy.
    if type(a).__module__.startswith("cupy"):
        a = a.get()
    return np.asarray(a)


def _format_array(a, precision: int) -> str:
    a = _to_numpy(a)
    if a.size > 4:
        return str(tuple(a.shape))
    if a.dtype.kind == "f":
        # Rounding first and adding 0.0 turns -0.001 into "0.00" rather than "-0.00".
        a = np.round(a.astype(np.float64), precision) + 0.0

    def fmt(v):
        if isinstance(v, list):
            return "[" + ", ".join(fmt(u) for u in v) + "]"
        return f"{v:.{precision}f}" if isinstance(v, float) else str(v)

    return fmt(a.tolist())


def _gate_label(t) -> str:
    # Each op declares its gate's symbol (Function.symbol; the elementwise registry's too).
    op = t._op
    args = getattr(t, "_op_args", None) or ""
    symbol = getattr(t, "_op_symbol", None) or str(op)
    if op == "pow":
        return f"**{args}"
    return f"{symbol}({args})" if args else symbol


def _build_spec(t, precision: int, show_grad: bool) -> _Spec:
    from chainrule.engine import Tensor, trace

    if not isinstance(t, Tensor):
        raise TypeError(f"expected a chainrule Tensor, got {type(t).__name__}")
    check.integer("precision", precision, 0, 12)
    graph = trace(t)
    ids = {id(n): f"n{i}" for i, n in enumerate(graph.nodes)}

    def grad_of(n):
        if not show_grad or getattr(n, "grad", None) is None:
            return None
        return _format_array(n.grad, precision)

    nodes = []
    for n in graph.nodes:
        name = n.name or ""
        if n._op is None:
            kind = "input" if n.requires_grad else "const"
            nodes.append(_Node(ids[id(n)], kind, name, _format_array(n.data, precision)))
        else:
            nodes.append(_Node(ids[id(n)], "gate", _gate_label(n), name=name))
    nodes.append(_Node("out", "output", t.name or "out"))

    edges = [
        _Edge(ids[id(p)], ids[id(c)], _format_array(p.data, precision), grad_of(p))
        for p, c in graph.edges
    ]
    edges.append(_Edge(ids[id(t)], "out", _format_array(t.data, precision), grad_of(t)))
    return _Spec(tuple(nodes), tuple(edges))


# --- DOT -----------------------------------------------------------------------------------


def _html(text: str) -> str:
    return html.escape(text, quote=False)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _spec_to_dot(spec: _Spec) -> str:
    lines = [
        "digraph circuit {",
        '  graph [rankdir=LR, bgcolor="white", nodesep=0.35, ranksep=0.9, labelloc=b, fontname="Helvetica", '
        f'fontsize=10, label=<{_legend_html(_has_grads(spec))}>];',
        '  node [fontname="Helvetica", fontsize=12];',
        f'  edge [fontname="Helvetica", fontsize=10, arrowsize=0.7, color="{_WIRE_COLOR}"];',
    ]
    for n in spec.nodes:
        if n.kind == "input":
            title = f"<B>{_html(n.label)}</B><BR/>" if n.label else ""
            lines.append(f"  {n.id} [shape=box, style=rounded, label=<{title}{_html(n.value)}>];")
        elif n.kind == "const":
            title = f"{_html(n.label)}<BR/>" if n.label else ""
            lines.append(
                f'  {n.id} [shape=box, style="rounded,dashed", color="{_CONST_COLOR}", '
                f'fontcolor="{_CONST_COLOR}", label=<{title}{_html(n.value)}>];'
            )
        elif n.kind == "gate":
            extra = f", xlabel={_quoted(n.name)}" if n.name else ""
            lines.append(f"  {n.id} [shape=circle, width=0.5, label={_quoted(n.label)}{extra}];")
        else:
            lines.append(f"  {n.id} [shape=plaintext, label={_quoted(n.label)}];")
    for e in spec.edges:
        label = f'<FONT COLOR="{VALUE_COLOR}">{_html(e.value)}</FONT>'
        if e.grad is not None:
            label += f'<BR/><FONT COLOR="{GRAD_COLOR}">{_html(e.grad)}</FONT>'
        lines.append(f"  {e.src} -> {e.dst} [label=<{label}>];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_dot(t, *, precision: int = 2, show_grad: bool = True) -> str:
    """Graphviz DOT text of the circuit that computed ``t``, laid out left to right.

    Node ids are ``n0, n1, ...`` in the order of ``chainrule.trace(t).nodes`` (inputs first)
    plus ``out`` for the output wire, so the same graph always gives the same text. Each edge's
    label holds the value of its source (green) above its gradient (red); the gradient line is
    left out when ``show_grad`` is false or the source has no ``.grad``. Values are printed
    with ``precision`` decimals.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor(3.0, requires_grad=True, name="x")
        >>> y = x ** 2
        >>> y.backward()
        >>> print(to_dot(y))          # doctest: +ELLIPSIS
        digraph circuit {
        ...
    """
    return _spec_to_dot(_build_spec(t, precision, show_grad))


# --- matplotlib renderer -------------------------------------------------------------------

_LABEL_ROOM = 1.4  # least free length of a wire between two layers, in data units
_CHAR_W = 0.085  # width of one character of a wire label (9 pt), in data units
_GATE_R = 0.32
_DUMMY_H = 0.1  # half height reserved for a wire passing through a layer
_INCH_PER_UNIT = 0.85
_MAX_INCHES = 60.0
MAX_MATPLOTLIB_NODES = 2000
"""The largest graph the matplotlib renderer draws; beyond it a drawing is unreadable anyway."""


def _node_extent(n: _Node) -> tuple:
    """Half width and half height of a node's shape, in data units."""
    if n.kind == "gate":
        r = max(_GATE_R, 0.055 * len(n.label) + 0.1)
        return r, r
    if n.kind == "output":
        return 0.05, 0.05
    lines = [s for s in (n.label, n.value) if s]
    width = max(0.75, 0.095 * max((len(s) for s in lines), default=1) + 0.25)
    return width / 2, 0.17 * len(lines) + 0.08


def _place(desired: list, gaps: list) -> list:
    """Heights closest (least squares) to ``desired`` that keep the order and the gaps.

    ``gaps[j]`` is the least distance between entry ``j - 1`` (above) and entry ``j``.
    Subtracting the cumulative gaps turns this into isotonic regression, solved by pooling
    adjacent violators.
    """
    offsets, total = [], 0.0
    for j in range(len(desired)):
        total += gaps[j] if j else 0.0
        offsets.append(total)
    blocks: list = []  # [sum, count] of targets, means non-increasing
    for d, o in zip(desired, offsets):
        blocks.append([d + o, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] < blocks[-1][0] / blocks[-1][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    out = []
    for s, c in blocks:
        out.extend([s / c] * c)
    return [z - o for z, o in zip(out, offsets)]


def _layout(spec: _Spec):
    """Positions of the nodes, and the bends of wires that skip layers.

    Nodes go into longest-path layers from the inputs (constants are pulled right, next to
    the gate they feed, the way the lecture draws its ``+1``). A wire that skips layers gets a
    waypoint in each layer it crosses, so it is routed around the gates there instead of
    through them (the Sugiyama method). Each layer is ordered by the barycenter of its
    neighbours, then placed at the mean height of its neighbours without overlaps.
    Returns ``(pos, routes)``: ``pos[id] = (x, y)`` and ``routes[(src, dst)]`` the waypoints.
    """
    order = [n.id for n in spec.nodes]
    kind = {n.id: n.kind for n in spec.nodes}
    half_h = {n.id: _node_extent(n)[1] for n in spec.nodes}
    pairs = list(dict.fromkeys((e.src, e.dst) for e in spec.edges))
    children: dict = {i: [] for i in order}
    parents: dict = {i: [] for i in order}
    for s, d in pairs:
        children[s].append(d)
        parents[d].append(s)

    layer = {}
    for i in order:  # topological order: parents come first
        layer[i] = 1 + max((layer[p] for p in parents[i]), default=-1)
    for i in reversed(order):
        if kind[i] == "const" and children[i]:
            layer[i] = min(layer[c] for c in children[i]) - 1

    layers: dict = {}
    for i in order:
        layers.setdefault(layer[i], []).append(i)
    preds: dict = {i: [] for i in order}
    succs: dict = {i: [] for i in order}
    routes = {}
    for s, d in pairs:
        prev, chain = s, []
        for k in range(layer[s] + 1, layer[d]):
            v = f"{s}>{d}@{k}"
            layers[k].append(v)
            preds[v], succs[v] = [], []
            half_h[v] = _DUMMY_H
            chain.append(v)
            succs[prev].append(v)
            preds[v].append(prev)
            prev = v
        succs[prev].append(d)
        preds[d].append(prev)
        routes[(s, d)] = chain
    ks = sorted(layers)

    def mean(values):
        return sum(values) / len(values)

    # Order within layers: barycenter sweeps down, up, down.
    rank = {v: r for k in ks for r, v in enumerate(layers[k])}
    for sweep in range(3):
        down = sweep % 2 == 0
        for k in (ks[1:] if down else ks[-2::-1]):
            def key(v):
                nbrs = preds[v] if down else succs[v]
                return (mean([rank[n] for n in nbrs]) if nbrs else rank[v], rank[v])

            layers[k].sort(key=key)
            rank.update({v: r for r, v in enumerate(layers[k])})

    # Heights: start evenly spaced, then pull each node towards its neighbours.
    y = {}
    for k in ks:
        for r, v in enumerate(layers[k]):
            y[v] = -1.2 * r
    for sweep in range(8):
        down = sweep % 2 == 0
        for k in (ks if down else ks[::-1]):
            members = layers[k]
            desired = []
            for v in members:
                nbrs = (preds[v] if down else succs[v]) or (succs[v] if down else preds[v])
                desired.append(mean([y[n] for n in nbrs]) if nbrs else y[v])
            gaps = [0.0] + [
                half_h[a] + half_h[b] + (0.5 if a in kind and b in kind else 0.35)
                for a, b in zip(members, members[1:])
            ]
            for v, h in zip(members, _place(desired, gaps)):
                y[v] = h

    # Each gap between layers is as wide as the widest shapes on its two sides plus the
    # longest label riding on a wire that leaves the left layer, so labels fit their wires.
    half_w = {n.id: _node_extent(n)[0] for n in spec.nodes}
    label_chars = {k: 0 for k in ks}
    for e in spec.edges:
        label_chars[layer[e.src]] = max(label_chars[layer[e.src]], len(e.value), len(e.grad or ""))
    widest = {k: max(half_w.get(v, 0.0) for v in layers[k]) for k in ks}
    x = {ks[0]: 0.0}
    for prev, k in zip(ks, ks[1:]):
        room = max(_LABEL_ROOM, _CHAR_W * label_chars[prev] + 0.5)
        x[k] = x[prev] + widest[prev] + widest[k] + room
    pos = {v: (x[k], y[v]) for k in ks for v in layers[k]}
    node_pos = {i: pos[i] for i in order}
    return node_pos, {pair: [pos[v] for v in chain] for pair, chain in routes.items()}


def _boundary(center, extent, toward, kind):
    """Where the straight line from ``center`` to ``toward`` leaves the node's shape."""
    (cx, cy), (hw, hh) = center, extent
    dx, dy = toward[0] - cx, toward[1] - cy
    d = float(np.hypot(dx, dy)) or 1.0
    ux, uy = dx / d, dy / d
    if kind == "gate":
        t = hw
    else:
        t = min(hw / abs(ux) if ux else np.inf, hh / abs(uy) if uy else np.inf)
    return cx + ux * t, cy + uy * t


def _render_matplotlib(spec: _Spec, fmt: str, dpi: int = 100) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path as MplPath

    if len(spec.nodes) > MAX_MATPLOTLIB_NODES:
        raise ValueError(
            f"the graph has {len(spec.nodes)} nodes, more than the matplotlib renderer draws "
            f"({MAX_MATPLOTLIB_NODES}); install Graphviz (engine='graphviz') or use to_dot()"
        )
    pos, routes = _layout(spec)
    nodes = {n.id: n for n in spec.nodes}
    extent = {n.id: _node_extent(n) for n in spec.nodes}
    points = list(pos.values()) + [p for r in routes.values() for p in r]
    x0 = min(p[0] for p in points) - 1.3
    x1 = max(p[0] for p in points) + 1.3
    y0 = min(p[1] for p in points) - 0.9
    y1 = max(p[1] for p in points) + 0.9
    # Widen small drawings to a legible minimum by widening the data range, so that one data
    # unit stays the same length across and up and circles stay round.
    w_units = max(x1 - x0, 3.0 / _INCH_PER_UNIT)
    h_units = max(y1 - y0, 2.0 / _INCH_PER_UNIT)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    x0, x1, y0, y1 = cx - w_units / 2, cx + w_units / 2, cy - h_units / 2, cy + h_units / 2
    scale = min(1.0, _MAX_INCHES / (w_units * _INCH_PER_UNIT), _MAX_INCHES / (h_units * _INCH_PER_UNIT))

    fig = Figure(figsize=(w_units * _INCH_PER_UNIT * scale, h_units * _INCH_PER_UNIT * scale),
                 dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.axis("off")

    for n in spec.nodes:
        cx, cy = pos[n.id]
        hw, hh = extent[n.id]
        if n.kind == "gate":
            ax.add_patch(Circle((cx, cy), hw, facecolor="white", edgecolor="black", lw=1.3,
                                zorder=3))
            ax.text(cx, cy, n.label, ha="center", va="center", fontsize=12, zorder=4)
            if n.name:
                ax.text(cx, cy - hh - 0.08, n.name, ha="center", va="top", fontsize=9,
                        style="italic", zorder=4)
        elif n.kind in ("input", "const"):
            const = n.kind == "const"
            color = _CONST_COLOR if const else "black"
            ax.add_patch(FancyBboxPatch(
                (cx - hw, cy - hh), 2 * hw, 2 * hh, boxstyle="round,pad=0.0,rounding_size=0.1",
                facecolor="white", edgecolor=color, linestyle="--" if const else "-", lw=1.2,
                zorder=3,
            ))
            text = "\n".join(s for s in (n.label, n.value) if s)
            ax.text(cx, cy, text, ha="center", va="center", fontsize=10, color=color, zorder=4)
        else:
            ax.text(cx + 0.1, cy, n.label, ha="left", va="center", fontsize=11, zorder=4)

    seen: dict = {}
    for e in spec.edges:
        k = seen.get((e.src, e.dst), 0)
        seen[(e.src, e.dst)] = k + 1
        via = routes[(e.src, e.dst)]
        start = _boundary(pos[e.src], extent[e.src], via[0] if via else pos[e.dst],
                          nodes[e.src].kind)
        end = _boundary(pos[e.dst], extent[e.dst], via[-1] if via else pos[e.src],
                        nodes[e.dst].kind)
        style = dict(arrowstyle="-|>", mutation_scale=11, color=_WIRE_COLOR, lw=1.2, zorder=2)
        if via:
            verts = [start, *via, end]
            ax.add_patch(FancyArrowPatch(path=MplPath(verts), **style))
        else:
            # The same input used twice by one gate (x * x): bend the extra wires apart.
            rad = 0.0 if k == 0 else (0.3 if k % 2 else -0.3) * ((k + 1) // 2)
            ax.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={rad}",
                                         shrinkA=0, shrinkB=0, **style))
        if k:
            continue  # a repeated wire carries the same value and gradient
        # Labels ride along the first stretch of the wire, near the value's source.
        seg_end = via[0] if via else end
        dx, dy = seg_end[0] - start[0], seg_end[1] - start[1]
        d = float(np.hypot(dx, dy)) or 1.0
        nx, ny = -dy / d, dx / d
        mid = ((start[0] + seg_end[0]) / 2, (start[1] + seg_end[1]) / 2)
        angle = float(np.degrees(np.arctan2(dy, dx)))
        common = dict(textcoords="offset points", ha="center", rotation=angle,
                      rotation_mode="anchor", fontsize=9, zorder=5)
        ax.annotate(e.value, mid, xytext=(2.5 * nx, 2.5 * ny), va="bottom", color=VALUE_COLOR,
                    **common)
        if e.grad is not None:
            ax.annotate(e.grad, mid, xytext=(-2.5 * nx, -2.5 * ny), va="top", color=GRAD_COLOR,
                        **common)

    # The legend: which colour is the forward value and which the gradient.
    fig.text(0.01, 0.01, LEGEND[0], color=VALUE_COLOR, fontsize=8, ha="left", va="bottom")
    if _has_grads(spec):
        fig.text(0.99, 0.01, LEGEND[1], color=GRAD_COLOR, fontsize=8, ha="right", va="bottom")
    buf = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else None
    fig.savefig(buf, format=fmt, facecolor="white", metadata=metadata)
    return buf.getvalue()


# --- Graphviz renderer ---------------------------------------------------------------------


def _render_graphviz(dot: str, fmt: str) -> bytes:
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(
            "Graphviz 'dot' was not found on the PATH; install Graphviz or use engine='matplotlib'"
        )
    try:
        proc = subprocess.run(
            [exe, f"-T{fmt}"], input=dot.encode("utf-8"), capture_output=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError("Graphviz 'dot' did not finish within 120 s") from None
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(
            f"Graphviz 'dot' failed with exit code {proc.returncode}: "
            f"{detail[0] if detail else 'no message'}"
        )
    return proc.stdout


def _write_atomic(path: Path, data: bytes) -> None:
    write_atomic(path, lambda fh: fh.write(data), make_parents=True)


def _check_format(fmt: str) -> str:
    return check.choice("format", str(fmt).lower().lstrip("."), FORMATS)


class Circuit:
    """A drawn circuit: its DOT text and the means to render it to SVG, PNG or PDF.

    ``engine`` is the renderer it uses (``"graphviz"`` or ``"matplotlib"``), ``path`` the
    rendered file :func:`draw` wrote (``None`` when none) and ``dot_path`` the DOT file.
    Jupyter shows a Circuit inline through ``_repr_svg_`` / ``_repr_png_``. Renders are cached,
    and the circuit is a snapshot: changing the tensors later does not change it.

    Example:
        >>> circuit = draw(f)                 # doctest: +SKIP
        >>> circuit.save("f.svg")             # doctest: +SKIP
    """

    def __init__(self, dot: str, spec: _Spec, engine: str):
        self.dot = dot
        self.engine = engine
        self.path: Path | None = None
        self.dot_path: Path | None = None
        self._spec = spec
        self._cache: dict[str, bytes] = {}

    def render(self, format: str = "svg") -> bytes:
        """The circuit as bytes in ``format`` (``svg``, ``png``, ``pdf`` or ``dot``).

        Renders once per format and caches the result.

        Example:
            >>> draw(f).render("png")[:4]     # doctest: +SKIP
            b'\\x89PNG'
        """
        fmt = _check_format(format)
        if fmt == "dot":
            return self.dot.encode("utf-8")
        if fmt not in self._cache:
            if self.engine == "graphviz":
                self._cache[fmt] = _render_graphviz(self.dot, fmt)
            else:
                self._cache[fmt] = _render_matplotlib(self._spec, fmt)
        return self._cache[fmt]

    def save(self, path, *, format: str | None = None) -> Path:
        """Write the circuit to ``path``; the format comes from ``format`` or the suffix.

        Returns the path written; a path without a suffix gets one. The file appears whole
        or not at all.

        Example:
            >>> draw(f).save("circuit.pdf")   # doctest: +SKIP
            PosixPath('circuit.pdf')
        """
        path = Path(path)
        fmt = _check_format(format or path.suffix or "svg")
        if not path.suffix:
            path = path.with_suffix("." + fmt)
        _write_atomic(path, self.render(fmt))
        return path

    def _repr_svg_(self) -> str:
        return self.render("svg").decode("utf-8")

    def _repr_png_(self) -> bytes:
        return self.render("png")

    def __repr__(self) -> str:
        gates = sum(1 for n in self._spec.nodes if n.kind == "gate")
        where = f", path={str(self.path)!r}" if self.path else ""
        return f"Circuit(gates={gates}, engine={self.engine!r}{where})"


def draw(t, path=None, *, format: str | None = None, engine: str = "auto",
         precision: int = 2, show_grad: bool = True) -> Circuit:
    """Draw the circuit that computed ``t``; write DOT and a rendering when ``path`` is given.

    With a ``path``, the DOT text always goes to ``path.with_suffix(".dot")`` and, unless the
    format is ``dot``, the rendering to ``path.with_suffix("." + format)``; the format is
    ``format``, else the path's suffix, else ``svg``. ``engine="graphviz"`` renders with
    Graphviz ``dot`` (RuntimeError when it is missing), ``"matplotlib"`` with matplotlib's own
    layered layout, and ``"auto"`` picks Graphviz when ``dot`` is on the PATH (and falls back
    to matplotlib, with a RuntimeWarning, if ``dot`` fails). Without a path nothing is written;
    the returned :class:`Circuit` can still ``save`` and show itself. The matplotlib renderer
    refuses graphs of more than ``MAX_MATPLOTLIB_NODES`` nodes (ValueError; the DOT file is
    still written).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor(-2.0, requires_grad=True, name="x")
        >>> f = (x + 3) * x
        >>> f.backward()
        >>> c = draw(f, "f.png", engine="matplotlib")  # doctest: +SKIP
        >>> c.path, c.dot_path                         # doctest: +SKIP
        (PosixPath('f.png'), PosixPath('f.dot'))
    """
    check.choice("engine", engine, ENGINES)
    fmt = _check_format(format) if format is not None else None
    spec = _build_spec(t, precision, show_grad)
    resolved = engine
    if engine == "auto":
        resolved = "graphviz" if shutil.which("dot") else "matplotlib"
    elif engine == "graphviz" and shutil.which("dot") is None:
        raise RuntimeError(
            "Graphviz 'dot' was not found on the PATH; install Graphviz or use engine='matplotlib'"
        )
    circuit = Circuit(_spec_to_dot(spec), spec, resolved)
    if path is None:
        return circuit

    path = Path(path)
    fmt = fmt or _check_format(path.suffix or "svg")
    circuit.dot_path = path.with_suffix(".dot")
    _write_atomic(circuit.dot_path, circuit.dot.encode("utf-8"))
    if fmt == "dot":
        return circuit
    target = path.with_suffix("." + fmt)
    try:
        data = circuit.render(fmt)
    except RuntimeError as exc:
        if engine != "auto":
            raise
        # Graphviz is installed but failed on this graph; the drawing still matters more.
        warnings.warn(f"{exc}; rendering with matplotlib instead", RuntimeWarning, stacklevel=2)
        circuit.engine = "matplotlib"
        data = circuit.render(fmt)
    _write_atomic(target, data)
    circuit.path = target
    return circuit


def layout(t, *, precision: int = 2) -> dict:
    """The drawing of the circuit that computed ``t``, as data: what a renderer of its own needs.

    The same picture :func:`draw` renders with matplotlib, before any rendering: ``nodes`` (each
    with ``id``, ``kind`` — ``"input"``, ``"const"``, ``"gate"`` or ``"output"`` —, ``label``,
    ``value``, ``name``, the center ``x``, ``y`` and the half extents ``w``, ``h``, in data units
    with ``y`` growing upwards) and ``edges`` (``src``, ``dst``, the forward ``value`` and the
    ``grad`` written on the wire, and ``points``, the bends of a wire that skips layers). Node
    ``"n{i}"`` is ``trace(t).nodes[i]``; ``"out"`` is the circuit's output. The browser
    playground draws its circuits from this.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor(-2.0, requires_grad=True, name="x")
        >>> y = cr.tensor(5.0, requires_grad=True, name="y")
        >>> f = x + y
        >>> f.backward()
        >>> d = layout(f)
        >>> [(n["id"], n["kind"], n["label"]) for n in d["nodes"]]
        [('n0', 'input', 'x'), ('n1', 'input', 'y'), ('n2', 'gate', '+'), ('out', 'output', 'out')]
        >>> [(e["src"], e["dst"], e["value"], e["grad"]) for e in d["edges"]][-1]
        ('n2', 'out', '3.00', '1.00')
    """
    spec = _build_spec(t, precision, True)
    pos, routes = _layout(spec)
    nodes = []
    for n in spec.nodes:
        hw, hh = _node_extent(n)
        x, y = pos[n.id]
        nodes.append({"id": n.id, "kind": n.kind, "label": n.label, "value": n.value, "name": n.name,
                      "x": float(x), "y": float(y), "w": float(hw), "h": float(hh)})
    edges = [{"src": e.src, "dst": e.dst, "value": e.value, "grad": e.grad,
              "points": [[float(a), float(b)] for a, b in routes.get((e.src, e.dst), [])]}
             for e in spec.edges]
    return {"nodes": nodes, "edges": edges}
