#!/usr/bin/python3
"""Self-tests of check_mdf.py and write_reference_mdf.py.

Run all:   python3 tools/mdf/test_check_mdf.py
Run one:   python3 tools/mdf/test_check_mdf.py ReferenceFiles   (or Defects, BadInput)
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(HERE, "check_mdf.py")
WRITER = os.path.join(HERE, "write_reference_mdf.py")

_spec = importlib.util.spec_from_file_location("check_mdf", CHECKER)
check_mdf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_mdf)

_REF_DIR = None


def reference_dir():
    """Writes the reference files once per process into a temporary folder."""
    global _REF_DIR
    if _REF_DIR is None:
        _REF_DIR = tempfile.mkdtemp(prefix="mdf-ref-")
        subprocess.run([sys.executable, WRITER, _REF_DIR], check=True)
    return _REF_DIR


def load_truth(ref):
    with open(os.path.join(ref, "ground_truth.json")) as fh:
        return json.load(fh)


def run_checker(*files):
    return subprocess.run([sys.executable, CHECKER] + list(files), capture_output=True, text=True)


def replace(f, path, data, **kw):
    del f[path]
    f.create_dataset(path, data=data, **kw)


class ReferenceFiles(unittest.TestCase):
    def test_reference_files_pass_without_findings(self):
        ref = reference_dir()
        files = [os.path.join(ref, n) for n in ("systemmatrix.mdf", "measurement.mdf")]
        res = run_checker(*files)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(res.stdout.strip(), "", "reference files should have no findings")

    def test_reference_layout_follows_the_specification(self):
        ref = reference_dir()
        with h5py.File(os.path.join(ref, "systemmatrix.mdf"), "r") as f:
            d = f["/measurement/data"]
            sel = f["/measurement/frequencySelection"][()]
            self.assertEqual(d.dtype.kind, "c")  # compound (r, i)
            self.assertEqual(d.shape[3], f["/acquisition/numFrames"][()])  # fast frame axis last
            self.assertEqual(d.shape[2], sel.size)
            self.assertGreaterEqual(sel.min(), 1)  # 1-based
            self.assertLessEqual(sel.max(), 1632 // 2 + 1)
            self.assertIsNone(d.chunks)
            size = f["/calibration/size"][()]
            nbg = int(f["/measurement/isBackgroundFrame"][()].sum())
            self.assertEqual(int(np.prod(size)), d.shape[3] - nbg)
        with h5py.File(os.path.join(ref, "measurement.mdf"), "r") as f:
            d = f["/measurement/data"]
            self.assertEqual(d.dtype, np.int16)
            self.assertEqual(d.shape, (f["/acquisition/numFrames"][()], 1, 2, 1632))
            # 1632 samples at 2.5 MS/s are one period of lcm(102, 96) base-clock ticks at 2.5 MHz
            cycle = f["/acquisition/drivefield/cycle"][()]
            self.assertAlmostEqual(cycle, 1632 / 2.5e6, delta=1e-15)

    def test_frame_permutation_restores_acquisition_order(self):
        ref = reference_dir()
        truth = load_truth(ref)
        nbg = truth["measurement"]["background_frames_acquired_first"]
        with h5py.File(os.path.join(ref, "measurement.mdf"), "r") as f:
            perm = f["/measurement/framePermutation"][()]
            bg = f["/measurement/isBackgroundFrame"][()]
        acquired_bg = np.zeros(perm.size, dtype=np.int8)
        acquired_bg[perm - 1] = bg  # stored frame i is acquired frame perm[i]
        self.assertEqual(acquired_bg.tolist(), [1] * nbg + [0] * (perm.size - nbg))
        self.assertFalse(np.array_equal(perm, np.arange(1, perm.size + 1)), "the permutation should not be identity")

    def test_system_matrix_reconstructs_the_phantom(self):
        """Tikhonov reconstruction of the measurement with the system matrix finds both points
        at the voxels and with the amounts of the ground truth."""
        ref = reference_dir()
        truth = load_truth(ref)
        with h5py.File(os.path.join(ref, "systemmatrix.mdf"), "r") as f:
            S = f["/measurement/data"][()]  # (J, C, K, N)
            bg = f["/measurement/isBackgroundFrame"][()].astype(bool)
            sel = f["/measurement/frequencySelection"][()] - 1
        with h5py.File(os.path.join(ref, "measurement.mdf"), "r") as f:
            raw = f["/measurement/data"][()].astype(np.float64)  # (N, J, C, V)
            a = f["/acquisition/receiver/dataConversionFactor"][()]
            mbg = f["/measurement/isBackgroundFrame"][()].astype(bool)
        A = S[0][..., ~bg].reshape(-1, int((~bg).sum()))
        u = raw * a[None, None, :, 0, None] + a[None, None, :, 1, None]
        signal = u[~mbg, 0].mean(axis=0) - u[mbg, 0].mean(axis=0)
        y = np.fft.rfft(signal, axis=-1)[:, sel].reshape(-1)
        lam = 1e-3 * np.linalg.norm(A) ** 2 / A.shape[1]
        c = np.linalg.solve(A.conj().T @ A + lam * np.eye(A.shape[1]), A.conj().T @ y).real
        top = sorted(np.argsort(c)[::-1][:2].tolist())
        want = sorted(p["linear_index_0based"] for p in truth["points"])
        self.assertEqual(top, want)
        amounts = {p["linear_index_0based"]: p["relative_amount"] for p in truth["points"]}
        ratio = c[want[1]] / c[want[0]]
        self.assertAlmostEqual(ratio, amounts[want[1]] / amounts[want[0]], delta=0.05)
        others = np.delete(c, want)
        self.assertLess(np.abs(others).max(), 0.05 * c[want].max())


class Defects(unittest.TestCase):
    """Each deliberate defect is found as an ERROR naming the field."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mdf-defect-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def broken(self, which, mutate):
        path = os.path.join(self.tmp, which)
        shutil.copy(os.path.join(reference_dir(), which), path)
        with h5py.File(path, "r+") as f:
            mutate(f)
        return path

    def assertFinding(self, path, field, words, level="ERROR"):
        rep = check_mdf.check_file(path)
        hits = [l for l in rep.lines if (": %s: %s:" % (field, level)) in l
                and all(w.lower() in l.lower() for w in words)]
        self.assertTrue(hits, "no %s on %s with %s; findings:\n%s" % (level, field, words, "\n".join(rep.lines)))
        if level == "ERROR":
            self.assertGreater(rep.errors, 0)
        return rep

    # --- mandatory content
    def test_missing_mandatory_field(self):
        p = self.broken("measurement.mdf", lambda f: f.__delitem__("/scanner/topology"))
        self.assertFinding(p, "/scanner/topology", ["mandatory", "missing"])

    def test_missing_mandatory_group(self):
        p = self.broken("measurement.mdf", lambda f: f.__delitem__("/study"))
        self.assertFinding(p, "/study", ["mandatory group missing"])

    def test_missing_conditional_frequency_selection(self):
        p = self.broken("systemmatrix.mdf", lambda f: f.__delitem__("/measurement/frequencySelection"))
        self.assertFinding(p, "/measurement/frequencySelection", ["missing"])

    def test_missing_tracer_in_calibration(self):
        p = self.broken("systemmatrix.mdf", lambda f: f.__delitem__("/tracer"))
        self.assertFinding(p, "/tracer", ["missing"])

    # --- types
    def test_wrong_type_float_for_int64(self):
        p = self.broken("measurement.mdf", lambda f: replace(f, "/acquisition/numFrames", np.float64(8)))
        self.assertFinding(p, "/acquisition/numFrames", ["wrong type", "Int64"])

    def test_boolean_not_int8(self):
        p = self.broken("measurement.mdf", lambda f: replace(f, "/experiment/isSimulation", np.int64(1)))
        self.assertFinding(p, "/experiment/isSimulation", ["wrong type", "Int8"])

    def test_fixed_length_string(self):
        p = self.broken("measurement.mdf", lambda f: replace(f, "/version", np.bytes_("2.1.0")))
        self.assertFinding(p, "/version", ["variable-length"])

    def test_fourier_data_not_complex(self):
        def m(f):
            d = f["/measurement/data"][()]
            replace(f, "/measurement/data", d.real.astype(np.float32))
        p = self.broken("systemmatrix.mdf", m)
        self.assertFinding(p, "/measurement/data", ["wrong type", "complex"])

    def test_complex_with_wrong_member_names(self):
        def m(f):
            d = f["/measurement/data"][()]
            ct = np.dtype([("re", "<f4"), ("im", "<f4")])
            out = np.empty(d.shape, ct)
            out["re"], out["im"] = d.real, d.imag
            replace(f, "/measurement/data", out)
        p = self.broken("systemmatrix.mdf", m)
        self.assertFinding(p, "/measurement/data", ["(r, i)"])

    def test_attribute_present(self):
        def m(f):
            f["/measurement/data"].attrs["unit"] = "V"
        p = self.broken("measurement.mdf", m)
        self.assertFinding(p, "/measurement/data", ["attributes"])

    # --- shapes and counts
    def test_wrong_shape(self):
        p = self.broken("measurement.mdf",
                        lambda f: replace(f, "/acquisition/drivefield/strength", np.full((2, 1), 0.012)))
        self.assertFinding(p, "/acquisition/drivefield/strength", ["wrong shape"])

    def test_scalar_stored_as_array(self):
        p = self.broken("measurement.mdf", lambda f: replace(f, "/acquisition/numAverages", np.array([1], np.int64)))
        self.assertFinding(p, "/acquisition/numAverages", ["wrong shape", "scalar"])

    def test_num_frames_mismatch(self):
        p = self.broken("measurement.mdf", lambda f: replace(f, "/acquisition/numFrames", np.int64(9)))
        self.assertFinding(p, "/acquisition/numFrames", ["numFrames = 9", "8 frames"])

    def test_background_mask_length(self):
        p = self.broken("measurement.mdf",
                        lambda f: replace(f, "/measurement/isBackgroundFrame", np.zeros(7, np.int8)))
        self.assertFinding(p, "/measurement/isBackgroundFrame", ["wrong shape"])

    def test_frequency_selection_does_not_match_data(self):
        def m(f):
            sel = f["/measurement/frequencySelection"][()]
            replace(f, "/measurement/frequencySelection", sel[:-1])
        p = self.broken("systemmatrix.mdf", m)
        self.assertFinding(p, "/measurement/data", ["wrong shape", "K="])

    def test_calibration_size_does_not_match_foreground_frames(self):
        p = self.broken("systemmatrix.mdf", lambda f: replace(f, "/calibration/size", np.array([15, 14, 1], np.int64)))
        self.assertFinding(p, "/calibration/size", ["prod(size)", "foreground"])

    def test_cycle_not_lcm_of_dividers(self):
        p = self.broken("measurement.mdf", lambda f: replace(f, "/acquisition/drivefield/cycle", np.float64(1e-3)))
        self.assertFinding(p, "/acquisition/drivefield/cycle", ["lcm"])

    # --- indices and flags
    def test_zero_based_frame_permutation(self):
        def m(f):
            perm = f["/measurement/framePermutation"][()]
            replace(f, "/measurement/framePermutation", perm - 1)
        p = self.broken("measurement.mdf", m)
        self.assertFinding(p, "/measurement/framePermutation", ["1-based"])

    def test_zero_based_frequency_selection(self):
        def m(f):
            sel = f["/measurement/frequencySelection"][()]
            replace(f, "/measurement/frequencySelection", np.arange(sel.size, dtype=np.int64))  # 0, 1, ...
        p = self.broken("systemmatrix.mdf", m)
        self.assertFinding(p, "/measurement/frequencySelection", ["1-based"])

    def test_frame_permutation_not_a_permutation(self):
        def m(f):
            perm = f["/measurement/framePermutation"][()]
            perm[1] = perm[0]
            replace(f, "/measurement/framePermutation", perm)
        p = self.broken("measurement.mdf", m)
        self.assertFinding(p, "/measurement/framePermutation", ["not unique"])

    def test_flag_not_zero_or_one(self):
        p = self.broken("measurement.mdf", lambda f: replace(f, "/measurement/isFourierTransformed", np.int8(2)))
        self.assertFinding(p, "/measurement/isFourierTransformed", ["0 or 1"])

    # --- storage
    def test_chunked_data(self):
        def m(f):
            d = f["/measurement/data"][()]
            replace(f, "/measurement/data", d, chunks=(1, 1, 2, 1632))
        p = self.broken("measurement.mdf", m)
        self.assertFinding(p, "/measurement/data", ["chunked", "contiguous"])

    def test_compressed_data(self):
        def m(f):
            d = f["/measurement/data"][()]
            replace(f, "/measurement/data", d, compression="gzip")
        p = self.broken("measurement.mdf", m)
        self.assertFinding(p, "/measurement/data", ["unfiltered"])

    # --- strings
    def test_bad_time_string_too_many_digits(self):
        p = self.broken("measurement.mdf", lambda f: replace(f, "/time", "2024-01-15T12:00:00.123456",
                                                            dtype=h5py.string_dtype()))
        self.assertFinding(p, "/time", ["fractional digits"])

    def test_bad_time_string_with_zone(self):
        p = self.broken("measurement.mdf", lambda f: replace(f, "/acquisition/startTime", "2024-01-15T12:00:00Z",
                                                            dtype=h5py.string_dtype()))
        self.assertFinding(p, "/acquisition/startTime", ["without zone"])

    def test_bad_uuid(self):
        p = self.broken("measurement.mdf", lambda f: replace(f, "/uuid", "1234-not-a-uuid",
                                                            dtype=h5py.string_dtype()))
        self.assertFinding(p, "/uuid", ["canonical"])

    def test_non_v4_uuid_is_a_warning(self):
        p = self.broken("measurement.mdf", lambda f: replace(f, "/study/uuid", "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
                                                            dtype=h5py.string_dtype()))
        rep = self.assertFinding(p, "/study/uuid", ["version 4"], level="WARNING")
        self.assertEqual(rep.errors, 0)

    def test_unsupported_version(self):
        p = self.broken("measurement.mdf", lambda f: replace(f, "/version", "1.0.5", dtype=h5py.string_dtype()))
        self.assertFinding(p, "/version", ["2.0.x"])

    def test_defect_sets_exit_code_one(self):
        p = self.broken("measurement.mdf", lambda f: f.__delitem__("/scanner/topology"))
        res = run_checker(os.path.join(reference_dir(), "systemmatrix.mdf"), p)
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertIn("%s: /scanner/topology: ERROR:" % p, res.stdout)


