#!/usr/bin/python3
"""Strict conformance checker for MPI Data Format (MDF) v2.0 / v2.1 files.

Usage: check_mdf.py [--timeout SECONDS] FILE...

Prints one line per finding, "FILE: /path: ERROR|WARNING: reason", and exits with
0 when no file has an error, 1 when some file has an error, 2 when some file cannot be
read as HDF5 at all. Each file is checked in a child process, so that a corrupt file
that makes the HDF5 library crash or hang (default limit 120 s a file) is reported as
unreadable instead of ending the checker. The rules come from the MDF specification (v2.x): every parameter is
an HDF5 dataset (no attributes), booleans are Int8, complex numbers are a compound of
members r and i, strings are variable length, parameters of dimension 1 are scalars,
dimensions are listed slowest first (the shape h5py reports), index arrays are 1-based.
"""

import datetime
import math
import re
import subprocess
import sys

try:
    import h5py
    import numpy as np
except ImportError as exc:  # pragma: no cover - environment problem, not a file problem
    sys.stderr.write("check_mdf: needs python3-h5py and python3-numpy (%s)\n" % exc)
    sys.exit(2)

ERROR = "ERROR"
WARNING = "WARNING"

TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
VERSION_RE = re.compile(r"^2\.([01])\.(\d+)$")

# Type classes of the specification.
STRING = "String"
INT64 = "Int64"
INTEGER = "Integer"  # any of Int8, Int16, Int32, Int64
INT8 = "Int8"  # booleans
FLOAT64 = "Float64"
NUMBER = "Number"  # Float32/64, Int8..Int64 (real)
COMPLEX = "Complex"  # compound {r, i} of Float32 or Float64
NUMBER_OR_COMPLEX = "Number or Complex"

SCALAR = ()

KNOWN_GROUPS = {"/", "/study", "/experiment", "/tracer", "/scanner", "/acquisition",
                "/acquisition/drivefield", "/acquisition/receiver", "/measurement",
                "/calibration", "/reconstruction"}


class Report:
    def __init__(self, filename, stream=None):
        self.filename = filename
        self.lines = []
        self.errors = 0
        self.unreadable = False
        self.stream = stream  # when set, each finding is written (and flushed) at once

    def add(self, level, path, reason):
        if level == ERROR:
            self.errors += 1
        line = "%s: %s: %s: %s" % (self.filename, path, level, reason)
        self.lines.append(line)
        if self.stream is not None:
            self.stream.write(line + "\n")
            self.stream.flush()

    def error(self, path, reason):
        self.add(ERROR, path, reason)

    def warning(self, path, reason):
        self.add(WARNING, path, reason)


def _is_vlen_string(dt):
    info = h5py.check_string_dtype(dt)
    return info is not None and info.length is None


def _is_fixed_string(dt):
    info = h5py.check_string_dtype(dt)
    return info is not None and info.length is not None


def _little_endian(dt):
    if dt.fields:
        return all(_little_endian(f[0]) for f in dt.fields.values())
    return dt.byteorder in ("<", "=", "|")


def _compound_members(dset):
    """Names of the members of a compound HDF5 type, or None when it is not compound."""
    tid = dset.id.get_type()
    if tid.get_class() != h5py.h5t.COMPOUND:
        return None
    names = []
    for i in range(tid.get_nmembers()):
        name = tid.get_member_name(i)
        names.append(name.decode() if isinstance(name, bytes) else name)
    return names


