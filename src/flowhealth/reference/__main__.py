"""`python -m flowhealth.reference [--check] [DIR]`: write or check docs/reference/*.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..export.files import differing, write_files
from .build import reference_files

DEFAULT_OUT = Path("docs/reference")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m flowhealth.reference",
        description="Write the reference generated from the code (model keys, settings, metrics, commands).",
    )
    parser.add_argument(
        "out",
        nargs="?",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"directory of the Markdown files (default: {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 naming the files that differ from the code"
    )
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)  # --help and unknown options exit here, before anything is written
    out: Path = args.out
    if out.exists() and not out.is_dir():
        print(f"error: {out} is a file, not a directory", file=sys.stderr)
        return 2
    files = reference_files()
    if args.check:
        problems = differing(files, out)
        for name in problems:
            print(f"{out / name}: differs from the code; run `python -m flowhealth.reference`", file=sys.stderr)
        return 1 if problems else 0
    changed = write_files(files, out)
    print(f"{len(files)} reference files in {out}: {len(changed)} written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
