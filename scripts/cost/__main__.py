"""`python -m cost ENV`: print the monthly cost table of one environment."""

from __future__ import annotations

import argparse

from cost.model import load_inputs, monthly_lines, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make cost", description=__doc__)
    parser.add_argument("env", help="dev, staging or prod")
    args = parser.parse_args(argv)
    inputs = load_inputs(args.env)
    print(render(inputs, monthly_lines(inputs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