def _type_ok(dset, kind):
    """Returns None when the dataset's HDF5 type is of the class 'kind', else a description."""
    dt = dset.dtype
    if kind == STRING:
        if _is_vlen_string(dt):
            return None
        if _is_fixed_string(dt):
            return "a fixed-length string, the specification wants a variable-length string"
        return "of type %s, not a variable-length string" % dt
    members = _compound_members(dset)
    if kind in (COMPLEX, NUMBER_OR_COMPLEX) and members is not None:
        if members != ["r", "i"]:
            return "a compound with members %s, complex numbers need members (r, i)" % members
        if dt.kind != "c" and not (dt.fields and all(f[0].kind == "f" for f in dt.fields.values())):
            return "a compound (r, i) whose members are not floating point"
        if not _little_endian(dt):
            return "big-endian, the specification wants little-endian"
        return None
    if kind == COMPLEX:
        return "of type %s, not a complex compound (r, i)" % dt
    if members is not None:
        return "a compound type %s where %s is required" % (members, kind)
    if not _little_endian(dt):
        return "big-endian (%s), the specification wants little-endian" % dt
    if kind == INT64:
        return None if (dt.kind == "i" and dt.itemsize == 8) else "of type %s, not Int64" % dt
    if kind == INT8:
        return None if (dt.kind == "i" and dt.itemsize == 1) else "of type %s, not Int8" % dt
    if kind == INTEGER:
        return None if dt.kind == "i" else "of type %s, not a signed integer (Int8..Int64)" % dt
    if kind == FLOAT64:
        return None if (dt.kind == "f" and dt.itemsize == 8) else "of type %s, not Float64" % dt
    if kind in (NUMBER, NUMBER_OR_COMPLEX):
        if dt.kind == "i" or (dt.kind == "f" and dt.itemsize in (4, 8)):
            return None
        return "of type %s, not a number type (Float32/64, Int8..Int64)" % dt
    return "of unknown type class"


def _shape_text(shape):
    if shape == ():
        return "a scalar"
    return "(" + " x ".join(str(s) for s in shape) + ")"


