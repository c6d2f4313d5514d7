// Synthesis top of the HLS noise injector for one layer shape (hls/vitis_hls.tcl sets the shape
// with -DNB_PE=.. -DNB_BITS=.. -DNB_NEURONS=..). Streams are AXI-Stream, the configuration and
// counters an AXI-Lite slave (Vitis' own register map, not the one of hls/rtl).
#include "noise_injector.hpp"

#ifndef NB_PE
#define NB_PE 16
#endif
#ifndef NB_BITS
#define NB_BITS 1
#endif
#ifndef NB_NEURONS
#define NB_NEURONS 64
#endif

void noise_injector_top(hls::stream<ap_uint<NB_PE * NB_BITS> > &in,
                        hls::stream<ap_uint<NB_PE * NB_BITS> > &out, unsigned num_beats,
                        ap_uint<2> mode, ap_uint<17> threshold, ap_uint<64> seed, bool reseed,
                        ap_uint<NB_NEURONS> fault_mask, ap_uint<64> &beats_seen,
                        ap_uint<64> &bits_changed) {
#pragma HLS interface mode = axis port = in
#pragma HLS interface mode = axis port = out
#pragma HLS interface mode = s_axilite port = num_beats bundle = control
#pragma HLS interface mode = s_axilite port = mode bundle = control
#pragma HLS interface mode = s_axilite port = threshold bundle = control
#pragma HLS interface mode = s_axilite port = seed bundle = control
#pragma HLS interface mode = s_axilite port = reseed bundle = control
#pragma HLS interface mode = s_axilite port = fault_mask bundle = control
#pragma HLS interface mode = s_axilite port = beats_seen bundle = control
#pragma HLS interface mode = s_axilite port = bits_changed bundle = control
#pragma HLS interface mode = s_axilite port = return bundle = control
    noisybnn::noise_injector<NB_PE, NB_BITS, NB_NEURONS>(in, out, num_beats, mode, threshold, seed,
                                                        reseed, fault_mask, beats_seen,
                                                        bits_changed);
}
