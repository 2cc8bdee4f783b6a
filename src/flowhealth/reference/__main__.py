"""`python -m flowhealth.reference [--check] [DIR]`: write or check docs/reference/*.md."""

from __future__ import annotations

import sys
from pathlib import Path

from ..export.files import differing, write_files
from .build import reference_files


def main(argv: list[str]) -> int:
    check = "--check" in argv
    rest = [a for a in argv if a != "--check"]
    out = Path(rest[0]) if rest else Path("docs/reference")
    files = reference_files()
    if check:
        problems = differing(files, out)
        for name in problems:
            print(f"{out / name}: differs from the code; run `python -m flowhealth.reference`", file=sys.stderr)
        return 1 if problems else 0
    changed = write_files(files, out)
    print(f"{len(files)} reference files in {out}: {len(changed)} written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
