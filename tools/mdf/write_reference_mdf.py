#!/usr/bin/python3
"""Writes reference MDF v2.1 files of the preclinical 2D Lissajous FFP scanner.

Usage: write_reference_mdf.py OUTDIR [--seed N]

OUTDIR/systemmatrix.mdf  calibration: a delta sample on a 15 x 15 grid over 24 x 24 mm (z = 0),
                         frequency domain, frequency selection (1-based), fast frame axis,
                         5 background frames at the end.
OUTDIR/measurement.mdf   a phantom of two points on grid positions, time domain, int16 raw
                         values with dataConversionFactor, frames stored in a permuted order
                         (framePermutation), 2 background frames.
OUTDIR/ground_truth.json the phantom: positions in mm, voxel indices, relative amounts, and the
                         simulation parameters.

The signal is simulated with numpy from the equilibrium Langevin model of a 30 nm single-core
magnetite-like tracer (Ms = 8e5 A/m, T = 293.15 K, no relaxation): the field of a particle at r is
G r + B_D(t), its moment m L(xi) along the field, xi = m |B| / (kB T); receive coils along x and y
with homogeneous sensitivity give u_c(t) = -mu0 p_c dM_c/dt. The derivative is taken spectrally on an
8x oversampled period and band-limited to the receiver's Nyquist frequency (an ideal anti-alias
filter) before sampling at 2.5 MS/s. Gaussian noise with a fixed seed is added.
"""

import argparse
import datetime
import json
import math
import os
import sys
import uuid as uuidlib

import h5py
import numpy as np

MU0 = 4e-7 * math.pi
KB = 1.380649e-23

# Scanner (REFERENCE 2.1: the preclinical FFP scanner, 2D Lissajous).
BASE_FREQUENCY = 2.5e6
DIVIDERS = (102, 96)  # x, y
DRIVE_AMPLITUDE = 0.012  # T/mu0 per axis
GRADIENT = np.diag([-1.0, -1.0, 2.0])  # T/m/mu0
NUM_SAMPLES = 1632  # V: one sample per base-clock tick over lcm(102, 96) ticks
SAMPLE_RATE = 2.5e6
RX_SENSITIVITY = 1e-3  # T/A, homogeneous receive coils along x and y
OVERSAMPLING = 8

# Tracer.
CORE_DIAMETER = 30e-9
MS = 8e5
TEMPERATURE = 293.15
DELTA_PARTICLES = 1e12  # particles in the delta sample

# Calibration grid.
GRID = (15, 15, 1)
FOV = (0.024, 0.024, 0.0016)
NUM_BG_CAL = 5
NOISE_REL = 2e-3  # noise standard deviation relative to the largest delta-sample sample value

# Phantom: two points on grid voxels (0-based x, y indices) with relative amounts.
PHANTOM = [((4, 6), 1.0), ((10, 9), 0.6)]
NUM_FG_MEAS = 6
NUM_BG_MEAS = 2


def voxel_centres():
    """Grid positions (m), x fastest, then y, then z, as the calibration stores its frames."""
    axes = [(np.arange(n) + 0.5) * (fov / n) - fov / 2 for n, fov in zip(GRID, FOV)]
    z, y, x = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    pos = np.stack([x.ravel(), y.ravel(), np.zeros(x.size)], axis=1)
    return pos


def drive_field(n):
    """Drive field (T) at n equidistant instants of one frame: shape (n, 3)."""
    t = np.arange(n) / (SAMPLE_RATE * n / NUM_SAMPLES)
    b = np.zeros((n, 3))
    for axis, div in enumerate(DIVIDERS):
        b[:, axis] = DRIVE_AMPLITUDE * np.sin(2 * math.pi * BASE_FREQUENCY / div * t)
    return b


def langevin_over_xi(xi):
    """L(xi)/xi with its limit 1/3 at small xi."""
    out = np.empty_like(xi)
    small = xi < 1e-4
    xs = xi[small]
    out[small] = 1.0 / 3.0 - xs * xs / 45.0
    xl = xi[~small]
    out[~small] = (1.0 / np.tanh(xl) - 1.0 / xl) / xl
    return out