class BadInput(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mdf-bad-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_non_hdf5_file_exits_two(self):
        p = os.path.join(self.tmp, "notes.txt")
        with open(p, "w") as fh:
            fh.write("this is not HDF5\n")
        res = run_checker(p)
        self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
        self.assertIn("%s: /: ERROR: cannot be opened as an HDF5 file" % p, res.stdout)
        self.assertNotIn("Traceback", res.stderr)

    def test_missing_file_exits_two(self):
        res = run_checker(os.path.join(self.tmp, "absent.mdf"))
        self.assertEqual(res.returncode, 2)
        self.assertNotIn("Traceback", res.stderr)

    def test_truncated_hdf5_does_not_crash(self):
        src = os.path.join(reference_dir(), "systemmatrix.mdf")
        p = os.path.join(self.tmp, "truncated.mdf")
        with open(src, "rb") as fh:
            blob = fh.read()
        with open(p, "wb") as fh:
            fh.write(blob[: len(blob) // 3])
        res = run_checker(p)
        self.assertIn(res.returncode, (1, 2), res.stdout + res.stderr)
        self.assertIn("ERROR", res.stdout)
        self.assertNotIn("Traceback", res.stderr)

    def test_corrupted_metadata_does_not_crash(self):
        """Random bytes in the metadata (some of these make the HDF5 library itself fault or loop):
        the checker still answers with exit status 1 or 2 and an ERROR line."""
        src = os.path.join(reference_dir(), "measurement.mdf")
        with open(src, "rb") as fh:
            blob = fh.read()
        rng = np.random.default_rng(1)
        paths = []
        for k in range(5):
            b = bytearray(blob)
            for _ in range(20):
                b[int(rng.integers(0, 8000))] = int(rng.integers(0, 256))
            paths.append(os.path.join(self.tmp, "corrupt%d.mdf" % k))
            with open(paths[-1], "wb") as fh:
                fh.write(b)
        for p in paths:
            res = subprocess.run([sys.executable, CHECKER, "--timeout", "20", p], capture_output=True, text=True)
            self.assertIn(res.returncode, (1, 2), p + res.stdout + res.stderr)
            self.assertIn("%s: " % p, res.stdout)
            self.assertIn("ERROR", res.stdout)
            self.assertNotIn("Traceback", res.stderr)

    def test_empty_hdf5_file_lists_missing_groups(self):
        p = os.path.join(self.tmp, "empty.mdf")
        h5py.File(p, "w").close()
        res = run_checker(p)
        self.assertEqual(res.returncode, 1)
        for field in ("/version", "/study", "/experiment", "/scanner", "/acquisition"):
            self.assertIn("%s: %s: ERROR:" % (p, field), res.stdout)

    def test_group_where_dataset_expected(self):
        p = os.path.join(self.tmp, "odd.mdf")
        with h5py.File(p, "w") as f:
            f.create_group("version")
            f.create_dataset("acquisition", data=3)
        res = run_checker(p)
        self.assertEqual(res.returncode, 1)
        self.assertIn("/version: ERROR: must be a dataset", res.stdout)
        self.assertIn("/acquisition: ERROR: must be a group", res.stdout)
        self.assertNotIn("Traceback", res.stderr)


def tearDownModule():
    if _REF_DIR is not None:
        shutil.rmtree(_REF_DIR, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
