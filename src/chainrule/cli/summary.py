"""``chainrule summary``: neurons and learnable parameters per layer."""
from __future__ import annotations

from chainrule.cli.common import (
    Formatter, UsageError, emit_json, image_shape_arg, int_at_least, model_path, positive_int, registry_names, say,
)


def add_parser(sub) -> None:
    """Add the subcommand's parser to ``sub`` (argparse subparsers); it runs :func:`run`."""
    p = sub.add_parser(
        "summary", help="neurons and learnable parameters per layer", formatter_class=Formatter,
        description="Count a network's neurons (not counting the inputs) and learnable parameters (weights\n"
                    "and biases) layer by layer, like the lecture: --layers 3 4 2 has 4 + 2 = 6 neurons and\n"
                    "[3x4] + [4x2] = 20 weights + 6 biases = 26 parameters; --layers 3 4 4 1 has 9 and 41.\n"
                    "A convolution (--conv, or a saved CNN) counts out*(in*kh*kw) weights + out biases, and one\n"
                    "neuron per output value (channels x height x width); every layer shows its output shape.",
        epilog="examples:\n  chainrule summary --layers 3 4 2\n  chainrule summary --model runs/my-run --json\n"
               "  chainrule summary --conv c16k5-m2-c32k5-m2 --image-shape 1x28x28")
    p.add_argument("--layers", type=positive_int, nargs="+", metavar="N",
                   help="layer sizes from the inputs to the outputs")
    p.add_argument("--activation", choices=registry_names("chainrule.nn", "ACTIVATIONS"), metavar="NAME",
                   help="--layers: the hidden layers' activation (default: relu; it has no parameters)")
    p.add_argument("--model", metavar="FILE|RUN_DIR", help="count a saved model instead")
    p.add_argument("--conv", metavar="SPEC", help="count a convolutional network: its layers as for train --conv")
    p.add_argument("--image-shape", type=image_shape_arg, metavar="CxHxW",
                   help="--conv: the input images (e.g. 1x28x28 or 3x32x32; HxW is one channel)")
    p.add_argument("--classes", type=int_at_least(2), metavar="K",
                   help="--conv: the output layer's neurons (default: 10)")
    p.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    p.set_defaults(func=run)


# ====================================================================== summary
def run(args) -> int:
    """Neurons and learnable parameters per layer, counted the lecture's way."""
    from chainrule import nn

    given = [o for o, v in (("--layers", args.layers), ("--model", args.model), ("--conv", args.conv)) if v is not None]
    if not given:
        raise UsageError("give the layer sizes (--layers 3 4 2) or a saved model (--model FILE|RUN_DIR), or a "
                         "convolutional network (--conv c16-m2 --image-shape 1x8x8)")
    if len(given) > 1:
        raise UsageError(f"give {' or '.join(given)}, not both")
    # An option of another kind of network is an error, not a no-op.
    for option, value, owner in (("--image-shape", args.image_shape, "--conv"), ("--classes", args.classes, "--conv"),
                                 ("--activation", args.activation, "--layers")):
        if value is not None and owner not in given:
            raise UsageError(f"{option} applies to {owner}, not {given[0]}")
    args.classes = 10 if args.classes is None else args.classes
    args.activation = args.activation or "relu"
    if args.model is not None or args.conv is not None:
        if args.model is not None:
            from chainrule import io

            model, _ = io.load_model(model_path(args.model))
            title = f"{type(model).__name__} from {args.model}"
        else:
            model = _conv_network(args)
            title = f"CNN {model.spec} on {'x'.join(map(str, model.input_shape))} images, {args.classes} classes"
        shape = getattr(model, "input_shape", None)
        s = nn.summary(model, shape)
        if shape is not None:  # a convolutional network: output shapes, and its own counting
            if args.json:
                emit_json({"model": title, **s.to_dict()})
                return 0
            say(title)
            say(str(s))
            say(f"learnable parameters: {' + '.join(str(r.parameters) for r in s.rows if r.parameters)} = "
                f"{s.weights} weights + {s.biases} biases = {s.parameters}")
            return 0
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


def _conv_network(args):
    """The network of ``--conv`` on ``--image-shape`` images (checked as train checks them)."""
    from chainrule import nn

    if args.image_shape is None:
        raise UsageError("--conv needs the input images: --image-shape CxHxW, e.g. 1x28x28")
    shape = tuple(args.image_shape) if len(args.image_shape) == 3 else (1, *args.image_shape)
    try:
        nn.cnn.parse_spec(args.conv)
        from chainrule.runs import check_network_size  # sized before anything is allocated

        check_network_size(nn.CNN.parameter_shapes({"input_shape": list(shape), "n_classes": args.classes,
                                                    "spec": args.conv}), what=f"--conv {args.conv}")
        return nn.CNN(shape, args.classes, args.conv)
    except ValueError as exc:
        raise UsageError(f"--conv: {exc}") from None


def _fan_in(row) -> int:
    return row.weights // row.neurons if row.neurons else 0
