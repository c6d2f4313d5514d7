// noise_injector_core: bit-flip / stuck-at noise injector for a FINN AXI-Stream.
//
// Bit-exact with the Python reference src/noisybnn/hw/injector.py (inject_stream) and
// src/noisybnn/hw/lfsr.py; the specification is docs/injector.md.
//
// * A beat holds PE neurons of BITS bits, PE 0 in the LSBs (FINN packing). Bit position
//   l = pe*BITS + bit is "bit lane" l and owns a 64-bit Fibonacci LFSR with
//   s[n] = s[n-60]^s[n-61]^s[n-63]^s[n-64] (bit 0 newest).
// * Each accepted beat every lane advances 16 steps at once (leap-forward):
//   nb = r[59:44]^r[60:45]^r[62:47]^r[63:48]; r <= {r[47:0], nb}; the lane's sample is the
//   output filter u = (w0 + w2) ^ rotl8(w1 + w3) of the new register's 16-bit words w0..w3.
// * mode 0 OFF: pass-through; 1 FLIP: bit ^= (u < threshold) & mask[neuron];
//   2 STUCK0 / 3 STUCK1: every bit of a masked neuron forced to 0 / 1.
//   The LFSRs advance on every accepted beat in every mode.
// * Beat b (since reseed) carries neurons (b mod NF)*PE + pe, NF = NEURONS/PE: a fold counter.
// * reseed (one-cycle pulse) and reset reload every lane with splitmix64(lane) ^ seed
//   (1 if that is 0), and clear the fold counter and both counters. No beat is accepted in a
//   cycle with reseed high, so a beat belongs entirely to one run.
// * Latency 1 cycle, II = 1. The output is registered and backed by a one-beat skid buffer:
//   s_axis_tready is a register (gated only by reseed), never a function of m_axis_tready.
// * Counters: beats accepted and bits changed (popcount(out ^ in)); 64 bits each. The change
//   counter is updated one cycle after the beat is accepted.
`default_nettype none

module noise_injector_core #(
    parameter integer PE       = 1,  // neurons per beat
    parameter integer BITS     = 1,  // bits per neuron
    parameter integer NEURONS  = 1,  // neurons of the layer; PE must divide it
    parameter integer COUNTERS = 1   // 1: beat and change counters; 0: tied to zero
) (
    input  wire                 clk,
    input  wire                 rst_n,           // synchronous, active low; acts as a reseed
    // configuration (sampled when a beat is accepted)
    input  wire [1:0]           mode,
    input  wire [16:0]          threshold,       // p = threshold / 2^16, 0..65536
    input  wire [63:0]          seed,
    input  wire                 reseed,          // one-cycle strobe
    input  wire [NEURONS-1:0]   fault_mask,      // neuron n is bit n
    // AXI-Stream in
    input  wire [PE*BITS-1:0]   s_axis_tdata,
    input  wire                 s_axis_tvalid,
    output wire                 s_axis_tready,
    // AXI-Stream out
    output wire [PE*BITS-1:0]   m_axis_tdata,
    output wire                 m_axis_tvalid,
    input  wire                 m_axis_tready,
    // counters since the last reseed
    output wire [63:0]          beat_count,
    output wire [63:0]          change_count
);

    localparam integer LANES  = PE * BITS;
    localparam integer NF     = NEURONS / PE;
    localparam integer FOLD_W = (NF > 1) ? clog2(NF) : 1;
    localparam integer POP_W  = clog2(LANES + 1);

    // mode values; 2'd0 is OFF (pass-through: none of the three selects below is active)
    localparam [1:0] MODE_FLIP = 2'd1, MODE_STUCK0 = 2'd2, MODE_STUCK1 = 2'd3;

    // ---------------------------------------------------------------- constant functions
    function integer clog2;
        input integer value;
        integer v;
        begin
            clog2 = 0;
            v = value - 1;
            while (v > 0) begin
                clog2 = clog2 + 1;
                v = v >> 1;
            end
            if (clog2 == 0) clog2 = 1;
        end
    endfunction

    // SplitMix64 finaliser (Steele, Lea, Flood 2014), as injector.splitmix64. Evaluated only at
    // elaboration (lane constants), so it costs no logic: the multiplies fold to constants.
    function [63:0] splitmix64;
        input [63:0] x;
        reg [63:0] z;
        begin
            z = x + 64'h9E3779B97F4A7C15;
            z = (z ^ (z >> 30)) * 64'hBF58476D1CE4E5B9;
            z = (z ^ (z >> 27)) * 64'h94D049BB133111EB;
            splitmix64 = z ^ (z >> 31);
        end
    endfunction

    // ---------------------------------------------------------------- handshake
    reg  in_ready_q;
    reg  skid_valid;
    reg  [LANES-1:0] skid_data;
    reg  out_valid;
    reg  [LANES-1:0] out_data;

    assign s_axis_tready = in_ready_q & ~reseed;
    wire in_fire  = s_axis_tvalid & s_axis_tready;
    wire out_free = ~out_valid | m_axis_tready;   // the output register is empty or drains now

    assign m_axis_tvalid = out_valid;
    assign m_axis_tdata  = out_data;

    // ---------------------------------------------------------------- fold counter and mask
    wire [PE-1:0] fold_mask;   // mask bit of the neuron on each PE slot of this beat
    genvar p, f, l;
    generate
        if (NF > 1) begin : g_fold
            localparam integer      NF_M1     = NF - 1;
            localparam [FOLD_W-1:0] LAST_FOLD = NF_M1[FOLD_W-1:0];
            reg [FOLD_W-1:0] fold;
            always @(posedge clk) begin
                if (!rst_n || reseed) fold <= {FOLD_W{1'b0}};
                else if (in_fire) fold <= (fold == LAST_FOLD) ? {FOLD_W{1'b0}} : fold + 1'b1;
            end
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                wire [(1 << FOLD_W)-1:0] column;   // mask bits of neurons f*PE + p
                for (f = 0; f < (1 << FOLD_W); f = f + 1) begin : g_col
                    if (f < NF) begin : g_in
                        assign column[f] = fault_mask[f * PE + p];
                    end else begin : g_pad
                        assign column[f] = 1'b0;
                    end
                end
                assign fold_mask[p] = column[fold];
            end
        end else begin : g_nofold
            assign fold_mask = fault_mask[PE-1:0];
        end
    endgenerate

    // ---------------------------------------------------------------- lanes
    wire [LANES-1:0] result;   // the beat after injection (combinational, from in and LFSRs)
    wire flip_mode   = (mode == MODE_FLIP);
    wire stuck0_mode = (mode == MODE_STUCK0);
    wire stuck1_mode = (mode == MODE_STUCK1);

    generate
        for (l = 0; l < LANES; l = l + 1) begin : g_lane
            localparam [63:0] LANE_CONST = splitmix64(l);
            reg  [63:0] r;
            wire [63:0] init = LANE_CONST ^ seed;
            wire [15:0] nb   = r[59:44] ^ r[60:45] ^ r[62:47] ^ r[63:48];  // 16 new bits
            // output filter of the register after the beat {r[47:0], nb}, words w0 (newest)..w3:
            // u = (w0 + w2) ^ rotl8(w1 + w3); the carries break the LFSR's 4-beat relation
            wire [15:0] sum_a = nb + r[31:16];
            wire [15:0] sum_b = r[15:0] + r[47:32];
            wire [15:0] u    = sum_a ^ {sum_b[7:0], sum_b[15:8]};
            wire        hit  = fold_mask[l / BITS];
            wire        flip = flip_mode & hit & ({1'b0, u} < threshold);
            wire        din  = s_axis_tdata[l];

            always @(posedge clk) begin
                if (!rst_n || reseed) r <= (init == 64'd0) ? 64'd1 : init;
                else if (in_fire) r <= {r[47:0], nb};
            end

            assign result[l] = (hit & stuck0_mode) ? 1'b0 :
                               (hit & stuck1_mode) ? 1'b1 : (din ^ flip);
        end
    endgenerate

    // ---------------------------------------------------------------- output register + skid
    always @(posedge clk) begin
        if (!rst_n) begin
            in_ready_q <= 1'b0;
            skid_valid <= 1'b0;
            out_valid  <= 1'b0;
        end else begin
            if (out_free) begin
                if (skid_valid) begin
                    out_data  <= skid_data;
                    out_valid <= 1'b1;
                end else begin
                    out_valid <= in_fire;
                    if (in_fire) out_data <= result;
                end
            end
            // skid_valid implies in_ready_q == 0, so no beat arrives while the skid is full
            if (skid_valid) skid_valid <= ~out_free;
            else if (in_fire && !out_free) begin
                skid_valid <= 1'b1;
                skid_data  <= result;
            end
            in_ready_q <= skid_valid ? out_free : ~(in_fire & ~out_free);
        end
    end

    // ---------------------------------------------------------------- counters
    function [POP_W-1:0] popcount;
        input [LANES-1:0] x;
        integer i;
        begin
            popcount = {POP_W{1'b0}};
            for (i = 0; i < LANES; i = i + 1) popcount = popcount + {{(POP_W-1){1'b0}}, x[i]};
        end
    endfunction

    generate
        if (COUNTERS != 0) begin : g_cnt
            reg [63:0]       beats_q;
            reg [63:0]       changes_q;
            reg [LANES-1:0]  diff_q;    // bits changed by the last accepted beat
            always @(posedge clk) begin
                if (!rst_n || reseed) begin
                    beats_q   <= 64'd0;
                    changes_q <= 64'd0;
                    diff_q    <= {LANES{1'b0}};
                end else begin
                    if (in_fire) beats_q <= beats_q + 64'd1;
                    diff_q    <= in_fire ? (result ^ s_axis_tdata) : {LANES{1'b0}};
                    changes_q <= changes_q + {{(64-POP_W){1'b0}}, popcount(diff_q)};
                end
            end
            assign beat_count   = beats_q;
            assign change_count = changes_q;
        end else begin : g_nocnt
            assign beat_count   = 64'd0;
            assign change_count = 64'd0;
        end
    endgenerate

endmodule

`default_nettype wire
