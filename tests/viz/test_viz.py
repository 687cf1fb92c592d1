"""Tests for chainrule.viz: circuit diagrams (DOT, matplotlib, Graphviz) and the plots."""
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.expr import evaluate
from chainrule.viz import (
    Circuit,
    draw,
    plot_confusion_matrix,
    plot_decision_regions,
    plot_history,
    plot_loss_curves,
    plot_weight_images,
    to_dot,
)
from chainrule.viz import circuit as circuit_mod

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HAVE_DOT = shutil.which("dot") is not None


# --- helpers -------------------------------------------------------------------------------


def scalar(v, name):
    return cr.tensor(v, requires_grad=True, name=name, dtype="float64")


def xyz_circuit():
    x, y, z = scalar(-2.0, "x"), scalar(5.0, "y"), scalar(-4.0, "z")
    f = (x + y) * z
    f.backward()
    return f


def sigmoid_circuit():
    """The lecture's circuit, gate by gate: *, +, *-1, exp, +1, 1/x."""
    w0, x0, w1, x1, w2 = (scalar(v, n) for v, n in
                          [(2.0, "w0"), (-1.0, "x0"), (-3.0, "w1"), (-2.0, "x1"), (-3.0, "w2")])
    dot = w0 * x0 + w1 * x1 + w2
    f = 1 / ((dot * -1).exp() + 1)
    f.backward()
    return f


def parse_dot(text):
    """{id: attribute text} for nodes and [(src, dst, value, grad)] for edges."""
    nodes, edges = {}, []
    for line in text.splitlines():
        m = re.fullmatch(r"\s*(\w+) -> (\w+) \[label=<(.*)>\];", line)
        if m:
            value = re.search(rf'COLOR="{circuit_mod.VALUE_COLOR}">([^<]*)<', m.group(3))
            grad = re.search(rf'COLOR="{circuit_mod.GRAD_COLOR}">([^<]*)<', m.group(3))
            edges.append((m.group(1), m.group(2), value.group(1), grad.group(1) if grad else None))
            continue
        m = re.fullmatch(r"\s*(n\d+|out) \[(.*)\];", line)
        if m:
            nodes[m.group(1)] = m.group(2)
    return nodes, edges


def node_id(nodes, needle):
    found = [i for i, attrs in nodes.items() if needle in attrs]
    assert len(found) == 1, (needle, nodes)
    return found[0]


def check_image(path, min_w=200, min_h=100):
    import matplotlib.image

    assert Path(path).read_bytes()[:8] == PNG_SIGNATURE
    img = matplotlib.image.imread(path)
    h, w = img.shape[:2]
    assert w > min_w and h > min_h, (w, h)
    assert img[..., :3].std() > 0.01  # not blank
    return img


