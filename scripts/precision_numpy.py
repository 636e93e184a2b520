#!/usr/bin/env python3
"""Independent numpy computation of roofbench's int8 schemes (docs/precision.md).

Reads a JSON job on stdin: {"cases": [{"name", "shape", "x", "w", "xcal", "ycal", "schemes": [...]}]},
where x, w are the case's float32 inputs, xcal the calibration inputs (another seed) and
ycal their float convolution (roofbench's f32 kernel: the output range is calibrated on
it), and writes the same figures roofbench computes, from the definitions alone, as JSON
on stdout. Nothing here imports roofbench: it is the cross-check of the definitions.

  npx tsx scripts/precision-numpy.ts            # runs this and compares
"""
import json
import sys

import numpy as np

F32 = np.float32


def rhe(v):
    return np.round(v)  # numpy rounds half to even


def abs_hist(x, bins):
    a = np.abs(np.asarray(x, dtype=np.float64))
    m = a.max()
    if m == 0:
        counts = np.zeros(bins)
        counts[0] = a.size
        return counts, 0.0
    w = m / bins
    idx = np.minimum(np.floor(a / w).astype(np.int64), bins - 1)
    return np.bincount(idx, minlength=bins).astype(np.float64), w


def mse_threshold(counts, w, levels):
    if w == 0:
        return 0.0
    bins = counts.size
    c = (np.arange(bins) + 0.5) * w
    best, best_t = np.inf, bins * w
    for i in range(1, bins + 1):
        t = i * w
        step = t / levels
        q = np.minimum(rhe(c / step), levels)
        err = float(np.sum(counts * (q * step - c) ** 2))
        if err < best:
            best, best_t = err, t
    return best_t


def entropy_threshold(counts, w, levels):
    if w == 0:
        return 0.0
    bins = counts.size
    total = counts.sum()
    best, best_i = np.inf, bins
    for i in range(levels, bins + 1):
        p = counts[:i].copy()
        p[i - 1] += counts[i:].sum()
        merged = i // levels
        q = np.zeros(i)
        for g in range(levels):
            start = g * merged
            stop = i if g == levels - 1 else start + merged
            nz = p[start:stop] != 0
            if nz.any():
                q[start:stop] = np.where(nz, counts[start:stop].sum() / nz.sum(), 0)
        qtotal = total - counts[i:].sum()
        mask = p > 0
        if np.any(q[mask] == 0):
            kl = np.inf
        else:
            P = p[mask] / total
            kl = float(np.sum(P * np.log(P / (q[mask] / qtotal))))
        if kl < best:
            best, best_i = kl, i
    return best_i * w


def calibrate(values, cal, activations):
    v = np.asarray(values, dtype=np.float64)
    method = cal["method"]
    if activations == "int8":
        if method == "minmax":
            return np.abs(v).max()
        if method == "percentile":
            return float(np.percentile(np.abs(v), cal["percentile"]))
        counts, w = abs_hist(v, cal["bins"])
        return mse_threshold(counts, w, 127) if method == "mse" else entropy_threshold(counts, w, 128)
    mn, mx = v.min(), v.max()
    if method == "minmax":
        lo, hi = mn, mx
    elif method == "percentile":
        lo, hi = np.percentile(v, 100 - cal["percentile"]), np.percentile(v, cal["percentile"])
    else:
        nonneg = mn >= 0
        counts, w = abs_hist(v, cal["bins"])
        t = mse_threshold(counts, w, 255 if nonneg else 127) if method == "mse" else entropy_threshold(counts, w, 256 if nonneg else 128)
        lo, hi = max(mn, -t), min(mx, t)
    return (min(lo, 0.0), max(hi, 0.0))


def act_params(values, cal, activations):
    if activations == "int8":
        amax = calibrate(values, cal, "int8")
        s = F32(amax / 127) if amax > 0 else F32(1)
        return float(s), 0, -128, 127
    lo, hi = calibrate(values, cal, "uint8")
    s = F32((hi - lo) / 255)
    if not s > 0:
        s = F32(1)
    zp = int(np.clip(rhe(-lo / float(s)), 0, 255))
    return float(s), zp, 0, 255


def conv_int(shape, xq, zx, wq):
    n, c, h, wd, k, r, s, stride, pad, groups = (shape[key] for key in ("n", "c", "h", "w", "k", "r", "s", "stride", "pad", "groups"))
    ho = (h + 2 * pad - r) // stride + 1
    wo = (wd + 2 * pad - s) // stride + 1
    x = np.asarray(xq, dtype=np.int64).reshape(n, c, h, wd) - zx
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), dtype=np.int64)
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    w = np.asarray(wq, dtype=np.int64).reshape(k, c // groups, r, s)
    cg, kg = c // groups, k // groups
    y = np.zeros((n, k, ho, wo), dtype=np.int64)
    for g in range(groups):
        for rr in range(r):
            for ss in range(s):
                patch = xp[:, g * cg:(g + 1) * cg, rr:rr + stride * ho:stride, ss:ss + stride * wo:stride]
                y[:, g * kg:(g + 1) * kg] += np.einsum("nchw,kc->nkhw", patch, w[g * kg:(g + 1) * kg, :, rr, ss])
    return y, ho * wo


def conv_f64(shape, x, w):
    return conv_int_float(shape, np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64))


