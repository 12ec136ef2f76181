#!/usr/bin/python3
"""Reference numbers for tests/test_audio_*.cpp (run once; the tests hard-code the output and
do not need Python).

An independent re-implementation of the conventions in shared/paper.md "Audio (Surge) metrics"
and of librosa's defaults (librosa itself is not packaged for Debian 12): numpy.fft.rfft for
the FFT, scipy.fft.dct(norm="ortho") for the DCT, plain loops for the DTW.

    /usr/bin/python3 tests/audio_reference.py      (Debian: python3-numpy python3-scipy)
"""
import numpy as np
import scipy.fft


def hz_to_mel(f):
    f = np.asarray(f, dtype=float)
    fsp, min_log_hz = 200.0 / 3, 1000.0
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_hz / fsp + np.log(np.maximum(f, 1e-300) / min_log_hz) / logstep, f / fsp)


def mel_to_hz(m):
    m = np.asarray(m, dtype=float)
    fsp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel = min_log_hz / fsp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), m * fsp)


def mel_filterbank(sr, n_fft, n_mels):
    fft_f = np.arange(n_fft // 2 + 1) * sr / n_fft
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), n_mels + 2))
    W = np.zeros((n_mels, n_fft // 2 + 1))
    for m in range(n_mels):
        rise = (fft_f - mel_f[m]) / (mel_f[m + 1] - mel_f[m])
        fall = (mel_f[m + 2] - fft_f) / (mel_f[m + 2] - mel_f[m + 1])
        W[m] = np.maximum(0, np.minimum(rise, fall)) * 2.0 / (mel_f[m + 2] - mel_f[m])
    return W


def stft(x, n_fft, hop, kind):
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    pad = n_fft // 2
    xp = np.concatenate([np.zeros(pad), x, np.zeros(pad)])
    T = 1 + (len(xp) - n_fft) // hop
    X = np.stack([np.fft.rfft(w * xp[t * hop:t * hop + n_fft]) for t in range(T)], axis=1)
    return np.abs(X) ** 2 if kind == "power" else np.abs(X)


def ms(sr, v):
    return int(np.floor(sr * v / 1000.0 + 1e-9))


def mss(a, b, sr):  # a, b: (C, L)
    total = 0.0
    for nfft_ms, hop_ms, n_mels in [(10, 5, 32), (25, 10, 64), (100, 50, 128)]:
        n_fft, hop = ms(sr, nfft_ms), ms(sr, hop_ms)
        W = mel_filterbank(sr, n_fft, n_mels)
        dbs = []
        for x in (a, b):
            M = np.stack([W @ stft(ch, n_fft, hop, "power") for ch in x])
            db = 10 * np.log10(np.maximum(M, 1e-10)) - 10 * np.log10(max(M.max(), 1e-10))
            dbs.append(np.maximum(db, -80.0))
        total += np.mean(np.abs(dbs[0] - dbs[1]))
    return total / 3


def mfcc_stacked(x, sr):
    n_fft, hop = ms(sr, 50), ms(sr, 10)
    W = mel_filterbank(sr, n_fft, 128)
    M = np.stack([W @ stft(ch, n_fft, hop, "power") for ch in x])
    db = 10 * np.log10(np.maximum(M, 1e-10))
    db = np.maximum(db, db.max() - 80.0)
    C = scipy.fft.dct(db, type=2, norm="ortho", axis=1)[:, :20, :]
    return C.reshape(-1, C.shape[-1])  # (20 C, T), channel 0 first


def dtw_sym2(cost):
    n, m = cost.shape
    D = np.full((n, m), np.inf)
    for i in range(n):
        for j in range(m):
            d = cost[i, j]
            if i == 0 and j == 0:
                D[i, j] = d
                continue
            best = np.inf
            if i > 0 and j > 0:
                best = D[i - 1, j - 1] + 2 * d
            if i > 0:
                best = min(best, D[i - 1, j] + d)
            if j > 0:
                best = min(best, D[i, j - 1] + d)
            D[i, j] = best
    return D[-1, -1] / (n + m)


def wmfcc(a, b, sr):
    A, B = mfcc_stacked(a, sr), mfcc_stacked(b, sr)
    cost = np.abs(A[:, :, None] - B[:, None, :]).mean(axis=0)
    return dtw_sym2(cost)


def sot(a, b, sr):
    n_fft, hop = ms(sr, 50), ms(sr, 20)
    Sa, Sb = stft(a.mean(axis=0), n_fft, hop, "mag"), stft(b.mean(axis=0), n_fft, hop, "mag")
    Pa = Sa / np.maximum(Sa.sum(axis=0), 1e-6)
    Pb = Sb / np.maximum(Sb.sum(axis=0), 1e-6)
    w = np.abs(np.cumsum(Pa, axis=0) - np.cumsum(Pb, axis=0)).sum(axis=0) / Sa.shape[0]
    return w.mean()


def rms_env(x, sr):
    frame, hop = ms(sr, 50), ms(sr, 25)
    pad = frame // 2
    xp = np.concatenate([np.zeros(pad), x, np.zeros(pad)])
    T = 1 + (len(xp) - frame) // hop
    return np.array([np.sqrt(np.mean(xp[t * hop:t * hop + frame] ** 2)) for t in range(T)])


def rms(a, b, sr):
    ea, eb = rms_env(a.mean(axis=0), sr), rms_env(b.mean(axis=0), sr)
    return ea @ eb / (np.linalg.norm(ea) * np.linalg.norm(eb))


def signals(sr, L):
    t = np.arange(L) / sr
    a = 0.6 * np.sin(2 * np.pi * 440 * t) * np.exp(-4 * t) + 0.25 * np.sin(2 * np.pi * 1250 * t + 2 * np.sin(2 * np.pi * 5 * t))
    b = 0.5 * np.sin(2 * np.pi * 470 * t) * np.exp(-2 * t) + 0.3 * np.sin(2 * np.pi * 2100 * t) * (t > 0.1)
    return a, b


if __name__ == "__main__":
    np.set_printoptions(precision=17)
    print("mel_frequencies(40, 0, 11025)[[1, 12, 13, 39]] =", mel_to_hz(np.linspace(0, hz_to_mel(11025.0), 40))[[1, 12, 13, 39]])
    W = mel_filterbank(44100, 2205, 128)
    nz = np.nonzero(W[10])[0]
    print("mel(44100, 2205, 128): row 10 nonzero bins", nz, "values", W[10, nz], " W[100].sum() =", W[100].sum())
    x = np.sin(0.3 * np.arange(37)) + 0.1 * np.arange(37) / 37
    P = stft(x, 15, 4, "power")
    print("stft power n_fft 15 hop 4, L 37: shape", P.shape, "P[:, 0] =", P[:, 0], "P[3, 5] =", P[3, 5])
    print("scipy dct ortho of [1..8]:", scipy.fft.dct(np.arange(1.0, 9.0), type=2, norm="ortho")[:4])
    for sr, L in [(16000, 4800), (44100, 8820)]:
        a, b = signals(sr, L)
        A, B = a[None, :], b[None, :]
        print(f"sr {sr} L {L} mono:   mss {mss(A, B, sr)!r} wmfcc {wmfcc(A, B, sr)!r} sot {sot(A, B, sr)!r} rms {rms(A, B, sr)!r}")
    sr, L = 16000, 4800
    a, b = signals(sr, L)
    A2 = np.stack([a, 0.5 * b + 0.2 * a])
    B2 = np.stack([b, 0.7 * a])
    print(f"sr {sr} L {L} stereo: mss {mss(A2, B2, sr)!r} wmfcc {wmfcc(A2, B2, sr)!r} sot {sot(A2, B2, sr)!r} rms {rms(A2, B2, sr)!r}")
    # wMFCC with different lengths (DTW over T_a != T_b)
    a2, _ = signals(sr, 6400)
    print(f"wmfcc a(4800) vs a(6400) = {wmfcc(a[None, :], a2[None, :], sr)!r}; vs b(4800) = {wmfcc(a[None, :], b[None, :], sr)!r}")
