"""``chainrule summary``: neurons and learnable parameters per layer."""
from __future__ import annotations

from chainrule.cli.common import Formatter, UsageError, emit_json, model_path, positive_int, registry_names, say


def add_parser(sub) -> None:
    """Add the subcommand's parser to ``sub`` (argparse subparsers); it runs :func:`run`."""
    p = sub.add_parser(
        "summary", help="neurons and learnable parameters per layer", formatter_class=Formatter,
        description="Count a network's neurons (not counting the inputs) and learnable parameters (weights\n"
                    "and biases) layer by layer, like the lecture: --layers 3 4 2 has 4 + 2 = 6 neurons and\n"
                    "[3x4] + [4x2] = 20 weights + 6 biases = 26 parameters; --layers 3 4 4 1 has 9 and 41.",
        epilog="examples:\n  chainrule summary --layers 3 4 2\n  chainrule summary --model runs/my-run --json")
    p.add_argument("--layers", type=positive_int, nargs="+", metavar="N",
                   help="layer sizes from the inputs to the outputs")
    p.add_argument("--activation", choices=registry_names("chainrule.nn", "ACTIVATIONS"), default="relu",
                   help="the hidden layers' activation (default: relu; it has no parameters)")
    p.add_argument("--model", metavar="FILE|RUN_DIR", help="count a saved model instead")
    p.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    p.set_defaults(func=run)


# ====================================================================== summary
def run(args) -> int:
    """Neurons and learnable parameters per layer, counted the lecture's way."""
    from chainrule import nn

    if args.layers is None and args.model is None:
        raise UsageError("give the layer sizes (--layers 3 4 2) or a saved model (--model FILE|RUN_DIR)")
    if args.layers is not None and args.model is not None:
        raise UsageError("give --layers or --model, not both")
    if args.model is not None:
        from chainrule import io

        model, _ = io.load_model(model_path(args.model))
        title = f"{type(model).__name__} from {args.model}"
        s = nn.summary(model)
    else:
        sizes = args.layers
        if len(sizes) < 2:
            raise UsageError("--layers needs at least two sizes: the inputs and the outputs, e.g. --layers 3 4 2")
        # Counted from the sizes: --layers 100000 100000 10 allocates nothing.
        s = nn.summary_from_shapes(nn.MLP.parameter_shapes(
            {"in_features": sizes[0], "hidden_sizes": sizes[1:-1], "out_features": sizes[-1]}))
        title = f"MLP {' -> '.join(map(str, sizes))} ({args.activation})"
    if args.json:
        emit_json({"model": title, **s.to_dict()})
        return 0
    say(title)
    say(str(s))
    say(f"neurons (not counting the inputs): {' + '.join(str(r.neurons) for r in s.rows)} = {s.neurons}")
    shapes = " + ".join(f"[{_fan_in(r)} x {r.neurons}]" for r in s.rows)
    say(f"learnable parameters: {shapes} = {s.weights} weights + "
        f"{' + '.join(str(r.biases) for r in s.rows)} = {s.biases} biases = {s.parameters}")
    return 0


def _fan_in(row) -> int:
    return row.weights // row.neurons if row.neurons else 0
