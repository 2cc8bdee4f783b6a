"""Fuzz the OTLP decoder and the model loader with atheris; prints executions and findings.

The otlp target also compares the native span reader (traces/_spans.c) with upb + extract.py.

    python benchmarks/fuzz_inputs.py --target otlp --seconds 60
    python benchmarks/fuzz_inputs.py --target model --seconds 60
    python benchmarks/fuzz_inputs.py --target yaml --seconds 60

Only the errors flowhealth maps (IngestError, ModelError) are expected; anything else is a finding,
and so is any single input taking longer than SLOW_SECONDS (the loader must stay bounded).
`model` loads the reference deployment with one fuzzed flows file (full load, schema and
cross-references); `yaml` runs only the bounded YAML reader on the input (aliases, anchors,
nesting, sizes), so it gets far more executions.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from flowhealth.errors import IngestError, ModelError
    from flowhealth.model import load_model
    from flowhealth.model.yamlsource import load_yaml
    from flowhealth.traces import records
    from flowhealth.traces.convention import Routing, StageEvent
    from flowhealth.traces.decode import JSON, PROTOBUF, BodyReader, parse
    from flowhealth.traces.extract import extract

REPO = Path(__file__).resolve().parent.parent
SLOW_SECONDS = 5.0
SEEDS = [
    b"teams: &t {loop: *t}\n",
    b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b]\n",
    b"a: " + b"[" * 60 + b"]" * 60 + b"\n",
    b"x: 2026-13-45\ny: &y {k: *y}\n",
]
state = {"runs": 0, "findings": 0, "deadline": 0.0, "slowest": 0.0}


ROUTING = Routing.of(load_model(REPO))


def otlp(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    media = PROTOBUF if fdp.ConsumeBool() else JSON
    encoding = "gzip" if fdp.ConsumeBool() else ""
    try:
        reader = BodyReader(encoding, 1024 * 1024)
        reader.feed(fdp.ConsumeBytes(fdp.remaining_bytes()))
        body = reader.body()
    except IngestError:
        return
    try:
        request = parse(media, body)
    except IngestError:
        request = None
    if media == PROTOBUF and records.read_spans is not None:
        # The native reader (traces/_spans.c) must refuse what upb refuses, and agree on the rest.
        found = records.read_spans(body, ROUTING.span_keys, ROUTING.native_plans, StageEvent)
        if request is None and found is not None:
            raise AssertionError("the native reader vouched for a body upb refuses")
        if request is not None and found is not None:
            python, native = extract(request, ROUTING), records.from_columns(found[0], found[1], ROUTING)
            if (python.events, python.rejected) != (native.events, native.rejected):
                raise AssertionError("the native reader and upb + extract disagree")


def model(root: Path) -> object:
    def run(data: bytes) -> None:
        (root / "flows" / "fuzz.yaml").write_bytes(data)
        with contextlib.suppress(ModelError):
            load_model(root)

    return run


def yaml_only(root: Path) -> object:
    path = root / "fuzz.yaml"

    def run(data: bytes) -> None:
        path.write_bytes(data)
        load_yaml(path, "fuzz.yaml")  # returns issues; it must never raise

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", choices=["otlp", "model", "yaml"], default="otlp")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fh-fuzz-"))
    for sub in ("flows", "alert_rules", "runbooks", "contracts"):
        shutil.copytree(REPO / sub, root / sub)
    target = {"otlp": otlp, "model": model(root), "yaml": yaml_only(root)}[args.target]
    state["deadline"] = time.monotonic() + args.seconds

    def one(data: bytes) -> None:
        if time.monotonic() > state["deadline"]:
            print(
                f"{args.target}: {state['runs']} executions in {args.seconds:.0f}s, findings: {state['findings']}, "
                f"slowest input {state['slowest']:.3f}s"
            )
            sys.stdout.flush()
            shutil.rmtree(root, ignore_errors=True)
            os._exit(0 if state["findings"] == 0 else 1)  # atheris turns SystemExit into a crash report
        state["runs"] += 1
        started = time.monotonic()
        try:
            target(data)  # type: ignore[operator]
        except Exception as exc:  # a finding: print it and keep fuzzing
            state["findings"] += 1
            print(f"FINDING {type(exc).__name__}: {exc!s:.200} input={data[:80]!r}")
        took = time.monotonic() - started
        state["slowest"] = max(state["slowest"], took)
        if took > SLOW_SECONDS:
            state["findings"] += 1
            print(f"FINDING slow input ({took:.1f}s): {data[:80]!r}")

    # Seeds for the YAML targets: the hostile shapes of the attack, for mutation to start from.
    corpus = root / "corpus"
    corpus.mkdir()
    if args.target != "otlp":
        for i, seed in enumerate([*SEEDS, (REPO / "flows" / "orders.yaml").read_bytes()]):
            (corpus / f"seed{i}").write_bytes(seed)
    atheris.Setup([sys.argv[0], "-rss_limit_mb=2048", str(corpus)], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
