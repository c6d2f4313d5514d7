// nbnn_scale_bias: the output scaling after the last layer, y = MUL * acc + ADD per lane, as
// signed 32-bit logits (FINN's ElementwiseMul + ElementwiseAdd with scalar constants, which
// FINN builds in HLS; here one register stage of RTL). PE unsigned IW-bit lanes in, PE 32-bit
// lanes out.
`default_nettype none

module nbnn_scale_bias #(
    parameter integer PE  = 1,
    parameter integer IW  = 8,
    parameter integer MUL = 1,
    parameter integer ADD = 0
) (
    input  wire             ap_clk,
    input  wire             ap_rst_n,
    input  wire [IW*PE-1:0] s_axis_tdata,
    input  wire             s_axis_tvalid,
    output wire             s_axis_tready,
    output reg  [32*PE-1:0] m_axis_tdata,
    output reg              m_axis_tvalid,
    input  wire             m_axis_tready
);
    localparam signed [31:0] M = MUL;
    localparam signed [31:0] A = ADD;
    integer k;
    assign s_axis_tready = ~m_axis_tvalid | m_axis_tready;
    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            m_axis_tvalid <= 1'b0;
        end else if (s_axis_tready) begin
            m_axis_tvalid <= s_axis_tvalid;
            for (k = 0; k < PE; k = k + 1)
                m_axis_tdata[32*k +: 32] <= $signed({{(32 - IW){1'b0}}, s_axis_tdata[IW*k +: IW]}) * M + A;
        end
    end
endmodule

`default_nettype wire
