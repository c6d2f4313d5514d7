// Noise injector, HLS C++ (Vitis HLS; plain g++ with -I hls/compat).
//
// Bit-exact with src/noisybnn/hw/injector.py (inject_stream) and src/noisybnn/hw/lfsr.py, and with
// hls/rtl/noise_injector_core.v; docs/injector.md is the specification.
//
// A beat of the stream is ap_uint<PE*BITS>: PE neurons of BITS bits, PE 0 in the LSBs (FINN
// packing). Bit l = pe*BITS + bit is "bit lane" l. The generator (v2): one shared 89-bit LFSR e
// (s[t] = s[t-48]^s[t-67]^s[t-88]^s[t-89], bit 0 newest; held as e_lo = bits 0..63, e_hi = 64..88)
// and a 16-bit accumulator w[l] per lane; a step shifts 16 bits n into e and sets
//   w[l] -= rotl(w[l-1 mod L], 5) ^ rotl(n, A_l) ^ rotl(e[31:16], B_l) ^ D_l   (mod 2^16)
// with the lane constants from splitmix64(l). The sample of a beat is w[l] before the step.
// FLIP (mode 1) inverts a bit when sample < threshold and the neuron is in the fault mask;
// STUCK0/STUCK1 (2/3) force every bit of a masked neuron; OFF (0) passes the beat. The generator
// and the fold counter advance on every beat in every mode.
//
// `seed` is the 64-bit seed word (injector.seed_word(master seed) = splitmix64(master seed)), as
// on the RTL core's seed port. The state is static, so a run may span several calls; `reseed`
// (and the first call ever) loads e = E_TOP << 64 | seed, w[l] = K_l, runs 16 warm-up steps and
// clears the fold counter and the counters.
#ifndef NOISYBNN_NOISE_INJECTOR_HPP
#define NOISYBNN_NOISE_INJECTOR_HPP

#include <ap_int.h>
#include <hls_stream.h>
#include <stdint.h>

namespace noisybnn {

enum InjectorMode { MODE_OFF = 0, MODE_FLIP = 1, MODE_STUCK0 = 2, MODE_STUCK1 = 3 };

// splitmix64 with the gamma added first (as lfsr.splitmix64), C++11 constexpr: the lane
// constants are folded at compile time, so the multipliers never reach hardware.
constexpr uint64_t sm64_mix1(uint64_t z) { return (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL; }
constexpr uint64_t sm64_mix2(uint64_t z) { return (z ^ (z >> 27)) * 0x94D049BB133111EBULL; }
constexpr uint64_t sm64_mix3(uint64_t z) { return z ^ (z >> 31); }
constexpr uint64_t splitmix64(uint64_t x) {
    return sm64_mix3(sm64_mix2(sm64_mix1(x + 0x9E3779B97F4A7C15ULL)));
}

const uint64_t E_TOP = 0x1C3A5F1ULL;  // bits 88..64 of e after a reseed
const unsigned WARMUP = 16;

inline uint32_t rotl16(uint32_t x, unsigned r) {
    return r ? (((x << r) | (x >> (16 - r))) & 0xFFFFu) : (x & 0xFFFFu);
}

// Bits [off, off + 16) of e.
inline uint32_t e_bits16(uint64_t lo, uint64_t hi, unsigned off) {
    if (off + 16 <= 64) return uint32_t(lo >> off) & 0xFFFFu;
    if (off >= 64) return uint32_t(hi >> (off - 64)) & 0xFFFFu;
    return uint32_t((lo >> off) | (hi << (64 - off))) & 0xFFFFu;
}

// One generator step over all lanes (the ring reads every w before it changes).
template <unsigned LANES>
inline void gen_step(uint64_t &lo, uint64_t &hi, uint32_t w[LANES]) {
#pragma HLS inline
    const uint32_t e1 = uint32_t(lo >> 16) & 0xFFFFu;
    const uint32_t n = e_bits16(lo, hi, 32) ^ e_bits16(lo, hi, 51) ^ e_bits16(lo, hi, 72) ^
                       e_bits16(lo, hi, 73);
    hi = ((hi << 16) | (lo >> 48)) & ((1ULL << 25) - 1);
    lo = (lo << 16) | n;
    uint32_t prev = w[LANES - 1];
    for (unsigned l = 0; l < LANES; ++l) {
#pragma HLS unroll
        const uint64_t h = splitmix64(l);
        const uint32_t x = rotl16(prev, 5) ^ rotl16(n, unsigned(h >> 32) & 15u) ^
                           rotl16(e1, unsigned(h >> 36) & 15u) ^ (uint32_t(h >> 16) & 0xFFFFu);
        prev = w[l];
        w[l] = (w[l] - x) & 0xFFFFu;
    }
}

// Process `num_beats` beats of one layer's stream.
//   mode: InjectorMode; threshold: p = threshold / 2^16, 0..65536, taken at a reseed (as the RTL's
//   compare tables); fault_mask bit n = neuron n;
//   beats_seen / bits_changed: the counters since the last reseed, after this call.
template <unsigned PE, unsigned BITS, unsigned NEURONS>
void noise_injector(hls::stream<ap_uint<PE * BITS> > &in, hls::stream<ap_uint<PE * BITS> > &out,
                    unsigned num_beats, ap_uint<2> mode, ap_uint<17> threshold, ap_uint<64> seed,
                    bool reseed, const ap_uint<NEURONS> &fault_mask, ap_uint<64> &beats_seen,
                    ap_uint<64> &bits_changed) {
    static_assert(NEURONS % PE == 0, "PE must divide NEURONS");
    const unsigned LANES = PE * BITS;
    const unsigned NF = NEURONS / PE;

    static uint64_t e_lo = 0, e_hi = 0;
    static uint32_t w[PE * BITS];
#pragma HLS array_partition variable = w complete
    static unsigned fold = 0;
    static uint64_t beats = 0;
    static uint64_t changed = 0;
    static bool seeded = false;
    static uint64_t run_threshold = 0;  // the RTL programs its compare tables at reseed: so here

    if (reseed || !seeded) {
        e_lo = uint64_t(seed);
        e_hi = E_TOP;
        for (unsigned l = 0; l < LANES; ++l) {
#pragma HLS unroll
            w[l] = uint32_t(splitmix64(l)) & 0xFFFFu;
        }
        for (unsigned k = 0; k < WARMUP; ++k) gen_step<PE * BITS>(e_lo, e_hi, w);
        fold = 0;
        beats = 0;
        changed = 0;
        run_threshold = threshold;
        seeded = true;
    }
    const unsigned m = mode;
    const uint64_t t = run_threshold;

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
                const uint64_t u = w[l];
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
        gen_step<PE * BITS>(e_lo, e_hi, w);
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
