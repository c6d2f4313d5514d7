// nbnn_maxpool_bin: K x K / stride K max-pool ('VALID', floor) on a binary NHWC stream, FINN's
// pooling window (depthwise ConvolutionInputGenerator) + Pool(MaxPool) in one plain-Verilog unit.
//
// On 1-bit BINARY/BIPOLAR values (stored as {0, 1}, 1 = the larger) the max of a window is the
// OR of its bits, exact. The window generator is a row of partial results: for input pixel
// (y, x), channel fold cf, the beat is ORed into acc[x / K][cf] (cleared by the window's first
// beat, at y % K = 0, x % K = 0) and the window's last beat (y % K = K-1, x % K = K-1) leaves as
// the output beat of pixel (y / K, x / K). Rows and columns past the last whole window are
// consumed and dropped, as FINN does. Output: NHWC, PE channels per beat, CF = C / PE beats per
// pixel, channel cf*PE + p at bit p; one input beat per cycle (II = 1).
`default_nettype none

module nbnn_maxpool_bin #(
    parameter integer IFM_H = 8,
    parameter integer IFM_W = 8,
    parameter integer C     = 4,
    parameter integer PE    = 4,
    parameter integer K     = 2
) (
    input  wire          ap_clk,
    input  wire          ap_rst_n,
    input  wire [PE-1:0] s_axis_tdata,
    input  wire          s_axis_tvalid,
    output wire          s_axis_tready,
    output reg  [PE-1:0] m_axis_tdata,
    output reg           m_axis_tvalid,
    input  wire          m_axis_tready
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

    localparam integer CF  = C / PE;
    localparam integer OH  = IFM_H / K;
    localparam integer OW  = IFM_W / K;
    localparam integer YW  = clog2(IFM_H);
    localparam integer XW  = clog2(IFM_W);
    localparam integer FW  = clog2(CF);
    localparam integer KW_ = clog2(K);
    localparam integer OXW = clog2(OW);
    localparam integer AW  = clog2(OW * CF);
    localparam integer F_END_I = CF - 1, X_END_I = IFM_W - 1, Y_END_I = IFM_H - 1;
    localparam integer K_END_I = K - 1, YIN_I = OH * K, XIN_I = OW * K;
    localparam [FW-1:0]  F_END = F_END_I[FW-1:0];
    localparam [XW-1:0]  X_END = X_END_I[XW-1:0];
    localparam [YW-1:0]  Y_END = Y_END_I[YW-1:0];
    localparam [KW_-1:0] K_END = K_END_I[KW_-1:0];
    localparam [YW:0]    Y_IN  = YIN_I[YW:0];
    localparam [XW:0]    X_IN  = XIN_I[XW:0];
    localparam [AW-1:0]  CF_M1 = F_END_I[AW-1:0];

    (* ram_style = "distributed" *)
    reg [PE-1:0] acc [0:OW*CF-1];

    reg [YW-1:0]  y;
    reg [XW-1:0]  x;
    reg [FW-1:0]  f;
    reg [KW_-1:0] ky, kx;
    reg [OXW-1:0] ox;
    reg [AW-1:0]  a;                      // ox * CF + f

    assign s_axis_tready = ~m_axis_tvalid | m_axis_tready;
    wire take    = s_axis_tvalid & s_axis_tready;
    wire in_win  = ({1'b0, y} < Y_IN) && ({1'b0, x} < X_IN);
    wire first   = (ky == {KW_{1'b0}}) && (kx == {KW_{1'b0}});
    wire last    = (ky == K_END) && (kx == K_END);
    wire [PE-1:0] merged = s_axis_tdata | (first ? {PE{1'b0}} : acc[a]);
    wire f_last  = (f == F_END);
    wire x_last  = (x == X_END);
    wire y_last  = (y == Y_END);

    always @(posedge ap_clk) begin
        if (take && in_win && !last) acc[a] <= merged;
    end

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            m_axis_tvalid <= 1'b0;
            y <= {YW{1'b0}};
            x <= {XW{1'b0}};
            f <= {FW{1'b0}};
            ky <= {KW_{1'b0}};
            kx <= {KW_{1'b0}};
            ox <= {OXW{1'b0}};
            a <= {AW{1'b0}};
        end else begin
            if (m_axis_tready) m_axis_tvalid <= 1'b0;
            if (take) begin
                if (in_win && last) begin
                    m_axis_tvalid <= 1'b1;
                    m_axis_tdata <= merged;
                end
                if (!f_last) begin
                    f <= f + 1'b1;
                    a <= a + 1'b1;
                end else begin
                    f <= {FW{1'b0}};
                    if (!x_last) begin
                        x <= x + 1'b1;
                        if (kx == K_END) begin
                            kx <= {KW_{1'b0}};
                            ox <= ox + 1'b1;
                            a <= a + 1'b1;             // next window's first fold
                        end else begin
                            kx <= kx + 1'b1;
                            a <= a - CF_M1;            // same window, fold 0 again
                        end
                    end else begin
                        x <= {XW{1'b0}};
                        kx <= {KW_{1'b0}};
                        ox <= {OXW{1'b0}};
                        a <= {AW{1'b0}};
                        if (y_last) begin
                            y <= {YW{1'b0}};
                            ky <= {KW_{1'b0}};
                        end else begin
                            y <= y + 1'b1;
                            ky <= (ky == K_END) ? {KW_{1'b0}} : ky + 1'b1;
                        end
                    end
                end
            end
        end
    end
endmodule

`default_nettype wire
