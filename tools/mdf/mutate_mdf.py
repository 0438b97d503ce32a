#!/usr/bin/python3
"""Mutates a valid MDF file a few hundred ways and checks that `mpi` rejects every copy cleanly.

Usage: mutate_mdf.py --mpi PATH/TO/mpi [--jobs N] [--timeout S] [--no-replay | --replay-every N] [--keep] BASE.mdf WORKDIR

From BASE.mdf (a valid file: `mpi inspect` must accept it, and `mpi replay --mdf` too unless --no-replay)
it writes mutated copies into WORKDIR:
  delete     every dataset deleted in turn
  retype     every dataset retyped (integer -> float, float -> string, string -> integer, bool -> float)
  reshape    every dataset with wrong dimension lengths (one more / one less element along the first
             axis, an extra axis) and scalar <-> array
  flag       every flag (an Int8 `is...` field) set to 2
  index      framePermutation / frequencySelection 0-based (and out of range) with their flag set
  value      every Int64 scalar set to -1, 0 and 2^40 (numFrames one off and the like among them)
  truncate   the file cut at about 50 offsets
  group      every group replaced by a dataset
For each copy `mpi inspect FILE` and `mpi replay --mdf FILE --out DIR` run with a time limit. A copy
passes when each run either accepts it (exit 0: the mutation left a valid file, e.g. an optional field
deleted) or rejects it with exit code 1 or 2 and a last line that names the mutated dataset or group
path (or an ancestor group of it), or for a truncated file says "truncated" or names the file; never a
signal, a time-out, another exit code, an HDF5 error stack, an exception trace, or more than a few lines.

Prints the number of copies per kind and per outcome; exit status 0 when all pass, 1 otherwise (each
failure listed), 2 on bad usage or a base file that is not accepted.
"""

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

STACK_MARKERS = ("HDF5-DIAG", "#000:", "terminate called", "Traceback", "Segmentation", "Aborted", "core dumped",
                 "AddressSanitizer", "runtime error:")
MAX_LINES = 4


def walk(path):
    """(datasets, groups) of the file, as absolute paths, in file order."""
    datasets, groups = [], []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            (datasets if isinstance(obj, h5py.Dataset) else groups).append("/" + name)
        f.visititems(visit)
    return datasets, groups


def is_string(ds):
    return h5py.check_string_dtype(ds.dtype) is not None or ds.dtype.kind in ("S", "U", "O")


def replace(f, path, data, dtype=None):
    del f[path]
    if isinstance(data, str):
        f.create_dataset(path, data=data, dtype=h5py.string_dtype())
    else:
        f.create_dataset(path, data=data, dtype=dtype)


def retyped(ds):
    """A value of another type class for dataset `ds`."""
    value = ds[()]
    if is_string(ds):
        return np.zeros(ds.shape, dtype=np.int64) if ds.shape else np.int64(7)
    kind = ds.dtype.kind
    if kind == "V" or ds.dtype.names:  # compound (complex r, i): its real part as float
        return np.asarray(value[ds.dtype.names[0]], dtype=np.float64)
    if ds.dtype == np.int8:
        return np.asarray(value, dtype=np.float64) + 0.5
    if kind in ("i", "u"):
        return np.asarray(value, dtype=np.float64) + 0.5
    if kind == "f":
        return "not a number"
    return np.int64(1)


def reshaped(ds):
    """(label, value) copies of `ds` with wrong dimensions."""
    value = np.asarray(ds[()])
    dtype = ds.dtype
    out = []
    if value.ndim == 0:
        out.append(("scalar->array", np.array([value, value], dtype=dtype)))
        return out
    out.append(("array->scalar", value.reshape(-1)[0] if value.size else np.zeros((), dtype=dtype)))
    if value.shape[0] > 1:
        out.append(("first axis -1", value[:-1]))
    out.append(("first axis +1", np.concatenate([value, value[-1:] if value.shape[0] else np.zeros((1,) + value.shape[1:], dtype)])))
    out.append(("extra axis", value.reshape(value.shape + (1,))))
    return out


