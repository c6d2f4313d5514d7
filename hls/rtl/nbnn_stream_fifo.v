// nbnn_stream_fifo: AXI-Stream FIFO between two layers (FINN's StreamingFIFO role).
//
// DEPTH entries in a circular buffer (LUTRAM for yosys); tready and tvalid are registers'
// functions only (count), so a FIFO cuts every combinational path between its neighbours.
`default_nettype none

module nbnn_stream_fifo #(
    parameter integer W     = 8,
    parameter integer DEPTH = 4    // >= 2
) (
    input  wire         ap_clk,
    input  wire         ap_rst_n,
    input  wire [W-1:0] s_axis_tdata,
    input  wire         s_axis_tvalid,
    output wire         s_axis_tready,
    output wire [W-1:0] m_axis_tdata,
    output wire         m_axis_tvalid,
    input  wire         m_axis_tready
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

    localparam integer AW = clog2(DEPTH);
    localparam integer  D_M1 = DEPTH - 1;
    localparam integer  D_I  = DEPTH;
    localparam [AW:0]   FULL = D_I[AW:0];
    localparam [AW-1:0] LAST = D_M1[AW-1:0];

    reg [W-1:0]  mem [0:DEPTH-1];
    reg [AW-1:0] rd, wr;
    reg [AW:0]   count;

    wire push = s_axis_tvalid & s_axis_tready;
    wire pop  = m_axis_tvalid & m_axis_tready;
    assign s_axis_tready = (count != FULL);
    assign m_axis_tvalid = (count != {(AW + 1){1'b0}});
    assign m_axis_tdata  = mem[rd];

    always @(posedge ap_clk) begin
        if (push) mem[wr] <= s_axis_tdata;
    end

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            rd <= {AW{1'b0}};
            wr <= {AW{1'b0}};
            count <= {(AW + 1){1'b0}};
        end else begin
            if (push) wr <= (wr == LAST) ? {AW{1'b0}} : wr + 1'b1;
            if (pop)  rd <= (rd == LAST) ? {AW{1'b0}} : rd + 1'b1;
            if (push && !pop) count <= count + 1'b1;
            else if (pop && !push) count <= count - 1'b1;
        end
    end
endmodule

`default_nettype wire
