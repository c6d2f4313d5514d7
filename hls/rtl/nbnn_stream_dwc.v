// nbnn_stream_dwc: AXI-Stream data-width converter, IW-bit beats in, OW-bit beats out, any
// ratio (FINN's StreamingDataWidthConverter role). Bits leave in the order they arrived, LSB
// first: a buffer of IW + OW bits takes a beat while it holds at most OW bits once this cycle's
// output beat is out, and gives one while it holds at least OW, so both sides can move every
// cycle (full rate either way).
`default_nettype none

module nbnn_stream_dwc #(
    parameter integer IW = 8,
    parameter integer OW = 8
) (
    input  wire          ap_clk,
    input  wire          ap_rst_n,
    input  wire [IW-1:0] s_axis_tdata,
    input  wire          s_axis_tvalid,
    output wire          s_axis_tready,
    output wire [OW-1:0] m_axis_tdata,
    output wire          m_axis_tvalid,
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

    localparam integer B   = IW + OW;
    localparam integer CW  = clog2(B + 1);
    localparam integer  IW_I = IW;
    localparam integer  OW_I = OW;
    localparam [CW-1:0] IWC = IW_I[CW-1:0];
    localparam [CW-1:0] OWC = OW_I[CW-1:0];

    reg  [B-1:0]  bits_q;
    reg  [CW-1:0] count;
    reg  [B-1:0]  shifted, merged;
    reg  [CW-1:0] c1;

    wire take = s_axis_tvalid & s_axis_tready;
    wire give = m_axis_tvalid & m_axis_tready;
    // room for a beat once this cycle's output beat has left (a path from m_axis_tready, as
    // AXI-Stream allows): without it a beat that fills the buffer past OW bits costs a bubble
    assign s_axis_tready = (c1 <= OWC);
    assign m_axis_tvalid = (count >= OWC);
    assign m_axis_tdata  = bits_q[OW-1:0];

    always @(*) begin
        c1 = give ? count - OWC : count;
    end

    always @(*) begin
        shifted = give ? (bits_q >> OW) : bits_q;
        merged = shifted;
        if (take) merged = shifted | ({{OW{1'b0}}, s_axis_tdata} << c1);
    end

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            bits_q <= {B{1'b0}};
            count <= {CW{1'b0}};
        end else begin
            bits_q <= merged;
            count <= take ? c1 + IWC : c1;
        end
    end
endmodule

`default_nettype wire
