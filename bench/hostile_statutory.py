"""Hostile CIN census files: how long the reader takes and how much memory it holds on files built
to exhaust it. `python -m bench.hostile_statutory` (`--size-mb 20` for a quick run).

Each file is a valid CIN census header followed by one Child that is built to be as expensive as
possible for its size:
- wide_text: the child's LAchildID (a value the reader keeps) holding one text node of the whole size;
- wide_attributes: one element carrying distinct attributes until it reaches the size;
- deep: elements nested inside each other to the size (one level per 11 bytes).
Every file is read by `assets.cin_census.read_cin_census` in a process of its own, so the peak
memory (resource.getrusage ru_maxrss) is that one file's; `baseline` is the same for a valid
one-child file (the libraries imported, mostly). The process's address space can be capped
(`--memory-cap-mb`) so that a reader that does not bound its memory fails with MemoryError instead
of taking the machine's. The figures are printed as JSON: seconds, peak resident memory in MiB,
and the outcome (the rejection's rule, "loaded", or the exception type)."""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KINDS = ("wide_text", "wide_attributes", "deep")
WRITE_BLOCK = 1 << 20

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<Message><Header><CollectionDetails><Collection>CIN</Collection>'
        "<Year>2025</Year><ReferenceDate>2025-03-31</ReferenceDate></CollectionDetails><Source>"
        "<SourceLevel>L</SourceLevel><LEA>201</LEA></Source></Header><Children><Child><ChildIdentifiers>")
TAIL = "<Sex>F</Sex></ChildIdentifiers></Child></Children></Message>\n"


def write_repeated(handle, unit: bytes, total: int) -> None:
    """Write `unit` again and again, `total` bytes' worth (rounded down to whole units)."""
    block = unit * max(1, WRITE_BLOCK // len(unit))
    count = total // len(unit)
    per_block = len(block) // len(unit)
    while count >= per_block:
        handle.write(block)
        count -= per_block
    handle.write(unit * count)


def write_baseline(path: Path) -> Path:
    """A valid one-child file: what reading costs before any hostile content (the imports, mostly)."""
    path.write_text(HEAD + "<LAchildID>BENCH1</LAchildID>" + TAIL, encoding="utf-8")
    return path


def write_hostile(path: Path, kind: str, size_bytes: int) -> Path:
    """Write one hostile CIN file of about `size_bytes`."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    with open(path, "wb") as handle:
        handle.write(HEAD.encode())
        handle.write(b"<LAchildID>")
        if kind == "wide_text":
            write_repeated(handle, b"A", size_bytes)
        else:
            handle.write(b"BENCH1")
        handle.write(b"</LAchildID>")
        if kind == "wide_attributes":
            handle.write(b"<UPN")
            width = len(str(size_bytes // 8))
            written, number = 0, 0
            while written < size_bytes:  # distinct names: a repeated attribute is an XML error
                chunk = b"".join(b' a%0*d=""' % (width, n) for n in range(number, number + 100_000))
                handle.write(chunk)
                written += len(chunk)
                number += 100_000
            handle.write(b"/>")
        elif kind == "deep":
            write_repeated(handle, b"<UPN>", size_bytes // 2)
            write_repeated(handle, b"</UPN>", (size_bytes // 2) // 5 * 6)
        handle.write(TAIL.encode())
    return path


def measure_reader(path: Path) -> dict:
    """Read one file in this process: seconds, peak memory and outcome."""
    from assets.cin_census import read_cin_census
    from assets.reading import PackRejected

    started = time.perf_counter()
    try:
        read_cin_census(path, b"bench-secret")
        outcome = "loaded"
    except PackRejected as error:
        outcome = error.rule
    except (Exception, RecursionError) as error:  # a reader that is not bounded fails here
        outcome = type(error).__name__
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "outcome": outcome}


def measure_in_subprocess(path: Path, memory_cap_mb: int | None) -> dict:
    command = [sys.executable, "-m", "bench.hostile_statutory", "--measure", str(path)]
    if memory_cap_mb:
        command += ["--memory-cap-mb", str(memory_cap_mb)]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:  # killed, or out of memory before it could report
        return {"seconds": None, "peak_rss_mib": None, "outcome": f"process exited {result.returncode}",
                "stderr_tail": result.stderr.strip().splitlines()[-1:]}
    return json.loads(result.stdout)


def run(size_mb: int = 200, kinds: tuple[str, ...] = KINDS, memory_cap_mb: int | None = 4096,
        workdir: Path | None = None) -> dict:
    """Write each hostile file in turn, read it in its own process, delete it; the figures by kind."""
    results = {"size_mb": size_mb, "memory_cap_mb": memory_cap_mb, "files": {}}
    with tempfile.TemporaryDirectory(dir=workdir) as folder:
        results["baseline"] = measure_in_subprocess(write_baseline(Path(folder) / "baseline.xml"), memory_cap_mb)
        for kind in kinds:
            path = write_hostile(Path(folder) / f"{kind}.xml", kind, size_mb * 1024 * 1024)
            figures = measure_in_subprocess(path, memory_cap_mb)
            results["files"][kind] = {"file_mib": round(path.stat().st_size / (1 << 20), 1), **figures}
            path.unlink()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200, help="size of each hostile file (default 200)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--memory-cap-mb", type=int, default=4096,
                        help="address-space cap of each reading process (0: none; default 4096)")
    parser.add_argument("--workdir", type=Path, help="where the files are written (default: the system's temp)")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the reading process
    args = parser.parse_args(argv)
    if args.measure:
        if args.memory_cap_mb:
            cap = args.memory_cap_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        print(json.dumps(measure_reader(args.measure)))
        return 0
    print(json.dumps(run(args.size_mb, tuple(args.kinds), args.memory_cap_mb or None, args.workdir), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