def has_color(img, hex_color, tol=0.08):
    rgb = np.array([int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return bool((np.abs(img[..., :3] - rgb).max(axis=-1) < tol).any())


def no_temp_files(folder):
    return [p for p in os.listdir(folder) if p.endswith(".tmp")] == []


# --- to_dot --------------------------------------------------------------------------------


def test_to_dot_of_the_lecture_circuit_has_every_value_and_gradient_on_the_right_wire():
    text = to_dot(xyz_circuit())
    assert text.startswith("digraph circuit {") and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}") and "rankdir=LR" in text
    nodes, edges = parse_dot(text)
    x, y, z = (node_id(nodes, f"<B>{n}</B>") for n in "xyz")
    assert "-2.00" in nodes[x] and "5.00" in nodes[y] and "-4.00" in nodes[z]
    add = node_id(nodes, 'label="+"')
    mul = node_id(nodes, 'label="*"')
    assert set(edges) == {
        (x, add, "-2.00", "-4.00"),
        (y, add, "5.00", "-4.00"),
        (add, mul, "3.00", "-4.00"),
        (z, mul, "-4.00", "3.00"),
        (mul, "out", "-12.00", "1.00"),
    }


def test_to_dot_of_the_lecture_sigmoid_circuit():
    nodes, edges = parse_dot(to_dot(sigmoid_circuit()))
    by_src = {}
    for src, dst, value, grad in edges:
        by_src.setdefault(src, set()).add((value, grad))
    expected = {"w0": ("2.00", "-0.20"), "x0": ("-1.00", "0.39"), "w1": ("-3.00", "-0.39"),
                "x1": ("-2.00", "-0.59"), "w2": ("-3.00", "0.20")}
    for name, wire in expected.items():
        assert by_src[node_id(nodes, f"<B>{name}</B>")] == {wire}
    for symbol, wire in [("exp", ("0.37", "-0.53")), ("1/x", ("0.73", "1.00"))]:
        assert by_src[node_id(nodes, f'label="{symbol}"')] == {wire}
    # The *-1 and +1 gates take constants: a constant shows its value and has no gradient.
    consts = {i: a for i, a in nodes.items() if "dashed" in a}
    assert sorted(re.search(r"label=<(.*)>", a).group(1) for a in consts.values()) == ["-1.00", "1.00"]
    assert all(grad is None for src, _, _, grad in edges if src in consts)
    assert sum('label="+"' in a for a in nodes.values()) == 3
    assert sum('label="*"' in a for a in nodes.values()) == 3


def test_to_dot_is_deterministic_and_ids_follow_the_trace():
    a, b = to_dot(xyz_circuit()), to_dot(xyz_circuit())
    assert a == b
    f = xyz_circuit()
    nodes, _ = parse_dot(to_dot(f))
    assert list(nodes) == [f"n{i}" for i in range(len(cr.trace(f).nodes))] + ["out"]


def test_show_grad_false_and_before_backward_have_no_gradient_labels():
    x, y = scalar(1.5, "x"), scalar(2.0, "y")
    f = x * y
    before = to_dot(f)
    assert circuit_mod.GRAD_COLOR not in before
    f.backward()
    assert circuit_mod.GRAD_COLOR in to_dot(f)
    assert circuit_mod.GRAD_COLOR not in to_dot(f, show_grad=False)
    _, edges = parse_dot(to_dot(f))
    assert {(v, g) for _, _, v, g in edges} == {("1.50", "2.00"), ("2.00", "1.50"), ("3.00", "1.00")}


def test_precision_and_negative_zero():
    x = scalar(-0.0004, "x")
    f = x * 1000
    f.backward()
    text = to_dot(f, precision=3)
    assert "-0.400" in text and "1000.000" in text
    assert "<B>x</B><BR/>0.000" in to_dot(f, precision=3)  # -0.0004 rounds to 0.000, not -0.000
    with pytest.raises(ValueError, match=r"^precision must be a whole number in \[0, 12\]; got -1$"):
        to_dot(f, precision=-1)


def test_gate_symbols_for_every_op_of_the_expression_language():
    f, _ = evaluate("max(x, y) - min(x, y) / sigmoid(x) + relu(y) * tanh(x) + log(y)**2 + exp(-x)",
                    {"x": 0.5, "y": 2.0})
    f.backward()
    nodes, _ = parse_dot(to_dot(f))
    labels = {re.search(r'label="([^"]*)"', a).group(1) for a in nodes.values() if "circle" in a}
    assert {"max", "min", "\u2212", "/", "\u03c3", "relu", "tanh", "log", "**2", "exp", "*-1",
            "+", "*"} <= labels


def test_tensor_nodes_show_values_when_small_and_shapes_when_large():
    small = cr.tensor([1.0, -2.0], requires_grad=True, name="s", dtype="float64")
    big = cr.tensor(np.ones((2, 3)), requires_grad=True, name="b", dtype="float64")
    f = (big * 2).sum() + (small * small).sum()
    f.backward()
    nodes, edges = parse_dot(to_dot(f))
    assert "[1.00, -2.00]" in nodes[node_id(nodes, "<B>s</B>")]
    assert "(2, 3)" in nodes[node_id(nodes, "<B>b</B>")]
    wires = {(v, g) for src, _, v, g in edges}
    assert ("[1.00, -2.00]", "[2.00, -4.00]") in wires
    assert ("(2, 3)", "(2, 3)") in wires


def test_labels_are_escaped():
    x = scalar(1.0, 'a<b>&"c"')
    f = x * 2
    f.name = 'out "f"'
    text = to_dot(f)
    assert "<B>a&lt;b&gt;&amp;\"c\"</B>" in text
    assert 'label="out \\"f\\""' in text


def test_a_repeated_input_draws_two_wires():
    x = scalar(3.0, "x")
    f = x * x
    f.backward()
    _, edges = parse_dot(to_dot(f))
    assert [e for e in edges if e[1] != "out"] == [("n0", "n1", "3.00", "6.00")] * 2


def test_to_dot_rejects_non_tensors():
    with pytest.raises(TypeError):
        to_dot(3.0)


# --- layout ----------------------------------------------------------------------------------


def test_layout_layers_and_routes_long_wires_around_gates():
    spec = circuit_mod._build_spec(xyz_circuit(), 2, True)
    pos, routes = circuit_mod._layout(spec)
    nodes, _ = parse_dot(circuit_mod._spec_to_dot(spec))
    x, y, z = (node_id(nodes, f"<B>{n}</B>") for n in "xyz")
    add, mul = node_id(nodes, 'label="+"'), node_id(nodes, 'label="*"')
    assert pos[x][0] == pos[y][0] == pos[z][0] < pos[add][0] < pos[mul][0] < pos["out"][0]
    assert len(routes[(z, mul)]) == 1 and routes[(z, mul)][0][0] == pos[add][0]  # bend in layer 1
    assert routes[(x, add)] == [] and routes[(add, mul)] == []
    assert pos[x][1] > pos[y][1] > pos[z][1]  # inputs keep their order, top to bottom


def test_layout_pulls_constants_next_to_their_gate_and_keeps_nodes_apart():
    spec = circuit_mod._build_spec(sigmoid_circuit(), 2, True)
    pos, _ = circuit_mod._layout(spec)
    ids = {n.id: n for n in spec.nodes}
    consts = [e for e in spec.edges if ids[e.src].kind == "const"]
    assert len(consts) == 2
    for e in consts:
        # In the layer right before its gate: level with the gate's other input.
        others = [o.src for o in spec.edges if o.dst == e.dst and o.src != e.src]
        assert [pos[o][0] for o in others] == [pos[e.src][0]]
    by_x = {}
    for n in spec.nodes:
        by_x.setdefault(pos[n.id][0], []).append(n)
    for column in by_x.values():
        column.sort(key=lambda n: -pos[n.id][1])
        for a, b in zip(column, column[1:]):
            gap = pos[a.id][1] - pos[b.id][1]
            assert gap >= circuit_mod._node_extent(a)[1] + circuit_mod._node_extent(b)[1]


def test_place_keeps_order_and_gaps_closest_to_the_wish():
    assert circuit_mod._place([0.0, 0.0], [0.0, 1.0]) == [0.5, -0.5]
    assert circuit_mod._place([3.0, -3.0], [0.0, 1.0]) == [3.0, -3.0]
    assert circuit_mod._place([0.0, 0.0, 5.0], [0.0, 1.0, 1.0]) == pytest.approx([2.666667, 1.666667, 0.666667], abs=1e-6)


# --- draw with matplotlib ------------------------------------------------------------------


def test_draw_with_matplotlib_writes_dot_and_a_png_with_green_values_and_red_gradients(tmp_path):
    f = sigmoid_circuit()
    c = draw(f, tmp_path / "sigmoid.png", engine="matplotlib")
    assert isinstance(c, Circuit) and c.engine == "matplotlib"
    assert c.path == tmp_path / "sigmoid.png" and c.dot_path == tmp_path / "sigmoid.dot"
    assert (tmp_path / "sigmoid.dot").read_text() == to_dot(f) == c.dot
    img = check_image(c.path, min_w=1000, min_h=300)
    assert has_color(img, circuit_mod.VALUE_COLOR) and has_color(img, circuit_mod.GRAD_COLOR)
    assert no_temp_files(tmp_path)


def test_draw_without_gradients_has_no_red(tmp_path):
    x, y = scalar(1.0, "x"), scalar(2.0, "y")
    c = draw(x * y + 1, tmp_path / "f.png", engine="matplotlib")
    img = check_image(c.path)
    assert has_color(img, circuit_mod.VALUE_COLOR) and not has_color(img, circuit_mod.GRAD_COLOR)


def test_draw_svg_and_pdf_and_the_notebook_reprs(tmp_path):
    f = xyz_circuit()
    c = draw(f, tmp_path / "c", format="svg", engine="matplotlib")
    assert c.path == tmp_path / "c.svg" and (tmp_path / "c.dot").exists()
    svg = c.path.read_text()
    assert svg.startswith("<?xml") and "<svg" in svg and svg.rstrip().endswith("</svg>")
    assert c._repr_svg_() == svg
    png = c._repr_png_()
    assert png[:8] == PNG_SIGNATURE
    assert c.save(tmp_path / "c.pdf").read_bytes()[:5] == b"%PDF-"
    assert c.save(tmp_path / "copy.dot").read_text() == c.dot


def test_draw_without_a_path_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = draw(xyz_circuit(), engine="matplotlib")
    assert os.listdir(tmp_path) == [] and c.path is None and c.dot_path is None
    svg = c._repr_svg_()
    assert svg.startswith("<?xml") or svg.startswith("<svg")
    assert "Circuit(gates=2, engine='matplotlib')" == repr(c)


def test_draw_a_dot_path_writes_only_dot(tmp_path):
    c = draw(xyz_circuit(), tmp_path / "only.dot", engine="matplotlib")
    assert os.listdir(tmp_path) == ["only.dot"] and c.path is None


def test_draw_a_leaf_a_tensor_graph_and_a_repeated_input(tmp_path):
    x = scalar(3.0, "x")
    check_image(draw(x, tmp_path / "leaf.png", engine="matplotlib").path, min_w=200, min_h=100)
    f = x * x
    f.backward()
    check_image(draw(f, tmp_path / "sq.png", engine="matplotlib").path)
    w = cr.tensor(np.ones((3, 4)), requires_grad=True, name="W", dtype="float64")
    v = cr.tensor(np.arange(4.0), requires_grad=True, name="v", dtype="float64")
    g = (w @ v).relu().sum()
    g.backward()
    check_image(draw(g, tmp_path / "mat.png", engine="matplotlib").path)


def test_draw_rejects_bad_engines_and_formats(tmp_path):
    f = xyz_circuit()
    with pytest.raises(ValueError, match="engine"):
        draw(f, engine="tikz")
    with pytest.raises(ValueError, match="format"):
        draw(f, tmp_path / "c.gif")
    with pytest.raises(ValueError, match="format"):
        draw(f, tmp_path / "c", format="jpeg")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(HAVE_DOT, reason="Graphviz is installed here")
def test_asking_for_graphviz_without_it_is_a_clear_error():
    with pytest.raises(RuntimeError, match="Graphviz 'dot' was not found"):
        draw(xyz_circuit(), engine="graphviz")
    assert draw(xyz_circuit()).engine == "matplotlib"  # auto falls back


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz 'dot' is not installed")
def test_graphviz_renders_the_same_dot(tmp_path):
    f = sigmoid_circuit()
    check = subprocess.run(["dot", "-Tcanon"], input=to_dot(f).encode(), capture_output=True)
    assert check.returncode == 0, check.stderr
    c = draw(f, tmp_path / "g.svg", engine="graphviz")
    assert c.engine == "graphviz"
    # Read the SVG as XML: Graphviz writes the minus sign as the character reference &#45;,
    # which is the same text once parsed. What is compared is what the picture shows.
    import xml.etree.ElementTree as ET

    root = ET.parse(c.path).getroot()
    assert root.tag.endswith("svg")
    shown = {"".join(t.itertext()).strip() for t in root.iter() if t.tag.endswith("text")}
    assert {"0.73", "-0.59", "0.39", "-0.20", "-0.39", "0.20"} <= shown, shown
    check_image(draw(f, tmp_path / "g.png").path)


def fake_dot(folder, script):
    exe = folder / "dot"
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(0o755)
    return exe


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as a stand-in for dot")
def test_the_graphviz_path_pipes_the_dot_text_to_dot(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    received = tmp_path / "received.dot"
    fake_dot(bin_dir, f'cat > "{received}"\necho "$1" > "{received}.args"\n'
                      "echo '<?xml version=\"1.0\"?><svg>stand-in</svg>'\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    f = xyz_circuit()
    c = draw(f, tmp_path / "out" / "g.svg")  # auto picks the dot on the PATH
    assert c.engine == "graphviz"
    assert received.read_text() == to_dot(f)
    assert (tmp_path / "received.dot.args").read_text().strip() == "-Tsvg"
    assert c.path.read_text().strip() == '<?xml version="1.0"?><svg>stand-in</svg>'


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as a stand-in for dot")
def test_a_failing_dot_is_an_error_when_asked_for_and_falls_back_on_auto(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_dot(bin_dir, "echo 'Error: syntax error in line 3' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    f = xyz_circuit()
    with pytest.raises(RuntimeError, match="exit code 1: Error: syntax error in line 3"):
        draw(f, tmp_path / "g.png", engine="graphviz")
    with pytest.warns(RuntimeWarning, match="rendering with matplotlib instead"):
        c = draw(f, tmp_path / "h.png")
    assert c.engine == "matplotlib"
    check_image(c.path)


def test_the_matplotlib_renderer_refuses_huge_graphs_but_still_writes_dot(tmp_path, monkeypatch):
    monkeypatch.setattr(circuit_mod, "MAX_MATPLOTLIB_NODES", 4)
    with pytest.raises(ValueError, match="the graph has 6 nodes, more than"):
        draw(xyz_circuit(), tmp_path / "c.png", engine="matplotlib")
    assert os.listdir(tmp_path) == ["c.dot"]


def test_import_chainrule_viz_does_not_import_matplotlib():
    code = "import sys, chainrule.viz; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- plots -----------------------------------------------------------------------------------


def history(n=8, lr_decay=1.0):
    return [
        {"epoch": i + 1, "loss": 2.0 / (i + 1), "train_acc": 0.5 + 0.05 * i,
         "val_acc": 0.45 + 0.04 * i if i % 2 else None, "lr": 0.1 * lr_decay ** i}
        for i in range(n)
    ]


def test_plot_history_writes_a_png_with_two_or_three_panels(tmp_path):
    two = plot_history(history(), tmp_path / "h2.png")
    assert two == tmp_path / "h2.png"
    img2 = check_image(two, min_w=700, min_h=300)
    img3 = check_image(plot_history(history(lr_decay=0.9), tmp_path / "h3.png"), min_w=1100)
    assert img3.shape[1] > img2.shape[1] * 1.3  # the learning-rate panel
    records = [{"loss": 1.0}, {"loss": 0.5, "val_loss": 0.7}, {"loss": float("nan")}]
    check_image(plot_history(records, tmp_path / "plain.png"))
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize(
    "records, match",
    [([], "non-empty"), ({"loss": 1.0}, "non-empty"), ([1.0], "not a dict"),
     ([{"epoch": 1}], "record 0 has no 'loss'"), ([{"loss": "high"}], "'loss'")],
)
def test_plot_history_rejects_bad_records(tmp_path, records, match):
    with pytest.raises(ValueError, match=match):
        plot_history(records, tmp_path / "h.png")
    assert os.listdir(tmp_path) == []


def test_plot_loss_curves_with_lists_pairs_zeros_and_divergence(tmp_path):
    curves = {
        "random search": [2.3, 2.2, 2.1, 2.05],
        "sgd": (np.arange(0, 50, 10), [2.3, 1.0, 0.4, 0.1, 0.0]),
        "too high lr": [2.3, 40.0, float("inf"), float("nan")],
        "two points": [1.0, 0.5],
    }
    img = check_image(plot_loss_curves(curves, tmp_path / "c.png", xlabel="steps"), min_w=600, min_h=350)
    for color in ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"):  # one line per curve
        assert has_color(img, color, tol=0.05)
    check_image(plot_loss_curves({"a": [3.0, 2.0, 1.0]}, tmp_path / "lin.png", log=False))


@pytest.mark.parametrize(
    "curves, match",
    [({}, "non-empty"), ([1.0, 2.0], "non-empty"), ({"a": []}, "'a' is empty"),
     ({"a": ([1, 2, 3], [1.0, 2.0])}, "xs has 3 values but ys has 2"),
     ({"a": [[1.0, 2.0], [3.0, 4.0]]}, "1-D"), ({"a": ["x", "y"]}, "numbers")],
)
def test_plot_loss_curves_rejects_bad_curves(tmp_path, curves, match):
    with pytest.raises(ValueError, match=match):
        plot_loss_curves(curves, tmp_path / "c.png")


def test_plot_decision_regions_calls_predict_on_a_grid_around_the_data(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] > 0).astype(int)
    calls = []

    def predict(points):
        calls.append(points.copy())
        return (points[:, 0] > 0).astype(int)

    path = plot_decision_regions(predict, X, y, tmp_path / "r.png", resolution=50,
                                 class_names=["left", "right"])
    img = check_image(path, min_w=400, min_h=300)
    (grid,) = calls
    assert grid.shape == (2500, 2)
    span = X.max(axis=0) - X.min(axis=0)
    np.testing.assert_allclose(grid.min(axis=0), X.min(axis=0) - 0.1 * span)
    np.testing.assert_allclose(grid.max(axis=0), X.max(axis=0) + 0.1 * span)
    # The two regions are shaded with the two class colours (tab10 blue/orange at alpha 0.3).
    blue, orange = np.array([31, 119, 180]) / 255, np.array([255, 127, 14]) / 255
    for c in (blue, orange):
        shade = 0.3 * c + 0.7
        assert (np.abs(img[..., :3] - shade).max(axis=-1) < 0.03).mean() > 0.1


def test_plot_decision_regions_with_plus_minus_one_labels_and_a_name_mapping(tmp_path):
    X = np.array([[0.0, 0.0], [1.0, 1.0], [1.0, 0.0]])
    y = np.array([-1, 1, 1])
    path = plot_decision_regions(lambda p: np.where(p.sum(axis=1) > 0.5, 1, -1), X, y,
                                 tmp_path / "pm.png", resolution=20,
                                 class_names={-1: "neg", 1: "pos"})
    check_image(path)


@pytest.mark.parametrize(
    "X, y, kwargs, match",
    [
        (np.zeros((5, 3)), np.zeros(5), {}, r"shape \(n, 2\).*\(5, 3\)"),
        (np.zeros(5), np.zeros(5), {}, r"shape \(n, 2\)"),
        (np.zeros((5, 2)), np.zeros(4), {}, r"y must have shape \(5,\)"),
        (np.zeros((5, 2)), np.zeros(5), {"resolution": 1}, "resolution"),
        (np.zeros((5, 2)), np.zeros(5), {"resolution": 5000}, "resolution"),
        (np.zeros((5, 2)), np.zeros(5), {"class_names": []}, "class_names has 0 names"),
        (np.full((5, 2), np.nan), np.zeros(5), {}, "nan"),
    ],
)
def test_plot_decision_regions_rejects_bad_inputs(tmp_path, X, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_decision_regions(lambda p: np.zeros(len(p), int), X, y, tmp_path / "r.png",
                              resolution=kwargs.pop("resolution", 10), **kwargs)


def test_plot_decision_regions_rejects_a_predict_with_the_wrong_output(tmp_path):
    with pytest.raises(ValueError, match="predict returned 1 labels for 100 points"):
        plot_decision_regions(lambda p: np.zeros(1), np.zeros((3, 2)), np.zeros(3),
                              tmp_path / "r.png", resolution=10)


def test_plot_weight_images_normalizes_each_row(tmp_path):
    W = np.zeros((3, 4 * 4 * 3))
    W[0] = np.linspace(-100, 100, 48)  # a huge row and a tiny one look alike once normalized
    W[1] = np.linspace(-1e-3, 1e-3, 48)
    W[2] = 7.0  # constant: mid-grey, no division by zero
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = plot_weight_images(W, (4, 4, 3), tmp_path / "w.png", class_names=["a", "b", "c"])
    check_image(path, min_w=300, min_h=100)
    check_image(plot_weight_images(np.arange(20.0).reshape(2, 10), (2, 5), tmp_path / "g.png"),
                min_w=150)
    wide = check_image(plot_weight_images(np.random.default_rng(0).normal(size=(10, 27)), (3, 3, 3),
                                          tmp_path / "ten.png"), min_w=1000)
    assert wide.shape[1] > 1000


@pytest.mark.parametrize(
    "W, shape, kwargs, match",
    [
        (np.zeros((48, 3)), (4, 4, 3), {}, "did you mean W.T"),
        (np.zeros((3, 47)), (4, 4, 3), {}, r"needs \(K, 48\)"),
        (np.zeros(48), (4, 4, 3), {}, "2-D"),
        (np.zeros((3, 64)), (4, 4, 4), {}, "image_shape"),
        (np.zeros((3, 16)), (16,), {}, "image_shape"),
        (np.zeros((3, 16)), "4x4", {}, "image_shape"),
        (np.zeros((3, 16)), (4, 4), {"class_names": ["a"]}, "1 names for 3 rows"),
    ],
)
def test_plot_weight_images_rejects_bad_shapes(tmp_path, W, shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_weight_images(W, shape, tmp_path / "w.png", **kwargs)


def test_plot_confusion_matrix_counts_and_fractions(tmp_path):
    cm = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    img = check_image(plot_confusion_matrix(cm, tmp_path / "cm.png", class_names=["a", "b", "c"]),
                      min_w=300, min_h=300)
    assert has_color(img, "#08306b", tol=0.1)  # the darkest Blues cell: the 9
    check_image(plot_confusion_matrix(cm / cm.sum(axis=1, keepdims=True), tmp_path / "norm.png"))
    check_image(plot_confusion_matrix(np.eye(40, dtype=int) * 3, tmp_path / "big.png"))


@pytest.mark.parametrize(
    "cm, kwargs, match",
    [
        (np.zeros((2, 3)), {}, r"square.*\(2, 3\)"),
        (np.zeros((0, 0)), {}, "non-empty"),
        (np.array([[1, -1], [0, 2]]), {}, "non-negative"),
        (np.array([[1, np.nan], [0, 2]]), {}, "finite"),
        (np.eye(2), {"class_names": ["a", "b", "c"]}, "3 names for a 2x2"),
    ],
)
def test_plot_confusion_matrix_rejects_bad_matrices(tmp_path, cm, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_confusion_matrix(cm, tmp_path / "cm.png", **kwargs)


def test_plots_accept_tensors(tmp_path):
    W = cr.tensor(np.random.default_rng(1).normal(size=(2, 4)))
    check_image(plot_weight_images(W, (2, 2), tmp_path / "t.png"), min_w=100, min_h=100)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    target = tmp_path / "cm.png"
    target.write_bytes(b"old")

    def broken_savefig(self, fh, **kwargs):
        fh.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        plot_confusion_matrix(np.eye(2), target)
    assert target.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["cm.png"]


def test_plots_create_the_folder_and_use_the_suffix_format(tmp_path):
    path = plot_loss_curves({"a": [1.0, 0.5]}, tmp_path / "new" / "dir" / "c.svg")
    assert path.read_text().lstrip().startswith("<?xml")


def test_plot_filters_and_feature_maps_draw_one_image_per_filter_and_map(tmp_path):
    import chainrule as cr
    from chainrule.viz import plot_feature_maps, plot_filters

    grey = cr.nn.Conv2d(1, 6, 3, rng=0)
    colour = cr.nn.Conv2d(3, 4, 5, rng=0)
    for weight, name in ((grey.weight, "grey.png"), (colour.weight, "colour.png")):
        path = plot_filters(weight, tmp_path / name)
        assert path.is_file() and path.stat().st_size > 1000
    maps = grey(cr.randn(1, 1, 8, 8, rng=0)).numpy()[0]
    assert plot_feature_maps(maps, tmp_path / "maps.png").is_file()
    with pytest.raises(ValueError, match=r"shape \(C_out, 1 or 3, kh, kw\); got \(4, 2, 3, 3\)"):
        plot_filters(np.zeros((4, 2, 3, 3)), tmp_path / "bad.png")
    with pytest.raises(ValueError, match=r"maps of shape \(C, H, W\)"):
        plot_feature_maps(np.zeros((2, 3)), tmp_path / "bad.png")


def svg_texts(path) -> list:
    """The text a matplotlib SVG shows (saved with svg.fonttype 'none', so text stays text)."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    return ["".join(t.itertext()).strip() for t in root.iter() if t.tag.endswith("text")]


def test_weight_images_have_a_title_a_colour_bar_and_say_how_many_units(tmp_path):
    import matplotlib

    W = np.random.default_rng(0).normal(size=(20, 64))
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        path = plot_weight_images(W, (8, 8), tmp_path / "w.svg", class_names=[f"unit {i}" for i in range(20)],
                                  title="first hidden layer's weights", total=128)
    texts = svg_texts(path)
    assert "first hidden layer's weights (20 of 128 shown, as 8×8 images)" in texts
    assert {"lowest", "highest"} <= set(texts)  # the colour bar's two ends
    assert any("each image scaled" in t for t in texts)
    assert "unit 19" in texts
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        texts = svg_texts(plot_weight_images(W[:3], (8, 8), tmp_path / "d.svg"))
    assert "weights: rows of W (3 shown, as 8×8 images)" in texts


def test_best_so_far_is_the_running_minimum_ignoring_divergence():
    assert viz_best([2.0, 3.0, 1.0, float("inf"), 0.5]) == [2.0, 2.0, 1.0, 1.0, 0.5]
    assert np.isnan(viz_best([float("nan"), 1.0])[0]) and viz_best([float("nan"), 1.0])[1] == 1.0


def viz_best(losses):
    from chainrule.viz import best_so_far

    return best_so_far(losses).tolist()


def test_compare_plot_shows_the_best_loss_so_far_on_labelled_axes(tmp_path):
    import matplotlib

    curves = {"random search": [2.3, 2.5, 2.1], "sgd": ([0, 1000, 2000], [2.3, 2.6, 0.4])}
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        path = plot_loss_curves(curves, tmp_path / "c.svg", best=True)
    texts = svg_texts(path)
    assert "best loss so far per strategy" in texts and "best loss so far (log scale)" in texts
    assert "loss evaluations" in texts and "2,000" in texts  # thousands are readable
    assert {"random search", "sgd"} <= set(texts)


def test_viz_works_after_a_plain_import_chainrule(tmp_path):
    # getting-started calls chainrule.viz.plot_history after `import chainrule` alone.
    code = ("import sys, chainrule\n"
            "assert 'matplotlib' not in sys.modules and 'chainrule.viz' not in sys.modules\n"
            "chainrule.viz.plot_history([{'epoch': 1, 'loss': 1.0}, {'epoch': 2, 'loss': 0.5}], sys.argv[1])\n")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "h.png")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    check_image(tmp_path / "h.png")


def test_circuit_drawings_say_which_colour_is_the_value_and_which_the_gradient(tmp_path):
    from chainrule.viz.circuit import GRAD_COLOR, LEGEND, VALUE_COLOR

    f = xyz_circuit()
    dot = to_dot(f)
    assert f'<FONT COLOR="{VALUE_COLOR}">{LEGEND[0]}</FONT>' in dot
    assert f'<FONT COLOR="{GRAD_COLOR}">{LEGEND[1]}</FONT>' in dot
    assert LEGEND == ("value (forward pass), above each wire", "gradient (backward pass), below each wire")
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none"}):
        texts = svg_texts(draw(f, tmp_path / "c.svg", engine="matplotlib").path)
    assert set(LEGEND) <= set(texts)
