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
// * Latency 1 cycle, II = 1. The output is one register (no skid buffer): s_axis_tready =
//   ~reseed & ~busy & (~m_axis_tvalid | m_axis_tready), a combinational path from
//   m_axis_tready, as AXI-Stream allows (the ready of a full pipeline stage follows the sink).
// * Counters: beats accepted and bits changed (popcount(out ^ in)); CNT_W = 48 bits each, they
//   wrap at 2^48 (32 days of beats at 100 MHz); the 64-bit ports read them zero-extended. The
//   change counter is updated one cycle after the beat is accepted.
// * With `NBNN_XC7_PRIMS defined (noisybnn.hw.synth defines it for yosys synth_xilinx), the
//   compare w < threshold and the output select are instantiated as 7-series primitives
//   (LUT6_2 + CARRY4: 8 LUTs for the 17-bit compare, one LUT6_2 for out and out ^ in); without
//   it (Verilator, Vivado) the same functions are written behaviourally. tests/hw proves both
//   equivalent with yosys' equiv_* passes on yosys' own cell models.
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

    // mode values: 0 OFF (pass-through), 1 FLIP, 2 STUCK0, 3 STUCK1 (noise_injector_lane_out)

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
    reg  out_valid;
    reg  [LANES-1:0] out_data;
    wire out_free = ~out_valid | m_axis_tready;   // the output register is empty or drains now

    assign s_axis_tready = out_free & ~reseed & ~busy;
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
    wire [LANES-1:0] result;   // the beat after injection (combinational, from in and w)
    wire [LANES-1:0] changed;  // result ^ s_axis_tdata, for the change counter

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
            wire [15:0] w_next;   // w - (rotl(w_prev, 5) ^ rotl(n, A) ^ rotl(e1, B) ^ D)
            wire        hit  = fold_mask[l / BITS];
            wire        din  = s_axis_tdata[l];
            assign w_all[16*l +: 16] = w;

            noise_injector_lane_acc #(.D(D)) u_acc (
                .w(w), .a(rotl16(w_all[16*LP +: 16], 5)), .b(rotl16(n16, A)), .c(rotl16(e1, B)),
                .w_next(w_next)
            );
            always @(posedge clk) begin
                if (!rst_n || reseed) w <= K;
                else if (step) w <= w_next;
            end

            noise_injector_lane_out u_out (
                .w(w), .threshold(threshold), .din(din), .hit(hit), .mode(mode),
                .result(result[l]), .changed(changed[l])
            );
        end
    endgenerate

    // ---------------------------------------------------------------- output register
    always @(posedge clk) begin
        if (!rst_n) out_valid <= 1'b0;
        else if (out_free) out_valid <= in_fire;
        if (in_fire) out_data <= result;
    end

    // ---------------------------------------------------------------- counters
    // popcount of the changed bits: 6-bit groups looked up in a table (3 LUT6 per group), then
    // an adder tree of the 3-bit group counts
    localparam integer NG = (LANES + 5) / 6;

    function [191:0] pop6_table;
        input integer n;   // 64 entries
        integer i, j, c;
        begin
            pop6_table = 192'd0;
            for (i = 0; i < n; i = i + 1) begin
                c = 0;
                for (j = 0; j < 6; j = j + 1) c = c + ((i >> j) & 1);
                pop6_table[3 * i +: 3] = c[2:0];
            end
        end
    endfunction
    localparam [191:0] POP6 = pop6_table(64);
    localparam integer PW   = (POP_W < 3) ? 3 : POP_W;   // width of the group sum

    function [PW-1:0] ext3;
        input [2:0] v;
        begin
            ext3 = {PW{1'b0}};
            ext3[2:0] = v;
        end
    endfunction

    generate
        if (COUNTERS != 0) begin : g_cnt
            localparam integer CNT_W = 48;
            reg  [CNT_W-1:0] beats_q;
            reg  [CNT_W-1:0] changes_q;
            reg  [LANES-1:0] diff_q;    // bits changed by the last accepted beat
            reg  [6*NG-1:0]  diff_pad;
            reg  [PW-1:0]    pop_x;
            wire [POP_W-1:0] pop = pop_x[POP_W-1:0];
            integer g;
            always @(*) begin
                diff_pad = {(6 * NG){1'b0}};
                diff_pad[LANES-1:0] = diff_q;
                pop_x = {PW{1'b0}};
                for (g = 0; g < NG; g = g + 1)
                    pop_x = pop_x + ext3(POP6[3 * diff_pad[6 * g +: 6] +: 3]);
            end
            always @(posedge clk) begin
                if (!rst_n || reseed || !in_fire) diff_q <= {LANES{1'b0}};
                else diff_q <= changed;
                if (!rst_n || reseed) begin
                    beats_q   <= {CNT_W{1'b0}};
                    changes_q <= {CNT_W{1'b0}};
                end else begin
                    if (in_fire) beats_q <= beats_q + 1'b1;
                    changes_q <= changes_q + {{(CNT_W - POP_W){1'b0}}, pop};
                end
            end
            assign beat_count   = {{(64 - CNT_W){1'b0}}, beats_q};
            assign change_count = {{(64 - CNT_W){1'b0}}, changes_q};
        end else begin : g_nocnt
            assign beat_count   = 64'd0;
            assign change_count = 64'd0;
            wire unused_changed = ^changed;
        end
    endgenerate

endmodule

// noise_injector_lane_acc: one lane's accumulator step, w_next = w - (a ^ b ^ c ^ D).
// NBNN_XC7_PRIMS: one LUT4 per bit (propagate w_i ^ ~x_i, D folded into its INIT) on four CARRY4
// (generate = w_i, carry in 1): the 16 LUT / 16 fresh bits floor; a subtraction keeps w on DI.
/* verilator lint_off DECLFILENAME */
module noise_injector_lane_acc #(
    parameter [15:0] D = 16'd0
) (
    input  wire [15:0] w,
    input  wire [15:0] a,
    input  wire [15:0] b,
    input  wire [15:0] c,
    output wire [15:0] w_next
);
`ifdef NBNN_XC7_PRIMS
    // INIT of bit i: I0 = w, I1 = a, I2 = b, I3 = c; O = ~(w ^ a ^ b ^ c ^ d)
    function [15:0] acc_init;
        input integer d;
        integer j;
        begin
            acc_init = 16'd0;
            for (j = 0; j < 16; j = j + 1)
                acc_init[j] = ~(j[0] ^ j[1] ^ j[2] ^ j[3] ^ d[0]);
        end
    endfunction
    wire [15:0] prop;
    wire [15:0] co;
    genvar i;
    generate
        for (i = 0; i < 16; i = i + 1) begin : g_bit
            LUT4 #(.INIT(acc_init({31'd0, D[i]}))) u_p (
                .O(prop[i]), .I0(w[i]), .I1(a[i]), .I2(b[i]), .I3(c[i])
            );
        end
        for (i = 0; i < 4; i = i + 1) begin : g_cy
            CARRY4 u_cy (
                .CO(co[4*i +: 4]), .O(w_next[4*i +: 4]), .CI(i == 0 ? 1'b0 : co[4*i - 1]),
                .CYINIT(i == 0 ? 1'b1 : 1'b0), .DI(w[4*i +: 4]), .S(prop[4*i +: 4])
            );
        end
    endgenerate
`else
    assign w_next = w - (a ^ b ^ c ^ D);
`endif
endmodule

// noise_injector_lane_out: one bit lane's decision and output.
//   flip    = (w < threshold)  (threshold is 17 bits: 65536 and above flip always)
//   result  = mode 1: din ^ (hit & flip); 2: hit ? 0 : din; 3: hit ? 1 : din; 0: din
//   changed = result ^ din
// NBNN_XC7_PRIMS: the compare on a carry chain, 2 bits per LUT6_2 (O6 = the pair is equal,
// the carry passes; O5 = the pair is below, the decision), the top pair also takes
// threshold[16]; result and changed are the O6 / O5 of one LUT6_2 of (din, flip, hit, mode).
module noise_injector_lane_out (
    input  wire [15:0] w,
    input  wire [16:0] threshold,
    input  wire        din,
    input  wire        hit,
    input  wire [1:0]  mode,
    output wire        result,
    output wire        changed
);
    // INIT of a compare pair: I0 = w lo, I1 = w hi, I2 = t lo, I3 = t hi, I4 = t16 (top pair)
    function [63:0] pair_init;
        input integer n;   // 32 entries of O5 and O6
        integer i;
        reg [1:0] wv, tv;
        reg t16;
        begin
            pair_init = 64'd0;
            for (i = 0; i < n; i = i + 1) begin
                wv  = i[1:0];
                tv  = i[3:2];
                t16 = i[4];
                pair_init[32 + i] = (wv == tv) & ~t16;   // O6: propagate
                pair_init[i]      = (wv < tv) | t16;     // O5: generate (used when O6 = 0)
            end
        end
    endfunction

    // INIT of the output LUT: I0 = din, I1 = flip, I2 = hit, I3 = mode[0], I4 = mode[1]
    function [63:0] out_init;
        input integer n;   // 32 entries of O5 and O6
        integer i;
        reg d, f, h, r;
        reg [1:0] m;
        begin
            out_init = 64'd0;
            for (i = 0; i < n; i = i + 1) begin
                d = i[0];
                f = i[1];
                h = i[2];
                m = i[4:3];
                case (m)
                    2'd1:    r = d ^ (h & f);
                    2'd2:    r = h ? 1'b0 : d;
                    2'd3:    r = h ? 1'b1 : d;
                    default: r = d;
                endcase
                out_init[32 + i] = r;       // O6: result
                out_init[i]      = r ^ d;   // O5: changed
            end
        end
    endfunction

`ifdef NBNN_XC7_PRIMS
    localparam [63:0] PAIR_INIT = pair_init(32);
    localparam [63:0] OUT_INIT  = out_init(32);
    wire [7:0] prop, gen, co;
    genvar k;
    generate
        for (k = 0; k < 8; k = k + 1) begin : g_pair
            LUT6_2 #(.INIT(PAIR_INIT)) u_pair (
                .O6(prop[k]), .O5(gen[k]),
                .I0(w[2 * k]), .I1(w[2 * k + 1]), .I2(threshold[2 * k]),
                .I3(threshold[2 * k + 1]), .I4(k == 7 ? threshold[16] : 1'b0), .I5(1'b1)
            );
        end
    endgenerate
    CARRY4 u_cy0 (.CO(co[3:0]), .O(), .CI(1'b0), .CYINIT(1'b0), .DI(gen[3:0]), .S(prop[3:0]));
    CARRY4 u_cy1 (.CO(co[7:4]), .O(), .CI(co[3]), .CYINIT(1'b0), .DI(gen[7:4]), .S(prop[7:4]));
    LUT6_2 #(.INIT(OUT_INIT)) u_sel (
        .O6(result), .O5(changed),
        .I0(din), .I1(co[7]), .I2(hit), .I3(mode[0]), .I4(mode[1]), .I5(1'b1)
    );
`else
    wire flip = ({1'b0, w} < threshold);
    assign result  = (hit && mode == 2'd2) ? 1'b0 :
                     (hit && mode == 2'd3) ? 1'b1 : (din ^ (hit & flip & (mode == 2'd1)));
    assign changed = result ^ din;
`endif
endmodule
/* verilator lint_on DECLFILENAME */

`default_nettype wire