def conv_int_float(shape, x, w):
    n, c, h, wd, k, r, s, stride, pad, groups = (shape[key] for key in ("n", "c", "h", "w", "k", "r", "s", "stride", "pad", "groups"))
    ho = (h + 2 * pad - r) // stride + 1
    wo = (wd + 2 * pad - s) // stride + 1
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad))
    xp[:, :, pad:pad + h, pad:pad + wd] = x.reshape(n, c, h, wd)
    w = w.reshape(k, c // groups, r, s)
    cg, kg = c // groups, k // groups
    y = np.zeros((n, k, ho, wo))
    for g in range(groups):
        for rr in range(r):
            for ss in range(s):
                patch = xp[:, g * cg:(g + 1) * cg, rr:rr + stride * ho:stride, ss:ss + stride * wo:stride]
                y[:, g * kg:(g + 1) * kg] += np.einsum("nchw,kc->nkhw", patch, w[g * kg:(g + 1) * kg, :, rr, ss])
    return y.ravel()


def scheme_figures(case, scheme):
    shape = case["shape"]
    k = shape["k"]
    x = np.asarray(case["x"], dtype=np.float32)
    w = np.asarray(case["w"], dtype=np.float32)
    acts = scheme["activations"]
    cal = scheme["calibration"]
    sx, zx, qminx, qmaxx = act_params(case["xcal"], cal, acts)
    sy, zy, qmin, qmax = act_params(case["ycal"], cal, acts)
    xq = np.clip(rhe(x.astype(np.float64) / sx) + zx, qminx, qmaxx).astype(np.int64)
    wr = w.reshape(k, -1).astype(np.float64)
    amax = np.abs(wr).max(axis=1)
    if scheme["weights"] == "per-tensor":
        amax[:] = amax.max()
    sw = np.where(amax > 0, (amax / 127).astype(np.float32), F32(1)).astype(np.float32)
    wq = np.clip(rhe(wr / sw.astype(np.float64)[:, None]), -127, 127).astype(np.int64)
    acc, plane = conv_int(shape, xq, zx, wq)
    ch = np.arange(acc.size) // plane % k
    accf = acc.ravel().astype(np.float32)
    if scheme["output"] == "requantize":
        m = ((np.float64(sx) * sw.astype(np.float64)) / np.float64(sy)).astype(np.float32)
        v = (accf * m[ch]).astype(np.float32)
        v = np.clip(v, F32(qmin - zy), F32(qmax - zy))
        q = rhe(v).astype(np.int64) + zy
        y = ((q - zy).astype(np.float64) * np.float64(sy)).astype(np.float32)
        codes = q
    else:
        d = (np.float64(sx) * sw.astype(np.float64)).astype(np.float32)
        y = (accf * d[ch]).astype(np.float32)
        codes = None
    ref = conv_f64(shape, x, w)
    e = y.astype(np.float64) - ref
    en = np.sqrt(np.sum(e * e))
    rn = np.sqrt(np.sum(ref * ref))
    yn = np.sqrt(np.sum(y.astype(np.float64) ** 2))
    rmse = float(np.sqrt(np.mean(e * e)))
    out = {
        "xScale": sx, "xZero": zx, "yScale": sy, "yZero": zy,
        "wScales": [float(v) for v in sw],
        "xqSum": int(xq.sum()), "wqSum": int(wq.sum()), "accAbsSum": int(np.abs(acc).sum()),
        "sqnrDb": float(20 * np.log10(rn / en)) if en > 0 else None,
        "relL2": float(en / rn), "cosine": float(np.dot(y.astype(np.float64), ref) / (yn * rn)),
        "maxAbs": float(np.abs(e).max()), "meanError": float(e.mean()), "sdError": float(e.std()),
        "rmse": rmse, "rmseOverScale": rmse / sy,
    }
    if codes is not None:
        idx = np.arange(codes.size, dtype=np.int64)
        out["codesHash"] = int(np.sum((codes - qmin) * (idx % 9973 + 1)) % 1000000007)
    return out


def main():
    job = json.load(sys.stdin)
    result = {"numpy": np.__version__, "cases": []}
    for case in job["cases"]:
        result["cases"].append({"name": case["name"], "schemes": [scheme_figures(case, s) for s in case["schemes"]]})
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
