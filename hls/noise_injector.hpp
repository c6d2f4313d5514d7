// Noise injector, HLS C++ (Vitis HLS; plain g++ with -I hls/compat).
//
// Bit-exact with src/noisybnn/hw/injector.py (inject_stream) and src/noisybnn/hw/lfsr.py, and with
// hls/rtl/noise_injector_core.v; docs/injector.md is the specification.
//
// A beat of the stream is ap_uint<PE*BITS>: PE neurons of BITS bits, PE 0 in the LSBs (FINN
// packing). Bit l = pe*BITS + bit is "bit lane" l with its own 64-bit Fibonacci LFSR
// s[n] = s[n-60]^s[n-61]^s[n-63]^s[n-64] (register bit 0 newest), advanced 16 steps per beat:
//     new16 = ((r >> 44) ^ (r >> 45) ^ (r >> 47) ^ (r >> 48)) & 0xFFFF;  r = (r << 16) | new16;
// and the lane's sample is u = lfsr_sample(r), a nonlinear output filter of the new register.
// FLIP (mode 1) inverts a bit when u < threshold and the
// neuron is in the fault mask; STUCK0/STUCK1 (2/3) force every bit of a masked neuron; OFF (0)
// passes the beat. The LFSRs and the fold counter advance on every beat in every mode.
//
// The state (LFSRs, fold counter, counters) is static: it persists across calls, so a run may be
// processed in several calls. `reseed` (and the first call ever) reloads every lane with
// splitmix64(lane) ^ seed (1 if that is 0) and clears the fold counter and the counters.
#ifndef NOISYBNN_NOISE_INJECTOR_HPP
#define NOISYBNN_NOISE_INJECTOR_HPP

#include <ap_int.h>
#include <hls_stream.h>
#include <stdint.h>

namespace noisybnn {

enum InjectorMode { MODE_OFF = 0, MODE_FLIP = 1, MODE_STUCK0 = 2, MODE_STUCK1 = 3 };

// SplitMix64 finaliser, C++11 constexpr: the lane constants are folded at compile time, so the
// multipliers never reach hardware.
constexpr uint64_t sm64_mix1(uint64_t z) { return (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL; }
constexpr uint64_t sm64_mix2(uint64_t z) { return (z ^ (z >> 27)) * 0x94D049BB133111EBULL; }
constexpr uint64_t sm64_mix3(uint64_t z) { return z ^ (z >> 31); }
constexpr uint64_t splitmix64(uint64_t x) {
    return sm64_mix3(sm64_mix2(sm64_mix1(x + 0x9E3779B97F4A7C15ULL)));
}

// Register of one lane after a reseed.
inline uint64_t lane_seed(unsigned lane, uint64_t seed) {
    const uint64_t s = splitmix64(lane) ^ seed;
    return s ? s : uint64_t(1);
}

// The 16 bits one beat shifts in (leap-forward of 16 single steps; every tap lags >= 60 >= 16).
inline uint64_t lfsr_new16(uint64_t r) {
    return ((r >> 44) ^ (r >> 45) ^ (r >> 47) ^ (r >> 48)) & 0xFFFFULL;
}

// Output filter of the register after the beat (16-bit words w0 newest .. w3):
// u = (w0 + w2) ^ rotl8(w1 + w3), additions mod 2^16.
inline uint64_t lfsr_sample(uint64_t r) {
    const uint64_t a = ((r & 0xFFFFULL) + ((r >> 32) & 0xFFFFULL)) & 0xFFFFULL;
    const uint64_t b = (((r >> 16) & 0xFFFFULL) + ((r >> 48) & 0xFFFFULL)) & 0xFFFFULL;
    return a ^ (((b << 8) | (b >> 8)) & 0xFFFFULL);}

// Process `num_beats` beats of one layer's stream.
//   mode: InjectorMode; threshold: p = threshold / 2^16, 0..65536; fault_mask bit n = neuron n;
//   beats_seen / bits_changed: the counters since the last reseed, after this call.
template <unsigned PE, unsigned BITS, unsigned NEURONS>
void noise_injector(hls::stream<ap_uint<PE * BITS> > &in, hls::stream<ap_uint<PE * BITS> > &out,
                    unsigned num_beats, ap_uint<2> mode, ap_uint<17> threshold, ap_uint<64> seed,
                    bool reseed, const ap_uint<NEURONS> &fault_mask, ap_uint<64> &beats_seen,
                    ap_uint<64> &bits_changed) {
    static_assert(NEURONS % PE == 0, "PE must divide NEURONS");
    const unsigned LANES = PE * BITS;
    const unsigned NF = NEURONS / PE;

    static uint64_t lfsr[PE * BITS];
#pragma HLS array_partition variable = lfsr complete
    static unsigned fold = 0;
    static uint64_t beats = 0;
    static uint64_t changed = 0;
    static bool seeded = false;

    if (reseed || !seeded) {
        const uint64_t s = seed;
        for (unsigned l = 0; l < LANES; ++l) {
#pragma HLS unroll
            lfsr[l] = lane_seed(l, s);
        }
        fold = 0;
        beats = 0;
        changed = 0;
        seeded = true;
    }
    const unsigned m = mode;
    const uint64_t t = threshold;

beats_loop:
    for (unsigned b = 0; b < num_beats; ++b) {
#pragma HLS pipeline II = 1
        const ap_uint<PE * BITS> x = in.read();
        ap_uint<PE * BITS> y;
        unsigned popc = 0;
        for (unsigned p = 0; p < PE; ++p) {
#pragma HLS unroll
            const bool hit = fault_mask[fold * PE + p];
            for (unsigned k = 0; k < BITS; ++k) {
#pragma HLS unroll
                const unsigned l = p * BITS + k;
                const uint64_t r = lfsr[l];
                const uint64_t next = (r << 16) | lfsr_new16(r);
                const uint64_t u = lfsr_sample(next);
                lfsr[l] = next;
                const bool d = x[l];
                bool o = d;
                if (m == MODE_FLIP)
                    o = d ^ (hit && u < t);
                else if (m == MODE_STUCK0 && hit)
                    o = false;
                else if (m == MODE_STUCK1 && hit)
                    o = true;
                y[l] = o;
                popc += (o != d) ? 1u : 0u;
            }
        }
        out.write(y);
        fold = (fold + 1 == NF) ? 0u : fold + 1;
        beats += 1;
        changed += popc;
    }
    beats_seen = beats;
    bits_changed = changed;
}

}  // namespace noisybnn

#endif