def point_signals(positions, amounts):
    """Noise-free receive voltages (V) of point samples: shape (len(positions), 2, V)."""
    m = MS * math.pi * CORE_DIAMETER ** 3 / 6
    n_over = NUM_SAMPLES * OVERSAMPLING
    bd = drive_field(n_over)
    freqs = np.fft.rfftfreq(n_over, d=1.0 / (SAMPLE_RATE * OVERSAMPLING))
    keep = NUM_SAMPLES // 2 + 1
    out = np.zeros((len(positions), 2, NUM_SAMPLES))
    for i, (r, amount) in enumerate(zip(positions, amounts)):
        b = bd + GRADIENT @ r  # (n_over, 3), tesla
        xi = m * np.linalg.norm(b, axis=1) / (KB * TEMPERATURE)
        # moment vector: n m L(xi) b/|b| = n m (L(xi)/xi) m b / (kB T)
        scale = amount * DELTA_PARTICLES * m * langevin_over_xi(xi) * m / (KB * TEMPERATURE)
        for c in range(2):
            mom = scale * b[:, c]
            spec = np.fft.rfft(mom) * (-MU0 * RX_SENSITIVITY) * (2j * math.pi * freqs)
            spec = spec[:keep] * (NUM_SAMPLES / n_over)  # ideal low-pass at the receiver's Nyquist frequency
            out[i, c] = np.fft.irfft(spec, n=NUM_SAMPLES)
    return out


def iso_now():
    now = datetime.datetime(2024, 1, 15, 12, 0, 0, 250000)  # fixed: reproducible files
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d" % (now.microsecond // 1000)


def put(g, name, value, dtype=None):
    if isinstance(value, str):
        g.create_dataset(name, data=value, dtype=h5py.string_dtype())
    elif isinstance(value, (list, tuple)) and value and isinstance(value[0], str):
        g.create_dataset(name, data=np.array(value, dtype=object), dtype=h5py.string_dtype())
    else:
        g.create_dataset(name, data=np.asarray(value, dtype=dtype))


def write_common(f, rng, name, description, n_frames):
    put(f, "version", "2.1.0")
    put(f, "uuid", str(uuidlib.UUID(bytes=rng.bytes(16), version=4)))
    put(f, "time", iso_now())
    s = f.create_group("study")
    put(s, "name", "MDF reference files")
    put(s, "number", 1, np.int64)
    put(s, "uuid", str(uuidlib.UUID(bytes=rng.bytes(16), version=4)))
    put(s, "description", "Simulated reference data of a preclinical 2D Lissajous FFP scanner")
    put(s, "time", iso_now())
    e = f.create_group("experiment")
    put(e, "name", name)
    put(e, "number", 1, np.int64)
    put(e, "uuid", str(uuidlib.UUID(bytes=rng.bytes(16), version=4)))
    put(e, "description", description)
    put(e, "subject", name)
    put(e, "isSimulation", 1, np.int8)
    t = f.create_group("tracer")
    put(t, "name", ["single-core 30 nm (Langevin, Ms 8e5 A/m)"])
    put(t, "batch", ["simulated"])
    put(t, "vendor", ["none"])
    put(t, "solute", ["Fe"])
    put(t, "volume", [1e-6], np.float64)
    put(t, "concentration", [0.1], np.float64)
    sc = f.create_group("scanner")
    put(sc, "facility", "simulation")
    put(sc, "manufacturer", "simulation")
    put(sc, "name", "preclinical FFP (2D Lissajous)")
    put(sc, "operator", "reference writer")
    put(sc, "topology", "FFP")
    put(sc, "boreSize", 0.118, np.float64)
    a = f.create_group("acquisition")
    put(a, "numAverages", 1, np.int64)
    put(a, "numFrames", n_frames, np.int64)
    put(a, "numPeriodsPerFrame", 1, np.int64)
    put(a, "startTime", iso_now())
    put(a, "gradient", GRADIENT.reshape(1, 1, 3, 3), np.float64)
    put(a, "offsetField", np.zeros((1, 1, 3)), np.float64)
    df = a.create_group("drivefield")
    put(df, "numChannels", 2, np.int64)
    put(df, "baseFrequency", BASE_FREQUENCY, np.float64)
    lcm = DIVIDERS[0] * DIVIDERS[1] // math.gcd(*DIVIDERS)
    put(df, "cycle", lcm / BASE_FREQUENCY, np.float64)
    put(df, "divider", np.array(DIVIDERS).reshape(2, 1), np.int64)
    put(df, "strength", np.full((1, 2, 1), DRIVE_AMPLITUDE), np.float64)
    put(df, "phase", np.zeros((1, 2, 1)), np.float64)
    df.create_dataset("waveform", data=np.array([["sine"], ["sine"]], dtype=object), dtype=h5py.string_dtype())
    rx = a.create_group("receiver")
    put(rx, "numChannels", 2, np.int64)
    put(rx, "numSamplingPoints", NUM_SAMPLES, np.int64)
    put(rx, "bandwidth", SAMPLE_RATE / 2, np.float64)
    put(rx, "unit", "V")
    return rx


