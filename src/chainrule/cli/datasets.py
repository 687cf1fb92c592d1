"""``chainrule datasets``: the datasets ``--data`` accepts."""
from __future__ import annotations

from chainrule.cli.common import Formatter, emit_json, say


def add_parser(sub) -> None:
    """Add the subcommand's parser to ``sub`` (argparse subparsers); it runs :func:`run`."""
    p = sub.add_parser("datasets", help="list the datasets --data accepts", formatter_class=Formatter,
                       description="List the built-in, synthetic and downloadable datasets.")
    p.add_argument("--json", action="store_true", help="print the list as one JSON object")
    p.set_defaults(func=run)


# ====================================================================== datasets
def run(args) -> int:
    """List the datasets ``--data`` accepts."""
    from chainrule.data import DATASETS, cache_dir

    rows = [{"name": s.name, "kind": s.kind, "description": s.description} for s in DATASETS.values()]
    if args.json:
        emit_json({"datasets": rows, "cache_dir": str(cache_dir())})
        return 0
    width = max(len(r["name"]) for r in rows)
    kind_width = max(len(r["kind"]) for r in rows)
    for r in rows:
        say(f"{r['name'].ljust(width)}  {r['kind'].ljust(kind_width)}  {r['description']}")
    say("")
    say("or a path to a .csv file (a header row; the label column is 'label' or the last one, "
        "or --label-column) or an .npz file (arrays X and y)")
    say(f"downloads are kept in {cache_dir()} (set CHAINRULE_DATA to change it)")
    return 0