class Checker:
    def __init__(self, f, report):
        self.f = f
        self.r = report
        self.minor = None  # 0 for v2.0, 1 for v2.1

    # ---- generic helpers -------------------------------------------------------------
    def node(self, path):
        try:
            if path in self.f:
                return self.f[path]
        except Exception as exc:  # broken links and the like
            self.r.error(path, "cannot be opened: %s" % exc)
        return None

    def group(self, path, mandatory, why=""):
        g = self.node(path)
        if g is None:
            if mandatory:
                self.r.error(path, "mandatory group missing" + why)
            return None
        if not isinstance(g, h5py.Group):
            self.r.error(path, "must be a group, found a dataset")
            return None
        return g

    def field(self, path, kind, shape=SCALAR, mandatory=True, why=""):
        """Checks that 'path' is a dataset of type class 'kind' and shape 'shape'.

        'shape' is a tuple whose entries are ints (exact), None (any) or a (name, value)
        pair where value may be None when the dimension is not known. Returns the dataset
        or None when it is missing or unusable."""
        d = self.node(path)
        if d is None:
            if mandatory:
                self.r.error(path, "mandatory field missing" + why)
            return None
        if isinstance(d, h5py.Group):
            self.r.error(path, "must be a dataset, found a group")
            return None
        if not isinstance(d, h5py.Dataset):
            self.r.error(path, "must be a dataset")
            return None
        ok = True
        bad_type = _type_ok(d, kind)
        if bad_type:
            self.r.error(path, "wrong type: %s (spec: %s)" % (bad_type, kind))
            ok = False
        if shape is not None and not self._shape_ok(path, d.shape, shape):
            ok = False
        return d if ok else None

    def _shape_ok(self, path, actual, want):
        if want == SCALAR:
            if actual != ():
                self.r.error(path, "wrong shape: %s, the specification wants a scalar" % _shape_text(actual))
                return False
            return True
        names = []
        ok = len(actual) == len(want)
        if ok:
            for a, w in zip(actual, want):
                if isinstance(w, tuple):
                    name, value = w
                    names.append(name)
                    if value is not None and a != value:
                        ok = False
                elif w is None:
                    names.append("*")
                else:
                    names.append(str(w))
                    if a != w:
                        ok = False
        else:
            names = [w[0] if isinstance(w, tuple) else ("*" if w is None else str(w)) for w in want]
        if not ok:
            expect = []
            for w in want:
                if isinstance(w, tuple):
                    expect.append("%s=%s" % (w[0], "?" if w[1] is None else w[1]))
                else:
                    expect.append("*" if w is None else str(w))
            self.r.error(path, "wrong shape: %s, expected (%s)" % (_shape_text(actual), " x ".join(expect)))
        return ok

    def read(self, d):
        """Reads a dataset's value; None (and an error) when that fails."""
        if d is None:
            return None
        try:
            v = d[()]
        except Exception as exc:
            self.r.error(d.name, "cannot be read: %s" % exc)
            return None
        return v

    def text(self, path, mandatory=True):
        v = self.read(self.field(path, STRING, SCALAR, mandatory))
        if v is None:
            return None
        if isinstance(v, bytes):
            try:
                v = v.decode("utf-8")
            except UnicodeDecodeError:
                self.r.error(path, "string is not valid UTF-8")
                return None
        return v

    def int_scalar(self, path, kind=INT64, minimum=None, mandatory=True):
        v = self.read(self.field(path, kind, SCALAR, mandatory))
        if v is None:
            return None
        v = int(v)
        if minimum is not None and v < minimum:
            self.r.error(path, "value %d is below the minimum %d" % (v, minimum))
            return None
        return v

    def float_scalar(self, path, positive=False, mandatory=True):
        v = self.read(self.field(path, FLOAT64, SCALAR, mandatory))
        if v is None:
            return None
        v = float(v)
        if not math.isfinite(v):
            self.r.error(path, "value is not finite")
            return None
        if positive and v <= 0:
            self.r.error(path, "value %g must be positive" % v)
            return None
        return v

    def flag(self, path, mandatory=True, why=""):
        v = self.read(self.field(path, INT8, SCALAR, mandatory, why))
        if v is None:
            return None
        v = int(v)
        if v not in (0, 1):
            self.r.error(path, "boolean flag must be 0 or 1, found %d" % v)
            return None
        return bool(v)

    def time_string(self, path, value):
        m = TIME_RE.match(value)
        if not m:
            self.r.error(path, "time '%s' is not of the form yyyy-mm-ddThh:mm:ss(.sss) without zone" % value)
            return
        frac = m.group(7)
        if frac is not None and len(frac) - 1 > 3:
            self.r.error(path, "time '%s' has %d fractional digits, at most 3 are allowed" % (value, len(frac) - 1))
            return
        try:
            datetime.datetime(*(int(m.group(i)) for i in range(1, 7)))
        except ValueError as exc:
            self.r.error(path, "time '%s' is not a valid date/time: %s" % (value, exc))

    def time_field(self, path, mandatory=True):
        v = self.text(path, mandatory)
        if v is not None:
            self.time_string(path, v)

    def uuid_field(self, path, mandatory=True):
        v = self.text(path, mandatory)
        if v is None:
            return
        if not UUID_RE.match(v):
            self.r.error(path, "uuid '%s' is not in the canonical 8-4-4-4-12 hexadecimal form" % v)
            return
        if v[14] != "4" or v[19].lower() not in "89ab":
            self.r.warning(path, "uuid '%s' is not a version 4 (random) UUID as recommended" % v)

    def unknown_members(self, g, known):
        try:
            names = list(g.keys())
        except Exception as exc:
            self.r.error(g.name, "cannot list members: %s" % exc)
            return
        for name in names:
            if name in known or name.startswith("_"):
                continue
            path = (g.name.rstrip("/") + "/" + name)
            if path in KNOWN_GROUPS:
                continue
            self.r.warning(path, "not a parameter of the specification (custom parameters should start with '_')")

    # ---- the checks ------------------------------------------------------------------
    def no_attributes(self):
        found = []

        def visit(name, obj):
            try:
                if len(obj.attrs) > 0:
                    found.append(("/" + name, list(obj.attrs.keys())))
            except Exception:
                pass
        try:
            if len(self.f.attrs) > 0:
                found.append(("/", list(self.f.attrs.keys())))
            self.f.visititems(visit)
        except Exception as exc:
            self.r.error("/", "cannot walk the file: %s" % exc)
        for path, names in found:
            self.r.error(path, "has HDF5 attributes %s; MDF stores everything as datasets" % names)

    def guarded(self, path, fn, *args):
        """Runs one section of checks; a defect the checks did not foresee ends only that section."""
        try:
            return fn(*args)
        except Exception as exc:
            self.r.error(path, "checking stopped on an unexpected %s: %s" % (type(exc).__name__, exc))
            return None

    def run(self):
        self.guarded("/", self.no_attributes)
        self.guarded("/", self.root)
        self.guarded("/study", self.study)
        self.guarded("/experiment", self.experiment)
        self.guarded("/scanner", self.scanner)
        dims = self.guarded("/acquisition", self.acquisition) or {}
        has_calib = self.node("/calibration") is not None
        self.guarded("/tracer", self.tracer, has_calib)
        meas = self.guarded("/measurement", self.measurement, dims, has_calib)
        if has_calib:
            self.guarded("/calibration", self.calibration, dims, meas)
        self.guarded("/reconstruction", self.reconstruction)
        if (self.node("/measurement") is None and not has_calib
                and self.node("/reconstruction") is None):
            self.r.warning("/", "file holds none of /measurement, /calibration, /reconstruction")
        self.guarded("/", self.unknown_members, self.f["/"],
                     {"version", "uuid", "time", "study", "experiment", "tracer", "scanner", "acquisition",
                      "measurement", "calibration", "reconstruction"})

    def root(self):
        v = self.text("/version")
        if v is not None:
            m = VERSION_RE.match(v)
            if not m:
                self.r.error("/version", "version '%s' is not 2.0.x or 2.1.x" % v)
            else:
                self.minor = int(m.group(1))
        self.uuid_field("/uuid")
        self.time_field("/time")

    def study(self):
        g = self.group("/study", True)
        if g is None:
            return
        self.text("/study/name")
        self.int_scalar("/study/number")
        self.uuid_field("/study/uuid")
        self.text("/study/description")
        self.time_field("/study/time", mandatory=False)
        self.unknown_members(g, {"name", "number", "uuid", "description", "time"})

    def experiment(self):
        g = self.group("/experiment", True)
        if g is None:
            return
        self.text("/experiment/name")
        self.int_scalar("/experiment/number")
        self.uuid_field("/experiment/uuid")
        self.text("/experiment/description")
        self.text("/experiment/subject")
        self.flag("/experiment/isSimulation")
        self.unknown_members(g, {"name", "number", "uuid", "description", "subject", "isSimulation"})

    def tracer(self, has_calib):
        g = self.node("/tracer")
        if g is None:
            if has_calib:
                self.r.error("/tracer", "mandatory group missing (a calibration scan has particles in the scanner)")
            else:
                self.r.warning("/tracer", "group missing; it is mandatory whenever particles were in the scanner")
            return
        g = self.group("/tracer", True)
        if g is None:
            return
        A = None
        for name in ("name", "batch", "vendor", "solute", "volume", "concentration"):
            d = self.node("/tracer/" + name)
            if isinstance(d, h5py.Dataset) and len(d.shape) == 1:
                A = d.shape[0]
                break
        for name in ("name", "batch", "vendor", "solute"):
            d = self.field("/tracer/" + name, STRING, (("A", A),))
            self._check_strings(d)
        for name in ("volume", "concentration"):
            self.field("/tracer/" + name, FLOAT64, (("A", A),))
        d = self.field("/tracer/injectionTime", STRING, (("A", A),), mandatory=False)
        vals = self._check_strings(d)
        for v in vals or []:
            self.time_string("/tracer/injectionTime", v)
        self.unknown_members(g, {"name", "batch", "vendor", "solute", "volume", "concentration", "injectionTime"})

    def _check_strings(self, d):
        v = self.read(d)
        if v is None:
            return None
        out = []
        for x in np.ravel(v):
            if isinstance(x, bytes):
                try:
                    x = x.decode("utf-8")
                except UnicodeDecodeError:
                    self.r.error(d.name, "string is not valid UTF-8")
                    return None
            out.append(x)
        return out

    def scanner(self):
        g = self.group("/scanner", True)
        if g is None:
            return
        for name in ("facility", "manufacturer", "name", "operator"):
            self.text("/scanner/" + name)
        topo = self.text("/scanner/topology")
        if topo is not None and topo not in ("FFP", "FFL", "MPS"):
            self.r.warning("/scanner/topology", "topology '%s' is none of FFP, FFL, MPS" % topo)
        self.float_scalar("/scanner/boreSize", positive=True, mandatory=False)
        self.unknown_members(g, {"facility", "manufacturer", "name", "operator", "topology", "boreSize"})

    def acquisition(self):
        dims = {}
        g = self.group("/acquisition", True)
        if g is None:
            return dims
        dims["numAverages"] = self.int_scalar("/acquisition/numAverages", minimum=1)
        dims["N"] = self.int_scalar("/acquisition/numFrames", minimum=0)
        dims["J"] = self.int_scalar("/acquisition/numPeriodsPerFrame", minimum=1)
        self.time_field("/acquisition/startTime")
        J = dims["J"]
        grad = self.node("/acquisition/gradient")
        Y = None
        if isinstance(grad, h5py.Dataset) and len(grad.shape) == 4:
            Y = grad.shape[1]
        off = self.node("/acquisition/offsetField")
        if Y is None and isinstance(off, h5py.Dataset) and len(off.shape) == 3:
            Y = off.shape[1]
        d = self.field("/acquisition/gradient", FLOAT64, (("J", J), ("Y", Y), 3, 3), mandatory=False)
        self._finite(d)
        d = self.field("/acquisition/offsetField", FLOAT64, (("J", J), ("Y", Y), 3), mandatory=False)
        self._finite(d)
        self.unknown_members(g, {"numAverages", "numFrames", "numPeriodsPerFrame", "startTime", "gradient",
                                 "offsetField", "drivefield", "receiver"})
        self.drivefield(dims)
        self.receiver(dims)
        return dims

    def _finite(self, d):
        v = self.read(d)
        if v is not None and not np.all(np.isfinite(v)):
            self.r.error(d.name, "holds non-finite values")
        return v

    def drivefield(self, dims):
        g = self.group("/acquisition/drivefield", True)
        if g is None:
            return
        p = "/acquisition/drivefield/"
        D = self.int_scalar(p + "numChannels", minimum=1)
        base = self.float_scalar(p + "baseFrequency", positive=True)
        cycle = self.float_scalar(p + "cycle", positive=True)
        dv = self.node(p + "divider")
        F = dv.shape[1] if isinstance(dv, h5py.Dataset) and len(dv.shape) == 2 else None
        divider = self.read(self.field(p + "divider", INTEGER, (("D", D), ("F", F))))
        if divider is not None:
            if np.any(divider < 1):
                self.r.error(p + "divider", "dividers must be positive integers")
                divider = None
        dims["D"], dims["F"] = D, F
        J = dims.get("J")
        for name in ("strength", "phase"):
            self._finite(self.field(p + name, FLOAT64, (("J", J), ("D", D), ("F", F))))
        wf = self._check_strings(self.field(p + "waveform", STRING, (("D", D), ("F", F))))
        for w in wf or []:
            if w not in ("sine", "triangle", "custom"):
                self.r.warning(p + "waveform", "waveform '%s' is none of sine, triangle, custom" % w)
        if divider is not None and base is not None and cycle is not None:
            used = [int(x) for x in np.ravel(divider)]
            lcm = 1
            for x in used:
                lcm = lcm * x // math.gcd(lcm, x)
            want = lcm / base
            if abs(cycle - want) > 1e-9 * want:
                self.r.error(p + "cycle", "cycle %.9g s differs from lcm(divider)/baseFrequency = %.9g s" % (cycle, want))
        dims["cycle"] = cycle
        self.unknown_members(g, {"numChannels", "baseFrequency", "cycle", "divider", "strength", "phase",
                                 "waveform", "customWaveform"})

    def receiver(self, dims):
        g = self.group("/acquisition/receiver", True)
        if g is None:
            return
        p = "/acquisition/receiver/"
        C = self.int_scalar(p + "numChannels", minimum=1)
        V = self.int_scalar(p + "numSamplingPoints", minimum=1)
        bw = self.float_scalar(p + "bandwidth", positive=True)
        self.text(p + "unit")
        dims["C"], dims["V"] = C, V
        d = self.field(p + "dataConversionFactor", FLOAT64, (("C", C), 2), mandatory=False)
        self._finite(d)
        d = self.field(p + "inductionFactor", FLOAT64, (("C", C),), mandatory=False)
        self._finite(d)
        L = V // 2 + 1 if V is not None else None
        self.field(p + "transferFunction", COMPLEX, (("C", C), ("V/2+1", L)), mandatory=False)
        cycle = dims.get("cycle")
        if bw is not None and V is not None and cycle is not None:
            want = V / cycle / 2.0
            if abs(bw - want) > 1e-6 * want:
                self.r.warning(p + "bandwidth", "bandwidth %.9g Hz differs from half the sampling rate "
                               "numSamplingPoints/cycle/2 = %.9g Hz" % (bw, want))
        self.unknown_members(g, {"numChannels", "numSamplingPoints", "bandwidth", "unit", "dataConversionFactor",
                                 "inductionFactor", "transferFunction"})

    def _index_array(self, path, length_name, length, lo, hi, permutation=False):
        d = self.field(path, INTEGER, ((length_name, length),))
        v = self.read(d)
        if v is None:
            return None
        v = np.asarray(v, dtype=np.int64)
        if v.size and v.min() < lo:
            extra = " (0 found: indices are 1-based)" if v.min() == 0 and lo == 1 else ""
            self.r.error(path, "index %d below %d%s" % (int(v.min()), lo, extra))
            return None
        if hi is not None and v.size and v.max() > hi:
            self.r.error(path, "index %d above %d (indices are 1-based)" % (int(v.max()), hi))
            return None
        if len(np.unique(v)) != v.size:
            self.r.error(path, "indices are not unique" + (" (not a permutation)" if permutation else ""))
            return None
        return v

    def measurement(self, dims, has_calib):
        g = self.node("/measurement")
        if g is None:
            if has_calib:
                self.r.error("/measurement", "mandatory group missing (a calibration stores its data there)")
            return None
        g = self.group("/measurement", True)
        if g is None:
            return None
        p = "/measurement/"
        flags = {}
        names = ["isBackgroundCorrected", "isFastFrameAxis", "isFourierTransformed", "isFramePermutation",
                 "isFrequencySelection", "isSpectralLeakageCorrected", "isTransferFunctionCorrected"]
        for name in names:
            flags[name] = self.flag(p + name)
        sparse_mandatory = self.minor == 1
        flags["isSparsityTransformed"] = self.flag(p + "isSparsityTransformed", mandatory=sparse_mandatory,
                                                   why=" (mandatory in MDF 2.1)")
        N, J, C, V = dims.get("N"), dims.get("J"), dims.get("C"), dims.get("V")
        L = V // 2 + 1 if V is not None else None

        bgf = self.read(self.field(p + "isBackgroundFrame", INT8, (("N=numFrames", N),)))
        num_bg = None
        if bgf is not None:
            bgf = np.asarray(bgf)
            if np.any((bgf != 0) & (bgf != 1)):
                self.r.error(p + "isBackgroundFrame", "boolean mask must hold only 0 and 1")
            else:
                num_bg = int(bgf.sum())

        if flags["isFramePermutation"]:
            self._index_array(p + "framePermutation", "N", N, 1, N, permutation=True)
        elif self.node(p + "framePermutation") is not None:
            self.r.warning(p + "framePermutation", "present although isFramePermutation is 0")

        K = None
        fourier = flags["isFourierTransformed"]
        if flags["isFrequencySelection"]:
            if fourier is False:
                self.r.error(p + "isFrequencySelection", "frequency selection needs isFourierTransformed = 1")
            fs_node = self.node(p + "frequencySelection")
            klen = fs_node.shape[0] if isinstance(fs_node, h5py.Dataset) and len(fs_node.shape) == 1 else None
            sel = self._index_array(p + "frequencySelection", "K", klen, 1, L)
            if sel is not None:
                K = sel.size
        elif self.node(p + "frequencySelection") is not None:
            self.r.warning(p + "frequencySelection", "present although isFrequencySelection is 0")
        if K is None and fourier is not None and not flags["isFrequencySelection"]:
            K = L if fourier else V
        if flags["isSparsityTransformed"]:
            self.text(p + "sparsityTransformation", mandatory=True)
            self.field(p + "subsamplingIndices", INTEGER, (("J", J), ("C", C), ("K", K), None))

        kind = COMPLEX if fourier else (NUMBER if fourier is False else NUMBER_OR_COMPLEX)
        frames = ("N=numFrames", N)
        if flags["isSparsityTransformed"]:
            frames = ("B+E", None)  # sparsity transformed: frame count is coefficients plus background
        kname = ("K" if flags["isFrequencySelection"] else ("V/2+1" if fourier else "V"), K)
        if flags["isFastFrameAxis"]:
            shape = (("J", J), ("C", C), kname, frames)
        else:
            shape = (frames, ("J", J), ("C", C), kname)
        d = self.field(p + "data", kind, None)
        if d is not None:
            self._shape_ok(p + "data", d.shape, shape)
            if (N is not None and len(d.shape) == 4 and not flags["isSparsityTransformed"]):
                n_axis = 3 if flags["isFastFrameAxis"] else 0
                if d.shape[n_axis] != N:
                    self.r.error("/acquisition/numFrames", "numFrames = %d but /measurement/data holds %d frames"
                                 % (N, d.shape[n_axis]))
            self._storage(d)
        self.unknown_members(g, set(names) | {"isSparsityTransformed", "isBackgroundFrame", "framePermutation",
                                              "frequencySelection", "data", "sparsityTransformation",
                                              "subsamplingIndices"})
        # The calibration's snr is per frequency: the selected ones, else V/2+1 (also for time-domain data).
        k_freq = K if (fourier or flags["isFrequencySelection"]) else L
        return {"flags": flags, "K": K, "K_freq": k_freq, "num_bg": num_bg, "N": N}

    def _storage(self, d):
        try:
            plist = d.id.get_create_plist()
            layout = plist.get_layout()
            nfilters = plist.get_nfilters()
            nexternal = plist.get_external_count()
        except Exception as exc:
            self.r.error(d.name, "cannot read the storage layout: %s" % exc)
            return
        if d.chunks is not None or layout == h5py.h5d.CHUNKED:
            self.r.error(d.name, "stored chunked %s; readers memory-map it, it must be contiguous" % (d.chunks,))
        elif layout == h5py.h5d.COMPACT:
            self.r.error(d.name, "stored compact; readers memory-map it, it must be contiguous")
        if nfilters > 0 or d.compression is not None:
            self.r.error(d.name, "stored with filters (compression %s); it must be unfiltered" % d.compression)
        if nexternal > 0:
            self.r.error(d.name, "stored in external files; it must be contiguous inside the file")
        if layout == h5py.h5d.CONTIGUOUS and d.size > 0:
            try:
                if d.id.get_offset() is None:
                    self.r.warning(d.name, "has no storage allocated (never written)")
            except Exception:
                pass

    def calibration(self, dims, meas):
        g = self.group("/calibration", True)
        if g is None:
            return
        p = "/calibration/"
        self.text(p + "method")
        N = dims.get("N")
        O = None
        if meas is not None and meas.get("num_bg") is not None and N is not None:
            O = N - meas["num_bg"]
        size = self.read(self.field(p + "size", INTEGER, (3,), mandatory=False))
        if size is None and self.node(p + "size") is None:
            self.r.warning(p + "size", "missing; readers need the grid size to use the system matrix")
        if size is not None:
            size = np.asarray(size, dtype=np.int64)
            if np.any(size < 1):
                self.r.error(p + "size", "grid sizes must be >= 1, found %s" % size.tolist())
            elif O is not None and not meas["flags"].get("isSparsityTransformed"):
                if int(np.prod(size)) != O:
                    self.r.error(p + "size", "prod(size) = %d differs from the number of foreground frames %d "
                                 "(numFrames %d minus %d background frames)" % (int(np.prod(size)), O, N,
                                                                                 meas["num_bg"]))
        for name in ("fieldOfView", "fieldOfViewCenter", "deltaSampleSize"):
            v = self._finite(self.field(p + name, FLOAT64, (3,), mandatory=False))
            if name != "fieldOfViewCenter" and v is not None and np.any(np.asarray(v) <= 0):
                self.r.error(p + name, "extent must be positive, found %s" % np.asarray(v).tolist())
        for name in ("fieldOfView", "fieldOfViewCenter"):
            if self.node(p + name) is None:
                self.r.warning(p + name, "missing; readers need it to place the system matrix")
        order = self.text(p + "order", mandatory=False)
        if order is not None and sorted(order) != ["x", "y", "z"]:
            self.r.error(p + "order", "order '%s' is not a permutation of 'xyz'" % order)
        self._finite(self.field(p + "positions", FLOAT64, (("O", O), 3), mandatory=False))
        self._finite(self.field(p + "offsetFields", FLOAT64, (("O", O), 3), mandatory=False))
        K = meas.get("K_freq") if meas else None
        self._finite(self.field(p + "snr", FLOAT64, (("J", dims.get("J")), ("C", dims.get("C")), ("K", K)),
                                mandatory=False))
        self.flag(p + "isMeanderingGrid", mandatory=False)
        self.unknown_members(g, {"method", "size", "fieldOfView", "fieldOfViewCenter", "deltaSampleSize", "order",
                                 "positions", "offsetFields", "snr", "isMeanderingGrid"})

    def reconstruction(self):
        g = self.node("/reconstruction")
        if g is None:
            return
        g = self.group("/reconstruction", True)
        if g is None:
            return
        p = "/reconstruction/"
        d = self.field(p + "data", NUMBER_OR_COMPLEX, (("Q", None), ("P", None), ("S", None)))
        P = d.shape[1] if d is not None else None
        size = self.read(self.field(p + "size", INTEGER, (3,), mandatory=False))
        if size is not None and P is not None and int(np.prod(size)) != P:
            self.r.error(p + "size", "prod(size) = %d differs from the number of voxels P = %d"
                         % (int(np.prod(size)), P))
        for name in ("fieldOfView", "fieldOfViewCenter"):
            self._finite(self.field(p + name, FLOAT64, (3,), mandatory=False))
        order = self.text(p + "order", mandatory=False)
        if order is not None and sorted(order) != ["x", "y", "z"]:
            self.r.error(p + "order", "order '%s' is not a permutation of 'xyz'" % order)
        self._finite(self.field(p + "positions", FLOAT64, (("P", P), 3), mandatory=False))
        ov = self.read(self.field(p + "isOverscanRegion", INT8, (("P", P),), mandatory=False))
        if ov is not None and np.any((ov != 0) & (ov != 1)):
            self.r.error(p + "isOverscanRegion", "boolean mask must hold only 0 and 1")
        self.unknown_members(g, {"data", "size", "fieldOfView", "fieldOfViewCenter", "order", "positions",
                                 "isOverscanRegion"})


