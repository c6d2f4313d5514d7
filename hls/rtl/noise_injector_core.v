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
//   shift seed[63:48], [47:32], [31:16], [15:0] into e and 16 warm-up steps follow, while
//   the same 32-cycle count programs every lane's compare tables from `threshold`;
//   s_axis_tready is low for those 32 cycles. Seed and threshold take effect at a reseed. Any
//   seed, 0 and all ones included, gives a nonzero e, so the generator never locks up.
// * Latency 1 cycle, II = 1. The output is one register (no skid buffer): s_axis_tready =
//   ~reseed & ~busy & ~mask_busy & (~m_axis_tvalid | m_axis_tready), a combinational path from
//   m_axis_tready, as AXI-Stream allows (the ready of a full pipeline stage follows the sink).
// * Counters: beats accepted and bits changed (popcount(out ^ in)); CNT_W = 48 bits each, they
//   wrap at 2^48 (32 days of beats at 100 MHz); the 64-bit ports read them zero-extended. The
//   change counter is updated one cycle after the beat is accepted.
// * With `NBNN_XC7_PRIMS defined (noisybnn.hw.synth defines it for yosys synth_xilinx), the
//   accumulator, the compare w < threshold (RAM32M tables + LUT6_2 + CARRY4 from 4 lanes on, 8
//   LUT6_2 on 2 CARRY4 below), the output select and the LUTRAM mask are 7-series primitives;
//   without it (Verilator, Vivado) the same functions are written behaviourally. tests/hw
//   proves both equivalent with yosys' equiv_* passes on yosys' own cell models (NF = 1) and
//   simulates the synthesized netlist. Mask and compare storage are chosen by size (CMP_RAM,
//   MASK_LUTRAM; docs/injector.md, "Cost").
`default_nettype none

module noise_injector_core #(
    parameter integer PE       = 1,  // neurons per beat
    parameter integer BITS     = 1,  // bits per neuron
    parameter integer NEURONS  = 1,  // neurons of the layer; PE must divide it
    parameter integer COUNTERS = 1,  // 1: beat and change counters; 0: tied to zero
    parameter integer MASK_WORD0 = 0, // mask_word of neuron word 0 (the IP passes its word address)
    // storage choices, -1: by size (the cheaper in LUTs, measured: docs/injector.md, "Cost")
    parameter integer MASK_LUTRAM = -1, // NF > 1: 1 mask in LUTRAM + writer, 0 flip-flops + fold mux
    parameter integer CMP_RAM     = -1  // 1: compare on RAM32M tables, 0: on LUTs (8 LUT6_2)
) (
    input  wire                 clk,
    input  wire                 rst_n,           // synchronous, active low; acts as a reseed
    // configuration (sampled when a beat is accepted)
    input  wire [1:0]           mode,
    input  wire [16:0]          threshold,       // p = threshold / 2^16; taken at reseed
    input  wire [63:0]          seed,
    input  wire                 reseed,          // one-cycle strobe
    // fault mask writes, fold order (neuron f*PE + p is bit f*PE2 + p of the words), byte
    // strobes; held until mask_wready (one cycle with the flip-flop mask; with the LUTRAM mask
    // 1 + min(32 / PE2, 2^clog2(NF)) cycles, registers.mask_write_cycles)
    input  wire                 mask_wvalid,
    output wire                 mask_wready,
    input  wire [15:0]          mask_word,
    input  wire [31:0]          mask_wdata,
    input  wire [3:0]           mask_wstrb,
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
    // Storage by size, from yosys measurements (bench/synth_injector.py; docs/injector.md,
    // "Cost"): the RAM32M compare and its table writer cost as much as the LUT compare at 3 and 4
    // lanes and less above. The fault mask (NF > 1) goes to LUTRAM when its measured cost line,
    // in 1/100 LUT (writer 16.46 + 4.03 per fold-counter bit, per slot the RAM sites + 1.03), is
    // below that of NEURONS flip-flops with an NF:1 mux per slot (-16.86 + 0.48 per neuron +
    // 6.44 per fold-counter bit) by more than 10 LUT (yosys' mapping noise; the flip-flop mask
    // never stalls the stream); rtl_cost.mask_in_lutram is the same rule.
    localparam integer USE_CMP_RAM  = (CMP_RAM >= 0) ? CMP_RAM : (LANES >= 4) ? 1 : 0;
    localparam integer MASK_SITES   = (NF <= 64) ? 1 : (NF <= 128) ? 2 : 4 * ((NF + 255) / 256);
    localparam integer MASK_RAM_EST = 1646 + 403 * FOLD_W + PE * (100 * MASK_SITES + 103);
    localparam integer MASK_FF_EST  = 48 * NEURONS + 644 * FOLD_W - 1686;
    localparam integer USE_MASK_RAM = (NF <= 1) ? 0 : (MASK_LUTRAM >= 0) ? MASK_LUTRAM :
                                      (MASK_RAM_EST + 1000 < MASK_FF_EST) ? 1 : 0;

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
    // seq 0..31 while busy, 32 done: all 32 cycles program the compare tables (address
    // seq[4:0]) from `threshold`; e waits at E_RESET for cycles 0..11, cycles 12..15 load the
    // seed, 16..31 warm up (placed last, so the decodes are one or two bits of seq)
    localparam [88:0]     E_RESET  = 89'h1C3A5F1;         // its low 25 bits end up in e[88:64]
    reg  [5:0] seq;
    wire busy    = ~seq[5];
    wire loading = ~seq[5] & (seq[4:2] == 3'b011);        // seq 12..15
    wire warming = ~seq[5] & seq[4];                      // seq 16..31
    always @(posedge clk) begin
        if (!rst_n || reseed) seq <= 6'd0;
        else if (busy) seq <= seq + 6'd1;
    end

    // ---------------------------------------------------------------- handshake
    reg  out_valid;
    reg  [LANES-1:0] out_data;
    wire out_free = ~out_valid | m_axis_tready;   // the output register is empty or drains now

    // the stream waits while the fault mask is written
    wire mask_busy;
    // (a beat accepted in the cycle a mask write arrives still sees the old mask: the writer
    // writes from the next cycle, and mask_busy stalls the stream from then on)
    assign s_axis_tready = out_free & ~reseed & ~busy & ~mask_busy;
    wire in_fire  = s_axis_tvalid & s_axis_tready;
    wire step     = in_fire | warming;                    // the generator advances

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
    // Mask layout (register map version 4): neuron n = f * PE + p (fold f, PE slot p) is bit
    // B = f * PE2 + p of the mask words (word B / 32, bit B % 32), PE2 = PE rounded up to a power
    // of two, so a word holds whole folds (PE2 <= 32: FPW = 32 / PE2 folds of one fold address
    // each) or one 32-slot group of a fold (PE2 > 32). NF = 1 gives the neuron-major layout.
    // NF = 1: one flip-flop per neuron, written in one cycle. NF > 1: one LUTRAM of depth NF per
    // PE slot (address = fold), read at the fold counter; a word write stores its folds one
    // address a cycle (FPW_EFF cycles), all slots at once; after reset every address is filled
    // with ones (NF cycles), so reset leaves the mask all ones.
    localparam integer PE2     = (PE > 1) ? (1 << clog2(PE)) : 1;
    localparam integer PE2_W   = (PE > 1) ? clog2(PE) : 0;     // log2 PE2
    localparam integer FPW_W   = (PE2_W >= 5) ? 0 : 5 - PE2_W; // log2 folds per word
    localparam integer WPF_W   = (PE2_W > 5) ? PE2_W - 5 : 0;  // log2 words per fold
    localparam integer WORDS   = (NF * PE2 + 31) / 32;
    wire [PE-1:0] fold_mask;   // mask bit of the neuron on each PE slot of this beat
    wire [31:0] mask_word32 = {16'd0, mask_word};
    /* verilator lint_off UNSIGNED */
    wire word_ok = (mask_word32 >= MASK_WORD0) && (mask_word32 < MASK_WORD0 + WORDS);
    /* verilator lint_on UNSIGNED */
    wire [31:0] mask_k32 = mask_word32 - MASK_WORD0;
    genvar p, l, f;
    generate
        if (USE_MASK_RAM != 0) begin : g_fold
            localparam integer      NF_M1     = NF - 1;
            localparam [FOLD_W-1:0] LAST_FOLD = NF_M1[FOLD_W-1:0];
            // steps of a word write: its folds, but no more than the RAM has addresses
            localparam integer      IW        = (FPW_W < FOLD_W) ? FPW_W : FOLD_W;
            localparam [1:0]        S_IDLE = 2'd0, S_FILL = 2'd1, S_WORD = 2'd2;
            reg [FOLD_W-1:0] fold;
            always @(posedge clk) begin
                if (!rst_n || reseed) fold <= {FOLD_W{1'b0}};
                else if (in_fire) fold <= (fold == LAST_FOLD) ? {FOLD_W{1'b0}} : fold + 1'b1;
            end

            reg [1:0]        mw_state;
            reg [FOLD_W-1:0] mw_cnt;     // FILL: the address; WORD: the fold within the word
            wire [31:0]      step32    = {{(32 - FOLD_W){1'b0}}, mw_cnt} & ((32'd1 << IW) - 1);
            wire [31:0]      waddr32   = ((mask_k32 << IW) | step32) >> WPF_W;
            wire             filling   = (mw_state == S_FILL);
            wire             writing   = (mw_state == S_WORD);
            wire             last_fill = (mw_cnt == LAST_FOLD);
            wire             last_step = (step32 == ((32'd1 << IW) - 1));
            assign mask_busy   = (mw_state != S_IDLE);
            assign mask_wready = ((mw_state == S_IDLE) & mask_wvalid & ~word_ok) |
                                 (writing & last_step);
            always @(posedge clk) begin
                if (!rst_n) begin
                    mw_state <= S_FILL;
                    mw_cnt   <= {FOLD_W{1'b0}};
                end else begin
                    case (mw_state)
                        S_FILL: begin
                            mw_cnt <= last_fill ? {FOLD_W{1'b0}} : mw_cnt + 1'b1;
                            if (last_fill) mw_state <= S_IDLE;
                        end
                        S_IDLE: if (mask_wvalid && word_ok) mw_state <= S_WORD;
                        default: begin   // S_WORD
                            mw_cnt <= last_step ? {FOLD_W{1'b0}} : mw_cnt + 1'b1;
                            if (last_step) mw_state <= S_IDLE;
                        end
                    endcase
                end
            end
            wire [FOLD_W-1:0] ram_addr = filling ? mw_cnt : writing ? waddr32[FOLD_W-1:0] : fold;
            wire unused_waddr = ^waddr32;   // the RAM takes its low FOLD_W bits
            for (p = 0; p < PE; p = p + 1) begin : g_pe
                wire d_bit, s_bit;   // this slot's bit of the word and its byte strobe
                if (PE2_W >= 5) begin : g_group
                    localparam integer G = p / 32;
                    assign d_bit = mask_wdata[p % 32];
                    assign s_bit = mask_wstrb[(p % 32) / 8] &
                                   (WPF_W == 0 || (mask_k32 & ((32'd1 << WPF_W) - 1)) == G);
                end else begin : g_folds
                    wire [(1 << IW)-1:0] col_d, col_s;
                    for (f = 0; f < (1 << IW); f = f + 1) begin : g_col
                        assign col_d[f] = mask_wdata[f * PE2 + p];
                        assign col_s[f] = mask_wstrb[(f * PE2 + p) / 8];
                    end
                    assign d_bit = col_d[step32[IW-1:0]];
                    assign s_bit = col_s[step32[IW-1:0]];
                end
                wire we = filling | (writing & s_bit);
                noise_injector_mask_ram #(.DEPTH(NF), .AW(FOLD_W)) u_ram (
                    .clk(clk), .we(we), .d(filling | d_bit), .a(ram_addr), .o(fold_mask[p])
                );
            end
        end else begin : g_ffmask
            // one flip-flop per neuron, byte strobes as write enables (written in one cycle);
            // NF > 1: each slot's neurons f*PE + p through an NF:1 mux at the fold counter
            reg [NEURONS-1:0] mask_q;
            integer n;
            always @(posedge clk) begin
                if (!rst_n) mask_q <= {NEURONS{1'b1}};
                else if (mask_wvalid) begin
                    for (n = 0; n < NEURONS; n = n + 1)
                        if (mask_word32 == MASK_WORD0 + ((n / PE) * PE2 + n % PE) / 32 &&
                            mask_wstrb[(((n / PE) * PE2 + n % PE) % 32) / 8])
                            mask_q[n] <= mask_wdata[((n / PE) * PE2 + n % PE) % 32];
                end
            end
            assign mask_wready = 1'b1;
            assign mask_busy   = 1'b0;
            wire unused_word_ok = word_ok;
            wire unused_k = ^mask_k32;
            if (NF > 1) begin : g_mux
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
                            assign column[f] = mask_q[f * PE + p];
                        end else begin : g_pad
                            assign column[f] = 1'b0;
                        end
                    end
                    assign fold_mask[p] = column[fold];
                end
            end else begin : g_nomux
                assign fold_mask = mask_q;
            end
        end
    endgenerate

    // ---------------------------------------------------------------- compare RAM writer
    // Every lane decides w < threshold on three RAM32M ports (5-bit groups of w: the group's
    // (equal, below) against the threshold's group) and one LUT for bit 15 and threshold[16].
    // All lanes' RAMs hold the same 32 x 2-bit tables; the reseed sequence writes address seq
    // of them in each of its 32 cycles (after reset and every reseed; input stalled), and
    // latches threshold[16:15] for the top stage, so a threshold takes effect at a reseed.
    wire [4:0] thr_a = seq[4:0];
    wire [5:0] thr_di;
    wire [1:0] thr_hi;         // threshold[16:15] as of the last reseed (RAM compare)
    wire [16:0] thr_run;       // the whole threshold as of the last reseed (LUT compare)
    genvar gi;
    generate
        if (USE_CMP_RAM != 0) begin : g_tw
            reg [1:0] hi_q;
            always @(posedge clk) if (busy) hi_q <= threshold[16:15];
            assign thr_hi  = hi_q;
            assign thr_run = 17'd0;
            wire unused_thr_run = ^thr_run;
            // {eq, below} of groups 2, 1, 0 at address thr_a: eq = (thr_a == group), below =
            // (thr_a < group) = "eq not seen yet" (1 from the start, cleared after the eq address)
            reg [2:0] thr_below;
            for (gi = 0; gi < 3; gi = gi + 1) begin : g_tdi
                wire eq = (thr_a == threshold[5 * gi +: 5]);
                assign thr_di[2 * gi + 1] = eq;
                assign thr_di[2 * gi]     = thr_below[gi] & ~eq;
                always @(posedge clk) begin
                    if (!rst_n || reseed) thr_below[gi] <= 1'b1;
                    else if (eq) thr_below[gi] <= 1'b0;
                end
            end
        end else begin : g_tq
            // the LUT compare reads a copy of the threshold taken during the reseed sequence,
            // so the threshold takes effect at a reseed in both variants
            reg [16:0] thr_q;
            always @(posedge clk) if (busy) thr_q <= threshold;
            assign thr_run = thr_q;
            assign thr_hi  = 2'd0;
            assign thr_di  = 6'd0;
            wire unused_thr = ^{thr_a, thr_di, thr_hi};
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

            wire flip;
            if (USE_CMP_RAM != 0) begin : g_rcmp
                noise_injector_lane_cmp u_cmp (
                    .clk(clk), .w(w), .t15(thr_hi[0]), .t16(thr_hi[1]),
                    .we(busy), .waddr(thr_a), .di(thr_di), .flip(flip)
                );
            end else begin : g_lcmp
                noise_injector_lane_lcmp u_cmp (.w(w), .threshold(thr_run), .flip(flip));
            end
            noise_injector_lane_out u_out (
                .din(din), .flip(flip), .hit(hit), .mode(mode),
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

// noise_injector_lane_cmp: flip = (w < threshold), threshold 17 bits (65536 and above: always).
// Three 5-bit groups of w address the A, B, C ports of a RAM32M whose 32 x 2-bit tables hold, for
// each value of the group, {equal, below} against the same group of the threshold (written by the
// core's shared writer: we, waddr, di = {eq2, lt2, eq1, lt1, eq0, lt0}); a CARRY4 chains the
// groups (propagate = equal, generate = below) and a fourth stage takes bit 15 and threshold[16]
// from one LUT6_2. 5 LUT sites against 8 for the LUT compare. Without NBNN_XC7_PRIMS the same
// tables are registers and the chain is written out.
module noise_injector_lane_cmp (
    input  wire        clk,
    input  wire [15:0] w,
    input  wire        t15,
    input  wire        t16,
    input  wire        we,
    input  wire [4:0]  waddr,
    input  wire [5:0]  di,
    output wire        flip
);
    // tables of threshold 0 (what reset programs): only value 0 is equal, none is below
    localparam [63:0] INIT_T0 = 64'h2;
`ifdef NBNN_XC7_PRIMS
    // top stage, I0 = w15, I1 = t15, I2 = t16: O6 = propagate (equal and t16 = 0), O5 = generate
    function [63:0] top_init;
        input integer n;
        integer i;
        begin
            top_init = 64'd0;
            for (i = 0; i < n; i = i + 1) begin
                top_init[32 + i] = (i[0] == i[1]) & ~i[2];
                top_init[i]      = (~i[0] & i[1]) | i[2];
            end
        end
    endfunction
    localparam [63:0] TOP_INIT = top_init(32);
    wire [1:0] doa, dob, doc;
    wire       p3, g3;
    wire [3:0] co;
    RAM32M #(.INIT_A(INIT_T0), .INIT_B(INIT_T0), .INIT_C(INIT_T0), .INIT_D(64'd0)) u_ram (
        .DOA(doa), .DOB(dob), .DOC(doc), .DOD(),
        .ADDRA(w[4:0]), .ADDRB(w[9:5]), .ADDRC(w[14:10]), .ADDRD(waddr),
        .DIA(di[1:0]), .DIB(di[3:2]), .DIC(di[5:4]), .DID(2'b00), .WCLK(clk), .WE(we)
    );
    LUT6_2 #(.INIT(TOP_INIT)) u_top (
        .O6(p3), .O5(g3), .I0(w[15]), .I1(t15), .I2(t16), .I3(1'b0), .I4(1'b0), .I5(1'b1)
    );
    CARRY4 u_cy (
        .CO(co), .O(), .CI(1'b0), .CYINIT(1'b0),
        .DI({g3, doc[0], dob[0], doa[0]}), .S({p3, doc[1], dob[1], doa[1]})
    );
    assign flip = co[3];
