// nbnn_mvau_bin: FINN's binary (XNOR-popcount) matrix-vector-threshold unit, in RTL.
//
// Computes, for one input vector x of MW bits per image, MH neurons y[n] = matches(w[n], x)
// = popcount(~(w[n] ^ x)), folded like FINN's MVAU: SIMD inputs x PE neurons per cycle,
// SF = MW / SIMD input beats, NF = MH / PE output beats, NF * SF cycles per vector (II = 1 per
// fold step). With THRESH = 1 the output bit of neuron n is (y[n] >= T[n]) (FINN's BIPOLAR /
// BINARY activation: 1 = +1); with THRESH = 0 it is the accumulator y[n] itself, ACC_W bits
// (the last layer, whose integer accumulators are the logits before the output scaling).
//
// Streams (FINN packing): input beat sf carries x[sf*SIMD + s] at bit s; output beat nf carries
// neuron nf*PE + p at lane p (lane p is bit p, or bits [p*ACC_W +: ACC_W]).
// Weights: WFILE ($readmemh), NF*SF words of PE*SIMD bits; word nf*SF + sf, bit p*SIMD + s is
// w[nf*PE + p][sf*SIMD + s]. Thresholds: TFILE, NF words of PE*THR_W bits, lane p = T[nf*PE+p].
// The input vector is read from the stream during the first neuron fold and replayed from a
// buffer for the others, as FINN's HLS MVAU does.
//
// Pipeline: fetch (weight/threshold ROM read, input select) -> accumulate -> output register.
// The unit stalls only when a finished output meets a full output register.
`default_nettype none

module nbnn_mvau_bin #(
    parameter integer MW     = 8,
    parameter integer MH     = 4,
    parameter integer SIMD   = 8,
    parameter integer PE     = 4,
    parameter integer THRESH = 1,
    parameter integer ACC_W  = 4,           // >= max(2, clog2(MW + 1))
    parameter        WFILE  = "",          // "" (the default): no ROM contents (lint, elaboration)
    parameter        TFILE  = "",
    parameter integer OUT_W  = (THRESH != 0) ? PE : PE * ACC_W
) (
    input  wire              ap_clk,
    input  wire              ap_rst_n,
    input  wire [SIMD-1:0]   s_axis_tdata,
    input  wire              s_axis_tvalid,
    output wire              s_axis_tready,
    output reg  [OUT_W-1:0]  m_axis_tdata,
    output reg               m_axis_tvalid,
    input  wire              m_axis_tready
);

    localparam integer SF     = MW / SIMD;
    localparam integer NF     = MH / PE;
    localparam integer WDEPTH = NF * SF;
    localparam integer WA_W   = clog2(WDEPTH);
    localparam integer SF_W   = clog2(SF);
    localparam integer NF_W   = clog2(NF);
    localparam integer THR_W  = ACC_W + 1;   // thresholds 0..MW+1
    localparam integer SF_M1  = SF - 1;
    localparam integer NF_M1  = NF - 1;
    localparam [SF_W-1:0] SF_END = SF_M1[SF_W-1:0];
    localparam [NF_W-1:0] NF_END = NF_M1[NF_W-1:0];

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

    // ---------------------------------------------------------------- constants (ROMs)
    (* rom_style = "block", ram_style = "block" *)
    reg [PE*SIMD-1:0]  wmem [0:WDEPTH-1];
    reg [PE*THR_W-1:0] tmem [0:NF-1];
    initial begin
        if (WFILE != "") $readmemh(WFILE, wmem);
        if (THRESH != 0 && TFILE != "") $readmemh(TFILE, tmem);
    end

    // ---------------------------------------------------------------- fetch stage
    reg  [SF_W-1:0] sf;
    reg  [NF_W-1:0] nf;
    reg  [WA_W-1:0] waddr;
    reg  [SIMD-1:0] ibuf [0:SF-1];

    reg                 v1, first1, last1;
    reg  [SIMD-1:0]     x1;
    reg  [PE*SIMD-1:0]  w1;
    reg  [PE*THR_W-1:0] t1;

    wire from_stream = (nf == {NF_W{1'b0}});
    wire out_busy    = m_axis_tvalid & ~m_axis_tready;
    wire adv         = ~(v1 & last1 & out_busy);          // stall only on a full output
    wire step        = adv & (~from_stream | s_axis_tvalid);
    assign s_axis_tready = adv & from_stream;

    wire [SIMD-1:0] x_in = from_stream ? s_axis_tdata : ibuf[sf];
    wire sf_last = (sf == SF_END);
    wire nf_last = (nf == NF_END);

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            sf <= {SF_W{1'b0}};
            nf <= {NF_W{1'b0}};
            waddr <= {WA_W{1'b0}};
            v1 <= 1'b0;
            first1 <= 1'b0;
            last1 <= 1'b0;
        end else if (adv) begin
            v1 <= step;
            if (step) begin
                first1 <= (sf == {SF_W{1'b0}});
                last1  <= sf_last;
                if (sf_last) begin
                    sf <= {SF_W{1'b0}};
                    nf <= nf_last ? {NF_W{1'b0}} : nf + 1'b1;
                end else begin
                    sf <= sf + 1'b1;
                end
                waddr <= (sf_last && nf_last) ? {WA_W{1'b0}} : waddr + 1'b1;
            end
        end
    end

    // ROM reads and the input select are registered (block-RAM style: address in, data out)
    always @(posedge ap_clk) begin
        if (adv) begin
            w1 <= wmem[waddr];
            t1 <= tmem[nf];
            x1 <= x_in;
            if (step && from_stream) ibuf[sf] <= s_axis_tdata;
        end
    end

    // ---------------------------------------------------------------- accumulate stage
    reg  [ACC_W-1:0] acc [0:PE-1];
    reg  [ACC_W-1:0] acc_next [0:PE-1];
    reg  [ACC_W-1:0] pc;
    wire [OUT_W-1:0] result;
    integer p, s;
    always @(*) begin
        for (p = 0; p < PE; p = p + 1) begin
            pc = {ACC_W{1'b0}};
            for (s = 0; s < SIMD; s = s + 1)
                pc = pc + {{(ACC_W - 1){1'b0}}, ~(w1[p*SIMD + s] ^ x1[s])};
            acc_next[p] = (first1 ? {ACC_W{1'b0}} : acc[p]) + pc;
        end
    end

    genvar g;
    generate
        for (g = 0; g < PE; g = g + 1) begin : g_lane
            if (THRESH != 0) begin : g_thr
                assign result[g] = {1'b0, acc_next[g]} >= t1[g*THR_W +: THR_W];
            end else begin : g_acc
                assign result[g*ACC_W +: ACC_W] = acc_next[g];
                wire unused_thr = ^t1[g*THR_W +: THR_W];
            end
        end
    endgenerate

    integer q;
    always @(posedge ap_clk) begin
        if (adv && v1) begin
            for (q = 0; q < PE; q = q + 1) acc[q] <= acc_next[q];
        end
    end

    // ---------------------------------------------------------------- output register
    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            m_axis_tvalid <= 1'b0;
        end else begin
            if (m_axis_tready) m_axis_tvalid <= 1'b0;
            if (adv && v1 && last1) begin
                m_axis_tvalid <= 1'b1;
                m_axis_tdata  <= result;
            end
        end
    end

endmodule

`default_nettype wire
