// nbnn_swg_bin: sliding-window generator (FINN's ConvolutionInputGenerator, 'VALID', square
// kernel, no dilation) for a convolution's input map, in plain Verilog.
//
// Input: an NHWC map, IFM_H x IFM_W pixels of C channels, SIMD channels per beat (CF = C / SIMD
// beats per pixel, channel cf*SIMD + s at bit s). Output, FINN's order: for each output pixel
// (oy, ox) in raster order, its K x K window as K*K*CF beats in (ky, kx, cf) order, beat
// carrying channels cf*SIMD .. cf*SIMD + SIMD - 1 of input pixel (oy*S + ky, ox*S + kx). So the
// window vector, read LSB first, is FINN's im2col row: index (ky*K + kx)*C + c.
//
// Line buffer: R = K + S + SLACK rows of IFM_W x CF words (SIMD bits), addressed {row slot,
// column, fold} (powers of two per field; one memory, registered read: LUTRAM/BRAM-friendly).
// The writer stores each input row into the next free slot while the reader emits the windows
// of the current output row from its K rows, so the S rows the next output row needs arrive
// while this one is read. SLACK more rows let the writer run ahead where a row's windows take
// longer to send than the row takes to arrive (the reader then catches up at the next image's
// start, where it waits for K rows). `avail` = complete rows in the buffer from the reader's
// first row on; the writer may fill a slot while avail < R, the reader starts a row when
// avail >= K, and drops S rows at the end of each output row (at the image's last one: the
// image's remaining rows).
`default_nettype none

module nbnn_swg_bin #(
    parameter integer IFM_H  = 8,
    parameter integer IFM_W  = 8,
    parameter integer C      = 4,
    parameter integer SIMD   = 4,
    parameter integer K      = 3,
    parameter integer S      = 1,
    parameter integer SLACK  = 1     // rows beyond K + S: the writer's lead within an image
) (
    input  wire            ap_clk,
    input  wire            ap_rst_n,
    input  wire [SIMD-1:0] s_axis_tdata,
    input  wire            s_axis_tvalid,
    output wire            s_axis_tready,
    output wire [SIMD-1:0] m_axis_tdata,
    output reg             m_axis_tvalid,
    input  wire            m_axis_tready
);
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

    localparam integer CF    = C / SIMD;
    localparam integer OH    = (IFM_H - K) / S + 1;
    localparam integer OW    = (IFM_W - K) / S + 1;
    localparam integer R     = K + S + SLACK;
    localparam integer RW    = clog2(R);
    localparam integer XW    = clog2(IFM_W);
    localparam integer FW    = clog2(CF);
    localparam integer KW_   = clog2(K);
    localparam integer OYW   = clog2(OH);
    localparam integer OXW   = clog2(OW);
    localparam integer AVW   = clog2(R + 1) + 2;      // signed room for -IFM_H .. R
    localparam integer FB    = (CF > 1) ? FW : 0;     // fold bits of the address (none if CF = 1)
    localparam integer DEPTH = R << (XW + FB);
    localparam integer AW    = clog2(DEPTH);
    localparam integer LAST_DROP = IFM_H - (OH - 1) * S;
    // the constants at the widths they are compared at (clean -Wall lint)
    localparam integer X_END_I = IFM_W - 1, F_END_I = CF - 1, R_END_I = R - 1, K_END_I = K - 1;
    localparam integer OX_END_I = OW - 1, OY_END_I = OH - 1, LD_R_I = LAST_DROP % R;
    localparam [XW-1:0]  X_END  = X_END_I[XW-1:0];
    localparam [FW-1:0]  F_END  = F_END_I[FW-1:0];
    localparam [RW-1:0]  R_END  = R_END_I[RW-1:0];
    localparam [KW_-1:0] K_END  = K_END_I[KW_-1:0];
    localparam [OXW-1:0] OX_END = OX_END_I[OXW-1:0];
    localparam [OYW-1:0] OY_END = OY_END_I[OYW-1:0];
    localparam [RW:0]    R_W    = R[RW:0];
    localparam [RW:0]    S_W    = S[RW:0];
    localparam [RW:0]    LD_R_W = LD_R_I[RW:0];
    localparam [XW-1:0]  S_X    = S[XW-1:0];
    localparam signed [AVW-1:0] R_A  = R[AVW-1:0];
    localparam signed [AVW-1:0] K_A  = K[AVW-1:0];
    localparam signed [AVW-1:0] S_A  = S[AVW-1:0];
    localparam signed [AVW-1:0] LD_A = LAST_DROP[AVW-1:0];
    localparam signed [AVW-1:0] ONE_A  = 1;
    localparam signed [AVW-1:0] ZERO_A = 0;

    // ---------------------------------------------------------------- line buffer
    (* ram_style = "distributed" *)
    reg [SIMD-1:0] mem [0:DEPTH-1];

    function [AW-1:0] addr;
        input [RW-1:0] slot;
        input [XW-1:0] x;
        input [FW-1:0] f;
        begin
            addr = ({{(AW - RW){1'b0}}, slot} << (XW + FB)) | ({{(AW - XW){1'b0}}, x} << FB)
                   | {{(AW - FW){1'b0}}, f};
        end
    endfunction

    reg signed [AVW-1:0] avail;

    // ---------------------------------------------------------------- writer
    reg [RW-1:0] wslot;
    reg [XW-1:0] wx;
    reg [FW-1:0] wf;
    assign s_axis_tready = (avail < R_A);
    wire wr = s_axis_tvalid & s_axis_tready;
    wire wrow_done = wr && (wx == X_END) && (wf == F_END);

    always @(posedge ap_clk) begin
        if (wr) mem[addr(wslot, wx, wf)] <= s_axis_tdata;
    end

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            wslot <= {RW{1'b0}};
            wx <= {XW{1'b0}};
            wf <= {FW{1'b0}};
        end else if (wr) begin
            if (wf == F_END) begin
                wf <= {FW{1'b0}};
                if (wx == X_END) begin
                    wx <= {XW{1'b0}};
                    wslot <= (wslot == R_END) ? {RW{1'b0}} : wslot + 1'b1;
                end else begin
                    wx <= wx + 1'b1;
                end
            end else begin
                wf <= wf + 1'b1;
            end
        end
    end

    // ---------------------------------------------------------------- reader
    reg [RW-1:0]  bslot;                 // slot of the current output row's first input row
    reg [RW-1:0]  rslot;                 // slot of row ky
    reg [KW_-1:0] ky, kx;
    reg [FW-1:0]  rf;
    reg [OXW-1:0] ox;
    reg [OYW-1:0] oy;
    reg [XW-1:0]  col0;                  // ox * S
    reg [SIMD-1:0] rdata;

    wire adv      = ~m_axis_tvalid | m_axis_tready;
    wire mid_row  = (ky != {KW_{1'b0}}) || (kx != {KW_{1'b0}}) || (rf != {FW{1'b0}})
                    || (ox != {OXW{1'b0}});
    wire go       = adv && (mid_row || avail >= K_A);
    wire f_last   = (rf == F_END);
    wire kx_last  = (kx == K_END);
    wire ky_last  = (ky == K_END);
    wire px_last  = f_last && kx_last && ky_last;
    wire row_last = px_last && (ox == OX_END);
    wire img_last = row_last && (oy == OY_END);
    wire [XW-1:0] rcol = col0 + {{(XW - KW_){1'b0}}, kx};
    wire [RW:0] bs_s  = {1'b0, bslot} + S_W;
    wire [RW:0] bs_l  = {1'b0, bslot} + LD_R_W;
    wire [RW:0] rs_n  = {1'b0, rslot} + 1'b1;
    wire [RW:0] bs_s_w = (bs_s >= R_W) ? bs_s - R_W : bs_s;
    wire [RW:0] bs_l_w = (bs_l >= R_W) ? bs_l - R_W : bs_l;
    wire [RW:0] rs_n_w = (rs_n >= R_W) ? rs_n - R_W : rs_n;
    wire [RW-1:0] bs_s_next = bs_s_w[RW-1:0];
    wire [RW-1:0] bs_l_next = bs_l_w[RW-1:0];
    wire [RW-1:0] rs_next   = rs_n_w[RW-1:0];
    wire unused_hi = bs_s_w[RW] ^ bs_l_w[RW] ^ rs_n_w[RW];

    always @(posedge ap_clk) begin
        if (go) rdata <= mem[addr(rslot, rcol, rf)];
    end
    assign m_axis_tdata = rdata;

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            m_axis_tvalid <= 1'b0;
            avail <= {AVW{1'b0}};
            bslot <= {RW{1'b0}};
            rslot <= {RW{1'b0}};
            ky <= {KW_{1'b0}};
            kx <= {KW_{1'b0}};
            rf <= {FW{1'b0}};
            ox <= {OXW{1'b0}};
            oy <= {OYW{1'b0}};
            col0 <= {XW{1'b0}};
        end else begin
            if (adv) m_axis_tvalid <= go;
            avail <= avail + (wrow_done ? ONE_A : ZERO_A)
                     - ((go && row_last) ? (img_last ? LD_A : S_A) : ZERO_A);
            if (go) begin
                if (!f_last) begin
                    rf <= rf + 1'b1;
                end else begin
                    rf <= {FW{1'b0}};
                    if (!kx_last) begin
                        kx <= kx + 1'b1;
                    end else begin
                        kx <= {KW_{1'b0}};
                        if (!ky_last) begin
                            ky <= ky + 1'b1;
                            rslot <= rs_next;
                        end else begin
                            ky <= {KW_{1'b0}};
                            if (!row_last) begin
                                ox <= ox + 1'b1;
                                col0 <= col0 + S_X;
                                rslot <= bslot;
                            end else begin
                                ox <= {OXW{1'b0}};
                                col0 <= {XW{1'b0}};
                                oy <= img_last ? {OYW{1'b0}} : oy + 1'b1;
                                bslot <= img_last ? bs_l_next : bs_s_next;
                                rslot <= img_last ? bs_l_next : bs_s_next;
                            end
                        end
                    end
                end
            end
        end
    end
endmodule

`default_nettype wire