`else
    wire [1:0] doa, dob, doc;
    noise_injector_tables #(.INIT(INIT_T0)) u_ram (
        .clk(clk), .we(we), .waddr(waddr), .di(di), .a(w[4:0]), .b(w[9:5]), .c(w[14:10]),
        .doa(doa), .dob(dob), .doc(doc)
    );
    wire p3 = (w[15] == t15) & ~t16;
    wire g3 = (~w[15] & t15) | t16;
    wire c0 = doa[1] ? 1'b0 : doa[0];
    wire c1 = dob[1] ? c0 : dob[0];
    wire c2 = doc[1] ? c1 : doc[0];
    assign flip = p3 ? c2 : g3;
`endif
endmodule

// noise_injector_lane_lcmp: flip = (w < threshold) on LUTs, for cores with few lanes (the RAM32M
// compare's shared table writer costs more than it saves there). NBNN_XC7_PRIMS: 2 bits per
// LUT6_2 (O6 = the pair is equal, the carry passes; O5 = the pair is below), the top pair also
// takes threshold[16], on two CARRY4.
module noise_injector_lane_lcmp (
    input  wire [15:0] w,
    input  wire [16:0] threshold,
    output wire        flip
);
`ifdef NBNN_XC7_PRIMS
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
    localparam [63:0] PAIR_INIT = pair_init(32);
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
    assign flip = co[7];
`else
    assign flip = ({1'b0, w} < threshold);
`endif
endmodule

// noise_injector_tables: behavioural RAM32M ports A, B, C (what Verilator runs; the state has the
// RAM32M model's names, u_ram.mem_a/b/c, so yosys' equiv passes match the two branches).
module noise_injector_tables #(
    parameter [63:0] INIT = 64'd0
) (
    input  wire       clk,
    input  wire       we,
    input  wire [4:0] waddr,
    input  wire [5:0] di,
    input  wire [4:0] a,
    input  wire [4:0] b,
    input  wire [4:0] c,
    output wire [1:0] doa,
    output wire [1:0] dob,
    output wire [1:0] doc
);
    reg [63:0] mem_a;
    reg [63:0] mem_b;
    reg [63:0] mem_c;
    initial begin
        mem_a = INIT;
        mem_b = INIT;
        mem_c = INIT;
    end
    always @(posedge clk) begin
        if (we) begin
            mem_a[2 * waddr +: 2] <= di[1:0];
            mem_b[2 * waddr +: 2] <= di[3:2];
            mem_c[2 * waddr +: 2] <= di[5:4];
        end
    end
    assign doa = mem_a[2 * a +: 2];
    assign dob = mem_b[2 * b +: 2];
    assign doc = mem_c[2 * c +: 2];
endmodule

// noise_injector_lane_out: one bit lane's output.
//   result  = mode 1: din ^ (hit & flip); 2: hit ? 0 : din; 3: hit ? 1 : din; 0: din
//   changed = result ^ din
// NBNN_XC7_PRIMS: result and changed are the O6 / O5 of one LUT6_2 of (din, flip, hit, mode).
module noise_injector_lane_out (
    input  wire        din,
    input  wire        flip,
    input  wire        hit,
    input  wire [1:0]  mode,
    output wire        result,
    output wire        changed
);
`ifdef NBNN_XC7_PRIMS
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
    localparam [63:0] OUT_INIT  = out_init(32);
    LUT6_2 #(.INIT(OUT_INIT)) u_sel (
        .O6(result), .O5(changed),
        .I0(din), .I1(flip), .I2(hit), .I3(mode[0]), .I4(mode[1]), .I5(1'b1)
    );
`else
    assign result  = (hit && mode == 2'd2) ? 1'b0 :
                     (hit && mode == 2'd3) ? 1'b1 : (din ^ (hit & flip & (mode == 2'd1)));
    assign changed = result ^ din;
`endif
endmodule

// noise_injector_mask_ram: DEPTH x 1 fault-mask bits of one PE slot, asynchronous read, written
// at the same address. NBNN_XC7_PRIMS: RAM32X1S / RAM64X1S / RAM128X1S / RAM256X1S (1, 1, 2, 4
// LUT sites) for DEPTH <= 256; deeper masks are left to yosys' LUTRAM inference. INIT all ones.
module noise_injector_mask_ram #(
    /* verilator lint_off UNUSEDPARAM */
    parameter integer DEPTH = 2,   // the behavioural branch holds 2^AW entries
    /* verilator lint_on UNUSEDPARAM */
    parameter integer AW    = 1
) (
    input  wire          clk,
    input  wire          we,
    input  wire          d,
    input  wire [AW-1:0] a,
    output wire          o
);
    wire [7:0] a8 = {{(8 > AW ? 8 - AW : 0){1'b0}}, a[(AW > 8 ? 8 : AW)-1:0]};
`ifdef NBNN_XC7_PRIMS
    generate
        if (DEPTH <= 32) begin : g_32
            RAM32X1S #(.INIT(32'hFFFFFFFF)) u_ram (
                .O(o), .A0(a8[0]), .A1(a8[1]), .A2(a8[2]), .A3(a8[3]), .A4(a8[4]), .D(d),
                .WCLK(clk), .WE(we));
        end else if (DEPTH <= 64) begin : g_64
            RAM64X1S #(.INIT(64'hFFFFFFFFFFFFFFFF)) u_ram (
                .O(o), .A0(a8[0]), .A1(a8[1]), .A2(a8[2]), .A3(a8[3]), .A4(a8[4]), .A5(a8[5]),
                .D(d), .WCLK(clk), .WE(we));
        end else if (DEPTH <= 128) begin : g_128
            RAM128X1S #(.INIT({128{1'b1}})) u_ram (
                .O(o), .A0(a8[0]), .A1(a8[1]), .A2(a8[2]), .A3(a8[3]), .A4(a8[4]), .A5(a8[5]),
                .A6(a8[6]), .D(d), .WCLK(clk), .WE(we));
        end else if (DEPTH <= 256) begin : g_256
            RAM256X1S #(.INIT({256{1'b1}})) u_ram (.O(o), .A(a8), .D(d), .WCLK(clk), .WE(we));
        end else begin : g_inf
            reg mem [0:(1 << AW) - 1];
            integer i;
            initial for (i = 0; i < (1 << AW); i = i + 1) mem[i] = 1'b1;
            always @(posedge clk) if (we) mem[a] <= d;
            assign o = mem[a];
        end
    endgenerate
`else
    reg [(1 << AW) - 1:0] mem;
    initial mem = {(1 << AW){1'b1}};
    always @(posedge clk) if (we) mem[a] <= d;
    assign o = mem[a];
    wire unused_a8 = ^a8;
`endif
endmodule
/* verilator lint_on DECLFILENAME */

`default_nettype wire
