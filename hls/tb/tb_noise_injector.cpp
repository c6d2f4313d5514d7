// C++ testbench of hls/noise_injector.hpp: reads a run description, streams it through the kernel
// and writes the output beats and counters, for tests/hw/test_hls_cpp.py to compare with the
// Python reference.
//
// Build: g++ -std=c++11 -I hls/compat -I hls hls/tb/tb_noise_injector.cpp
//            '-DNB_SHAPES=X(1,1,8) X(16,2,32)'     (the (PE, BITS, NEURONS) to instantiate)
// Run:   tb <input> <output>
//
// Input (text, whitespace separated):
//   shape PE BITS NEURONS
//   then per segment:
//   segment MODE THRESHOLD SEED_HEX RESEED N
//   mask HEX                       (NEURONS bits, neuron 0 = least significant)
//   N beats in HEX                 (PE*BITS bits, PE 0 in the least significant bits)
// Output: per segment, N beats in hex, then "counters BEATS CHANGED".
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>

#include "noise_injector.hpp"

#ifndef NB_SHAPES
#define NB_SHAPES X(1, 1, 4) X(2, 2, 4) X(16, 1, 32) X(64, 2, 128)
#endif

namespace {

[[noreturn]] void fail(const std::string &msg) {
    std::cerr << "tb_noise_injector: " << msg << "\n";
    std::exit(2);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    fail(std::string("bad hex digit '") + c + "'");
}

template <int N>
ap_uint<N> parse_hex(const std::string &s) {
    ap_uint<N> x;
    const int n = static_cast<int>(s.size());
    for (int i = 0; i < n; ++i) {
        const int v = hex_value(s[n - 1 - i]);
        for (int b = 0; b < 4; ++b) {
            const int bit = 4 * i + b;
            if ((v >> b) & 1) {
                if (bit >= N) fail("hex value " + s + " wider than " + std::to_string(N) + " bits");
                x[bit] = true;
            }
        }
    }
    return x;
}

template <int N>
std::string to_hex(const ap_uint<N> &x) {
    std::string s;
    for (int i = 0; i < (N + 3) / 4; ++i) {
        int v = 0;
        for (int b = 0; b < 4; ++b)
            if (4 * i + b < N && x[4 * i + b]) v |= 1 << b;
        s.insert(s.begin(), "0123456789abcdef"[v]);
    }
    return s;
}

template <unsigned PE, unsigned BITS, unsigned NEURONS>
void run(std::istream &in, std::ostream &out) {
    const int W = PE * BITS;
    std::string tag;
    while (in >> tag) {
        if (tag != "segment") fail("expected 'segment', got '" + tag + "'");
        unsigned mode, threshold, reseed, n;
        std::string seed_hex, mask_tag, mask_hex;
        if (!(in >> mode >> threshold >> seed_hex >> reseed >> n >> mask_tag >> mask_hex) ||
            mask_tag != "mask")
            fail("malformed segment header");
        const ap_uint<64> seed = parse_hex<64>(seed_hex);
        const ap_uint<NEURONS> mask = parse_hex<NEURONS>(mask_hex);
        hls::stream<ap_uint<W> > s_in, s_out;
        for (unsigned i = 0; i < n; ++i) {
            std::string beat;
            if (!(in >> beat)) fail("missing input beat");
            s_in.write(parse_hex<W>(beat));
        }
        ap_uint<64> beats, changed;
        noisybnn::noise_injector<PE, BITS, NEURONS>(s_in, s_out, n, mode, threshold, seed,
                                                    reseed != 0, mask, beats, changed);
        if (!s_in.empty() || s_out.size() != n) fail("kernel did not consume/produce N beats");
        for (unsigned i = 0; i < n; ++i) out << to_hex<W>(s_out.read()) << "\n";
        out << "counters " << uint64_t(beats) << " " << uint64_t(changed) << "\n";
    }
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 3) fail("usage: tb_noise_injector <input> <output>");
    std::ifstream in(argv[1]);
    std::ofstream out(argv[2]);
    if (!in || !out) fail("cannot open the input or output file");
    std::string tag;
    unsigned pe, bits, neurons;
    if (!(in >> tag >> pe >> bits >> neurons) || tag != "shape") fail("expected 'shape PE BITS N'");
#define X(P, B, N)                                      \
    if (pe == (P) && bits == (B) && neurons == (N)) {   \
        run<(P), (B), (N)>(in, out);                    \
        return 0;                                       \
    }
    NB_SHAPES
#undef X
    fail("shape " + std::to_string(pe) + " " + std::to_string(bits) + " " +
         std::to_string(neurons) + " not compiled in: add it to NB_SHAPES");
}