def make_mutants(base, workdir, datasets, groups):
    """Yields (kind, label, path, file, named) for every mutated copy written; `named` is the dataset or group
    path the error should name (None for truncations)."""
    n = [0]

    def copy(kind):
        n[0] += 1
        dst = os.path.join(workdir, "m%04d-%s.mdf" % (n[0], kind))
        shutil.copyfile(base, dst)
        return dst

    with h5py.File(base, "r") as f:
        info = {p: (f[p].shape, f[p].dtype) for p in datasets}

    def mutate(kind, label, path, action):
        dst = copy(kind)
        try:
            with h5py.File(dst, "r+") as f:
                action(f)
        except (TypeError, ValueError, OSError) as e:  # a mutation h5py cannot express: skip it
            os.remove(dst)
            return None
        return (kind, label, path, dst, path)

    for p in datasets:
        m = mutate("delete", "deleted", p, lambda f, p=p: f.__delitem__(p))
        if m:
            yield m
    for p in datasets:
        m = mutate("retype", "retyped", p, lambda f, p=p: replace(f, p, retyped(f[p])))
        if m:
            yield m
    for p in datasets:
        with h5py.File(base, "r") as f:
            variants = [label for label, _ in reshaped(f[p])] if not is_string(f[p]) else ["scalar->array"]
        for label in variants:
            def act(f, p=p, label=label):
                if is_string(f[p]):
                    text = f[p][()]
                    text = text.decode() if isinstance(text, bytes) else str(text)
                    del f[p]
                    f.create_dataset(p, data=[text, text], dtype=h5py.string_dtype())
                    return
                value = dict(reshaped(f[p]))[label]
                replace(f, p, value, dtype=f[p].dtype)
            m = mutate("reshape", label, p, act)
            if m:
                yield m
    for p in datasets:
        name = p.rsplit("/", 1)[-1]
        if name.startswith("is") and info[p][1] == np.int8:
            def act(f, p=p):
                v = np.asarray(f[p][()]).copy()
                v[...] = 2
                f[p][...] = v
            m = mutate("flag", "set to 2", p, act)
            if m:
                yield m
    # 1-based index arrays given 0-based (or out of range), their flag set.
    with h5py.File(base, "r") as f:
        n_frames = int(f["/acquisition/numFrames"][()]) if "/acquisition/numFrames" in f else 1
        v_points = int(f["/acquisition/receiver/numSamplingPoints"][()]) if "/acquisition/receiver/numSamplingPoints" in f else 2
    for label, index in (("0-based", np.arange(n_frames)), ("past N", np.arange(2, n_frames + 2)), ("repeated", np.ones(n_frames))):
        def act(f, index=index):
            replace(f, "/measurement/isFramePermutation", np.int8(1), dtype=np.int8)
            if "/measurement/framePermutation" in f:
                del f["/measurement/framePermutation"]
            f.create_dataset("/measurement/framePermutation", data=np.asarray(index, dtype=np.int64))
        m = mutate("index", "framePermutation " + label, "/measurement/framePermutation", act)
        if m:
            yield m
    for label, index in (("0-based", np.arange(0, 3)), ("past V/2+1", np.array([1, 2, v_points // 2 + 2]))):
        def act(f, index=index):
            replace(f, "/measurement/isFrequencySelection", np.int8(1), dtype=np.int8)
            if "/measurement/frequencySelection" in f:
                del f["/measurement/frequencySelection"]
            f.create_dataset("/measurement/frequencySelection", data=np.asarray(index, dtype=np.int64))
        m = mutate("index", "frequencySelection " + label, "/measurement/frequencySelection", act)
        if m:
            yield m
    for p in datasets:
        shape, dtype = info[p]
        if shape == () and dtype == np.int64:
            for value in (-1, 0, 2 ** 40) + ((n_frames + 1, n_frames - 1) if p == "/acquisition/numFrames" else ()):
                def act(f, p=p, value=value):
                    f[p][()] = np.int64(value)
                m = mutate("value", "= %d" % value, p, act)
                if m:
                    yield m
    for p in groups:
        def act(f, p=p):
            del f[p]
            f.create_dataset(p, data=np.int64(0))
        m = mutate("group", "replaced by a dataset", p, act)
        if m:
            yield m
    size = os.path.getsize(base)
    offsets = sorted(set([0, 8, 100, 512, 1024, 2048, 4096] + [int(size * k / 44) for k in range(1, 44)]))
    for off in offsets:
        if off >= size:
            continue
        dst = copy("truncate")
        with open(dst, "r+b") as fh:
            fh.truncate(off)
        yield ("truncate", "at %d of %d bytes" % (off, size), None, dst, None)


def run(argv, timeout):
    """(exit code, output); (None, "") when the program ran past `timeout` twice in a row (a run held up
    once by a loaded machine is tried again with three times the limit; a hang hangs both times)."""
    for limit in (timeout, 3 * timeout):
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=limit)
        except subprocess.TimeoutExpired:
            continue
        return p.returncode, (p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace"))
    return None, ""


DERIVED = ("value", "reshape", "index")  # kinds whose error may name the dataset the mutated one disagrees with


def judge(prog, code, text, kind, named, file):
    """None when the outcome is acceptable, else why not. `mpi inspect` prints a report (a summary, then one
    line per finding); the other commands print one error line."""
    if code is None:
        return "time-out"
    if code < 0:
        return "killed by signal %d" % -code
    for marker in STACK_MARKERS:
        if marker in text:
            return "prints '%s'" % marker
    if code == 0:
        return None
    if code not in (1, 2):
        return "exit code %d" % code
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return "exit %d without a message" % code
    if prog == "inspect":
        errors = [line for line in lines if "error" in line or "cannot" in line] or [lines[-1]]
    else:
        if len(lines) > MAX_LINES:
            return "%d lines of output" % len(lines)
        errors = [lines[-1]]
    if named is None:
        if any("truncated" in e or os.path.basename(file) in e for e in errors):
            return None
        return "error names neither 'truncated' nor the file: " + errors[-1]
    parts = named.strip("/").split("/")
    candidates = ["/" + "/".join(parts[:k]) for k in range(len(parts), 0, -1)]
    if any(c in e for c in candidates for e in errors):
        return None
    if kind in DERIVED and any(re.search(r"/[A-Za-z_]+/[A-Za-z_/]+", e) for e in errors):
        return None
    return "error does not name " + named + ": " + errors[-1]


def check_one(mpi, mutant, timeout, replay):
    kind, label, named, file, _ = mutant
    results = []
    code, text = run([mpi, "inspect", file], timeout)
    results.append(("inspect", code, judge("inspect", code, text, kind, named, file), text))
    if replay:  # True, or this copy's turn among every N-th (--replay-every)
        out = file + ".out"
        code, text = run([mpi, "replay", "--mdf", file, "--out", out], timeout)
        results.append(("replay", code, judge("replay", code, text, kind, named, file), text))
        shutil.rmtree(out, ignore_errors=True)
    return mutant, results


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mpi", required=True, help="the mpi program")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per run")
    ap.add_argument("--no-replay", action="store_true", help="run mpi inspect only")
    ap.add_argument("--replay-every", type=int, default=1,
                    help="run mpi replay on every N-th copy of each kind only (inspect runs on all)")
    ap.add_argument("--keep", action="store_true", help="keep the mutated copies")
    ap.add_argument("--list-accepted", action="store_true", help="list the copies a program accepted")
    ap.add_argument("base")
    ap.add_argument("workdir")
    args = ap.parse_args(argv)
    replay = not args.no_replay

    os.makedirs(args.workdir, exist_ok=True)
    for cmd in (["inspect", args.base],) + ((["replay", "--mdf", args.base, "--out", os.path.join(args.workdir, "base.out")],) if replay else ()):
        code, text = run([args.mpi] + cmd, args.timeout * 3)
        if code != 0:
            print("mutate_mdf: the base file is not accepted by mpi %s (exit %s):\n%s" % (cmd[0], code, text))
            return 2
    shutil.rmtree(os.path.join(args.workdir, "base.out"), ignore_errors=True)

    datasets, groups = walk(args.base)
    mutants = list(make_mutants(args.base, args.workdir, datasets, groups))
    counts = {}
    failures = []
    accepted = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        every = max(1, args.replay_every)
        turn = {}

        def replay_turn(m):
            turn[m[0]] = turn.get(m[0], -1) + 1
            return replay and turn[m[0]] % every == 0

        jobs = [(m, replay_turn(m)) for m in mutants]
        for mutant, results in pool.map(lambda j: check_one(args.mpi, j[0], args.timeout, j[1]), jobs):
            kind, label, named, file, _ = mutant
            passed = True
            for prog, code, why, text in results:
                outcome = "accepted" if code == 0 and why is None else ("rejected" if why is None else "FAILED")
                key = (kind, prog, outcome)
                counts[key] = counts.get(key, 0) + 1
                if outcome == "accepted" and args.list_accepted:
                    accepted.append("%s %s (%s): mpi %s" % (kind, named, label, prog))
                if why is not None:
                    passed = False
                    failures.append("%s %s (%s %s): mpi %s: %s\n    %s" % (kind, named or "", label, os.path.basename(file), prog, why,
                                                                     "\n    ".join(text.splitlines()[-6:])))
            if not args.keep and passed:
                os.remove(file)

    kinds = sorted({k for k, _, _ in counts})
    progs = ["inspect"] + (["replay"] if replay else [])
    total = {k: sum(1 for m in mutants if m[0] == k) for k in kinds}
    print("%d mutated copies of %s (%d datasets, %d groups)" % (len(mutants), os.path.basename(args.base), len(datasets), len(groups)))
    for k in kinds:
        cells = []
        for prog in progs:
            cells.append("%s %d rejected, %d accepted, %d failed" % (prog, counts.get((k, prog, "rejected"), 0),
                                                                    counts.get((k, prog, "accepted"), 0), counts.get((k, prog, "FAILED"), 0)))
        print("  %-9s %4d copies: %s" % (k, total[k], "; ".join(cells)))
    for a in accepted:
        print("accepted " + a)
    for f in failures:
        print("FAIL " + f)
    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