def check_file(filename, stream=None):
    """Checks one file in this process and returns its Report."""
    report = Report(filename, stream)
    try:
        f = h5py.File(filename, "r")
    except Exception as exc:
        report.unreadable = True
        report.error("/", "cannot be opened as an HDF5 file: %s" % exc)
        return report
    try:
        Checker(f, report).run()
    except Exception as exc:  # a defect the checks did not foresee: report, never crash
        report.error("/", "checking stopped on an unexpected %s: %s" % (type(exc).__name__, exc))
    finally:
        try:
            f.close()
        except Exception:
            pass
    return report


def _worker(filename):
    report = check_file(filename, sys.stdout)
    if report.unreadable:
        return 2
    return 1 if report.errors else 0


def check_isolated(filename, timeout):
    """Checks one file in a child process; returns (exit status, output lines)."""
    cmd = [sys.executable, __file__, "--worker", filename]
    try:
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        out, code, why = res.stdout, res.returncode, None
        if code < 0 or code > 2:
            why = "the HDF5 library failed (exit status %d) reading the file: the file is corrupt" % code
    except subprocess.TimeoutExpired as exc:
        out, code = exc.stdout or b"", 2
        why = "reading the file did not finish within %g s: the file is corrupt" % timeout
    lines = out.decode("utf-8", "replace").splitlines()
    if why is not None:
        lines.append("%s: /: ERROR: %s" % (filename, why))
        code = 2
    return code, lines


def main(argv):
    args = argv[1:]
    if len(args) == 2 and args[0] == "--worker":
        return _worker(args[1])
    timeout = 120.0
    if len(args) >= 2 and args[0] == "--timeout":
        try:
            timeout = float(args[1])
        except ValueError:
            sys.stderr.write("check_mdf: --timeout needs a number of seconds, got '%s'\n" % args[1])
            return 2
        args = args[2:]
    if not args or args[0] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    status = 0
    for filename in args:
        code, lines = check_isolated(filename, timeout)
        for line in lines:
            print(line)
        sys.stdout.flush()
        if code == 2:
            status = 2
        elif code == 1 and status == 0:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