def write_system_matrix(path, rng):
    pos = voxel_centres()
    O = pos.shape[0]
    sig = point_signals(pos, np.ones(O))  # (O, 2, V)
    sigma = NOISE_REL * np.abs(sig).max()
    N = O + NUM_BG_CAL
    td = np.zeros((N, 2, NUM_SAMPLES))
    td[:O] = sig
    td += rng.normal(0.0, sigma, td.shape)
    spec = np.fft.rfft(td, axis=2)  # (N, C, L) unnormalised DFT
    L = NUM_SAMPLES // 2 + 1
    # SNR per frequency: mean foreground amplitude over background standard deviation.
    bg = spec[O:]
    noise = np.sqrt(np.mean(np.abs(bg - bg.mean(axis=0)) ** 2, axis=0)) + 1e-300
    snr = np.mean(np.abs(spec[:O]), axis=0) / noise  # (C, L)
    freqs = np.arange(L) * SAMPLE_RATE / NUM_SAMPLES
    keep = (freqs >= 80e3) & (np.max(snr, axis=0) >= 3.0)
    sel = np.nonzero(keep)[0]
    data = spec[:, :, sel]  # (N, C, K)
    data = np.transpose(data[:, None, :, :], (1, 2, 3, 0))  # fast frame axis: (J, C, K, N)
    with h5py.File(path, "w") as f:
        write_common(f, rng, "delta sample", "System matrix: delta sample on a 15 x 15 grid", N)
        m = f.create_group("measurement")
        m.create_dataset("data", data=np.ascontiguousarray(data).astype(np.complex64))
        put(m, "isBackgroundCorrected", 0, np.int8)
        put(m, "isBackgroundFrame", np.r_[np.zeros(O), np.ones(NUM_BG_CAL)], np.int8)
        put(m, "isFastFrameAxis", 1, np.int8)
        put(m, "isFourierTransformed", 1, np.int8)
        put(m, "isFramePermutation", 0, np.int8)
        put(m, "isFrequencySelection", 1, np.int8)
        put(m, "frequencySelection", sel + 1, np.int64)  # 1-based
        put(m, "isSparsityTransformed", 0, np.int8)
        put(m, "isSpectralLeakageCorrected", 0, np.int8)
        put(m, "isTransferFunctionCorrected", 0, np.int8)
        c = f.create_group("calibration")
        put(c, "method", "simulation")
        put(c, "size", GRID, np.int64)
        put(c, "fieldOfView", FOV, np.float64)
        put(c, "fieldOfViewCenter", (0.0, 0.0, 0.0), np.float64)
        put(c, "order", "xyz")
        put(c, "positions", pos, np.float64)
        put(c, "deltaSampleSize", (0.001, 0.001, 0.001), np.float64)
        put(c, "snr", snr[None, :, sel], np.float64)
        put(c, "isMeanderingGrid", 0, np.int8)
    return sigma, sel


