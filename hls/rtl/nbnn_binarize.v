// nbnn_binarize: the accelerator's input layer, FINN's Thresholding on uint8 pixels with one
// threshold: bit k of the output = (pixel k >= T), PE pixels per beat (pixel k in bits
// [8k +: 8]). T is the integer threshold (ceil of FINN's float threshold, 0..256; 256 = never).
`default_nettype none

module nbnn_binarize #(
    parameter integer PE = 1,
    parameter integer T  = 128
) (
    input  wire            ap_clk,
    input  wire            ap_rst_n,
    input  wire [8*PE-1:0] s_axis_tdata,
    input  wire            s_axis_tvalid,
    output wire            s_axis_tready,
    output reg  [PE-1:0]   m_axis_tdata,
    output reg             m_axis_tvalid,
    input  wire            m_axis_tready
);
    localparam integer T_I = T;
    localparam [8:0] TH = T_I[8:0];
    integer k;
    assign s_axis_tready = ~m_axis_tvalid | m_axis_tready;
    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            m_axis_tvalid <= 1'b0;
        end else if (s_axis_tready) begin
            m_axis_tvalid <= s_axis_tvalid;
            for (k = 0; k < PE; k = k + 1)
                m_axis_tdata[k] <= {1'b0, s_axis_tdata[8*k +: 8]} >= TH;
        end
    end
endmodule

`default_nettype wire
