// noise_injector_core: bit-flip / stuck-at noise injector for a FINN AXI-Stream (generator v2).
//
// Bit-exact with the Python reference src/noisybnn/hw/injector.py (inject_stream) and
// src/noisybnn/hw/lfsr.py; the specification is docs/injector.md.
//
// * A beat holds PE neurons of BITS bits, PE 0 in the LSBs (FINN packing). Bit position
//   l = pe*BITS + bit is "bit lane" l; LANES = PE*BITS.
// * Generator: one shared 89-bit LFSR e (s[t] = s[t-48]^s[t-67]^s[t-88]^s[t-89], bit 0 newest)
//   and a 16-bit accumulator w_l per lane. A step: n = e[47:32]^e[66:51]^e[87:72]^e[88:73];
//   e <= {e[72:0], n}; w_l <= w_l - (rotl(w_{l-1 mod LANES}, 5) ^ rotl(n, A_l) ^ rotl(e[31:16], B_l)
//   ^ D_l), with K_l, D_l, A_l, B_l from splitmix64(l) (elaboration-time constants).
// * The sample of lane l for a beat is w_l before the step; FLIP (mode 1): bit ^= (w_l <
//   threshold) & mask[neuron]; 2 STUCK0 / 3 STUCK1: every bit of a masked neuron forced to 0 / 1;
//   0 OFF: pass-through. The generator steps on every accepted beat in every mode.
// * Beat b (since reseed) carries neurons (b mod NF)*PE + pe, NF = NEURONS/PE: a fold counter.
// * Reset (rst_n low, any length) and reseed (one-cycle strobe) do the same: e <= E_RESET,
//   w_l <= K_l, fold counter and counters cleared, then (after rst_n is high again) 4 cycles
//   shift seed[63:48], [47:32], [31:16], [15:0] into e and 16 warm-up steps follow;
//   s_axis_tready is low for those 20 cycles. Any seed, 0 and all ones included, gives a
//   nonzero e, so the generator never locks up.
// * Latency 1 cycle, II = 1. The output is registered and backed by a one-beat skid buffer:
//   s_axis_tready is a register (gated only by reseed and the reseed sequence), never a
//   function of m_axis_tready.
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

    // splitmix64 (Steele, Lea, Flood 2014) with the gamma added first, as lfsr.splitmix64.
    // Evaluated only at elaboration (lane constants): the multiplies fold to constants.
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

    function [15:0] rotl16;
        input [15:0] x;
        input integer r;   // 0..15
        begin
            rotl16 = x;
            if (r != 0) rotl16 = (x << r) | (x >> (16 - r));
        end
    endfunction

    // ---------------------------------------------------------------- reseed sequence
    localparam integer    SEQ_DONE = 20;                  // 4 load cycles + 16 warm-up steps
    localparam [88:0]     E_RESET  = 89'h1C3A5F1;         // its low 25 bits end up in e[88:64]
    reg  [4:0] seq;
    wire busy    = (seq != SEQ_DONE[4:0]);
    wire loading = (seq[4:2] == 3'd0);                    // seq 0..3
    always @(posedge clk) begin
        if (!rst_n || reseed) seq <= 5'd0;
        else if (busy) seq <= seq + 5'd1;
    end

    // ---------------------------------------------------------------- handshake
    reg  in_ready_q;
    reg  skid_valid;
    reg  [LANES-1:0] skid_data;
    reg  out_valid;
    reg  [LANES-1:0] out_data;

    assign s_axis_tready = in_ready_q & ~reseed & ~busy;
    wire in_fire  = s_axis_tvalid & s_axis_tready;
    wire step     = in_fire | (busy & ~loading);          // the generator advances

    // ---------------------------------------------------------------- shared LFSR e
    reg  [88:0] e;
    wire [15:0] n16 = e[47:32] ^ e[66:51] ^ e[87:72] ^ e[88:73];
    wire [15:0] e1  = e[31:16];
    reg  [15:0] load_word;
    always @(*) begin
        case (seq[1:0])
            2'd0:    load_word = seed[63:48];
            2'd1:    load_word = seed[47:32];
            2'd2:    load_word = seed[31:16];
            default: load_word = seed[15:0];
        endcase
    end
    always @(posedge clk) begin
        if (!rst_n || reseed) e <= E_RESET;
        else if (loading) e <= {e[72:0], load_word};
        else if (step) e <= {e[72:0], n16};
    end
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

    wire [16*LANES-1:0] w_all;   // every lane's accumulator, lane l in bits [16l +: 16]
    generate
        for (l = 0; l < LANES; l = l + 1) begin : g_lane
            localparam [63:0]  H  = splitmix64(l);
            localparam [15:0]  K  = H[15:0];
            localparam [15:0]  D  = H[31:16];
            localparam integer A  = {28'd0, H[35:32]};
            localparam integer B  = {28'd0, H[39:36]};
            localparam integer LP = (l + LANES - 1) % LANES;   // ring neighbour
            reg  [15:0] w;
            wire [15:0] x    = rotl16(w_all[16*LP +: 16], 5) ^ rotl16(n16, A) ^ rotl16(e1, B) ^ D;
            wire        hit  = fold_mask[l / BITS];
            wire        flip = flip_mode & hit & ({1'b0, w} < threshold);
            wire        din  = s_axis_tdata[l];
            assign w_all[16*l +: 16] = w;

            always @(posedge clk) begin
                if (!rst_n || reseed) w <= K;
                else if (step) w <= w - x;   // a subtraction keeps w on the carry chain's DI
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