def write_measurement(path, rng, sigma):
    pos = voxel_centres()
    idx = [ix + GRID[0] * iy for (ix, iy), _ in PHANTOM]
    amounts = [a for _, a in PHANTOM]
    sig = point_signals(pos[idx], amounts).sum(axis=0)  # (2, V)
    N = NUM_BG_MEAS + NUM_FG_MEAS
    acquired = np.zeros((N, 2, NUM_SAMPLES))  # acquisition order: background frames first
    acquired[NUM_BG_MEAS:] = sig
    acquired += rng.normal(0.0, sigma, acquired.shape)
    is_bg_acquired = np.r_[np.ones(NUM_BG_MEAS), np.zeros(NUM_FG_MEAS)]
    perm = rng.permutation(N)  # stored frame i is acquired frame perm[i]
    stored = acquired[perm]
    scale = np.abs(stored).max() / 30000.0
    raw = np.round(stored / scale).astype(np.int16)
    with h5py.File(path, "w") as f:
        rx = write_common(f, rng, "two points", "Two point sources on calibration grid voxels", N)
        put(rx, "dataConversionFactor", [[scale, 0.0], [scale, 0.0]], np.float64)
        m = f.create_group("measurement")
        m.create_dataset("data", data=raw[:, None, :, :])  # (N, J, C, V)
        put(m, "isBackgroundCorrected", 0, np.int8)
        put(m, "isBackgroundFrame", is_bg_acquired[perm], np.int8)
        put(m, "isFastFrameAxis", 0, np.int8)
        put(m, "isFourierTransformed", 0, np.int8)
        put(m, "isFramePermutation", 1, np.int8)
        put(m, "framePermutation", perm + 1, np.int64)  # 1-based
        put(m, "isFrequencySelection", 0, np.int8)
        put(m, "isSparsityTransformed", 0, np.int8)
        put(m, "isSpectralLeakageCorrected", 0, np.int8)
        put(m, "isTransferFunctionCorrected", 0, np.int8)
    return perm, scale


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=20240115)
    args = ap.parse_args(argv[1:])
    os.makedirs(args.outdir, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    sigma, sel = write_system_matrix(os.path.join(args.outdir, "systemmatrix.mdf"), rng)
    perm, scale = write_measurement(os.path.join(args.outdir, "measurement.mdf"), rng, sigma)
    pos = voxel_centres()
    truth = {
        "description": "Ground truth of measurement.mdf; voxels of the grid of systemmatrix.mdf "
                       "(x fastest, then y, then z)",
        "grid_size": list(GRID),
        "field_of_view_m": list(FOV),
        "points": [
            {"position_mm": [round(float(v) * 1e3, 6) for v in pos[ix + GRID[0] * iy]],
             "voxel_index_xyz_0based": [ix, iy, 0],
             "linear_index_0based": ix + GRID[0] * iy,
             "linear_index_1based": ix + GRID[0] * iy + 1,
             "relative_amount": amount}
            for (ix, iy), amount in PHANTOM],
        "measurement": {"frames": NUM_BG_MEAS + NUM_FG_MEAS, "background_frames_acquired_first": NUM_BG_MEAS,
                        "framePermutation_1based": [int(p) + 1 for p in perm],
                        "data_conversion_factor": scale},
        "system_matrix": {"background_frames_at_end": NUM_BG_CAL, "selected_frequencies": int(len(sel))},
        "simulation": {"model": "equilibrium Langevin, single core, no relaxation",
                       "core_diameter_m": CORE_DIAMETER, "saturation_magnetisation_A_per_m": MS,
                       "temperature_K": TEMPERATURE, "particles_in_delta_sample": DELTA_PARTICLES,
                       "receive_sensitivity_T_per_A": RX_SENSITIVITY, "drive_waveform": "B = A sin(2 pi f t)",
                       "noise_sigma_V": sigma, "seed": args.seed},
    }
    with open(os.path.join(args.outdir, "ground_truth.json"), "w") as fh:
        json.dump(truth, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
