// noise_injector_axil: AXI-Lite register file + noise_injector_core, with byte-aligned streams.
//
// Register map version 4 (byte offsets, 32-bit registers; the same map is
// src/noisybnn/hw/registers.py and docs/injector.md). 0x000-0x01F hold no writable register and
// no access there has a side effect (Vitis puts ap_ctrl at 0x00-0x0C and numReps at 0x10 of a
// partition's control port):
//   0x000 ID          RO  0x4E424E49 ("NBNI")
//   0x004 PARAMS      RO  [31:24] map version (4), [23:16] BITS, [15:0] PE
//   0x008 NEURONS     RO  neurons of the layer
//   0x00C CAPS        RO  [0] counters present
//   0x020 CONTROL     WO  [0] enable, [2:1] mode (0 off, 1 flip, 2 stuck0, 3 stuck1);
//                         enable = 0 forces pass-through (the generator still advances)
//   0x024 THRESHOLD   WO  [16:0] flip threshold, p = threshold / 2^16 (0..65536; larger = 1);
//                         taken at the next reseed (like the seed)
//   0x028 SEED_LO     WO  seed word [31:0] (reads 0)
//   0x02C SEED_HI     WO  seed word [63:32] (reads 0)
//   0x030 RESEED      WO  writing 1 to bit 0 pulses reseed for one cycle (reads 0): reload the
//                         generator from the seed word and the compare tables from THRESHOLD
//                         (32 cycles, input stalled), clear the fold
//                         counter and both counters
//   0x040 BEATS_LO    RO  beats accepted since reseed [31:0]; reading it latches BEATS_HI
//   0x044 BEATS_HI    RO  [47:32] ([31:16] read 0), as latched by the last BEATS_LO read
//   0x048 CHANGES_LO  RO  bits changed since reseed [31:0]; reading it latches CHANGES_HI
//   0x04C CHANGES_HI  RO  [47:32] ([31:16] read 0), as latched by the last CHANGES_LO read
//   0x100 + 4k MASK_k WO  fault mask in fold order: neuron f*PE + p is bit f*PE2 + p (PE2 = PE
//                         rounded up to a power of two) of the words
// The counters are 48 bits and wrap at 2^48 (32 days of beats at 100 MHz). CONTROL, THRESHOLD,
// SEED and MASK are write-only and read 0: nothing reads them back (the driver writes the whole
// configuration for every run), and their read-back cost about one LUT per bit.
// Reset: CONTROL 0 (disabled), THRESHOLD 0, SEED 0, MASK all ones, and the core reseeds
// (the same sequence for a one-cycle and a long ap_rst_n pulse).
// Writes honour WSTRB. Unmapped reads return 0, unmapped writes are ignored; BRESP/RRESP OKAY.
//
// Streams are padded to whole bytes as FINN does at IP boundaries: the core sees the low
// PE*BITS bits; the pad bits of the output are 0, those of the input are ignored.
`default_nettype none

module noise_injector_axil #(
    parameter integer PE       = 1,
    parameter integer BITS     = 1,
    parameter integer NEURONS  = 1,
    parameter integer COUNTERS = 1,
    parameter integer ADDR_W   = 12,  // 4 KiB: masks up to (4096 - 256) * 8 = 30720 neurons
    parameter integer MASK_LUTRAM = -1, // core storage choices (-1: by size, the cheaper)
    parameter integer CMP_RAM     = -1
) (
    (* X_INTERFACE_PARAMETER = "ASSOCIATED_BUSIF s_axil:s_axis:m_axis, ASSOCIATED_RESET ap_rst_n" *)
    (* X_INTERFACE_INFO = "xilinx.com:signal:clock:1.0 ap_clk CLK" *)
    input  wire                 ap_clk,
    (* X_INTERFACE_PARAMETER = "POLARITY ACTIVE_LOW" *)
    input  wire                 ap_rst_n,
    // AXI-Lite slave
    input  wire [ADDR_W-1:0]    s_axil_awaddr,
    input  wire                 s_axil_awvalid,
    output wire                 s_axil_awready,
    input  wire [31:0]          s_axil_wdata,
    input  wire [3:0]           s_axil_wstrb,
    input  wire                 s_axil_wvalid,
    output wire                 s_axil_wready,
    output wire [1:0]           s_axil_bresp,
    output reg                  s_axil_bvalid,
    input  wire                 s_axil_bready,
    input  wire [ADDR_W-1:0]    s_axil_araddr,
    input  wire                 s_axil_arvalid,
    output wire                 s_axil_arready,
    output reg  [31:0]          s_axil_rdata,
    output wire [1:0]           s_axil_rresp,
    output reg                  s_axil_rvalid,
    input  wire                 s_axil_rready,
    // AXI-Stream in / out, byte aligned
    input  wire [((PE*BITS+7)/8)*8-1:0] s_axis_tdata,   // PE*BITS bits padded to bytes
    input  wire                 s_axis_tvalid,
    output wire                 s_axis_tready,
    output wire [((PE*BITS+7)/8)*8-1:0] m_axis_tdata,
    output wire                 m_axis_tvalid,
    input  wire                 m_axis_tready
);

    localparam integer LANES      = PE * BITS;
    localparam integer AXIS_W     = ((LANES + 7) / 8) * 8;
    localparam [31:0]  MASK_WORD0 = 32'h40;   // word address of MASK_0 (byte 0x100)
    localparam [7:0]   BITS_B     = BITS[7:0];
    localparam [15:0]  PE_H       = PE[15:0];
    localparam [31:0]  ID_VALUE   = 32'h4E424E49;
    localparam [7:0]   MAP_VERSION = 8'd4;
    localparam integer HI_W       = 16;   // counter bits above 32 (48-bit counters)

    // word addresses (byte offset / 4)
    localparam [ADDR_W-3:0] A_ID = 'h00, A_PARAMS = 'h01, A_NEURONS = 'h02, A_CAPS = 'h03,
                            A_CONTROL = 'h08, A_THRESHOLD = 'h09, A_SEED_LO = 'h0A,
                            A_SEED_HI = 'h0B, A_RESEED = 'h0C, A_BEATS_LO = 'h10,
                            A_BEATS_HI = 'h11, A_CHANGES_LO = 'h12, A_CHANGES_HI = 'h13;

    // ---------------------------------------------------------------- registers
    reg  [2:0]         control_q;
    reg  [16:0]        threshold_q;
    reg  [63:0]        seed_q;
    reg                reseed_q;
    reg  [HI_W-1:0]    beats_hi_q, changes_hi_q;
    wire [63:0]        beat_count, change_count;

    // ---------------------------------------------------------------- write channel
    // AW and W are taken together, one write per response. A MASK write is handed to the core
    // as it stands on the bus and completes when the core's mask writer has stored it (the bus
    // holds address and data meanwhile): with the LUTRAM mask up to 1 + 32 / PE2 cycles
    // (registers.mask_write_cycles).
    wire        wr_en   = s_axil_awvalid & s_axil_wvalid & ~s_axil_bvalid;
    wire [ADDR_W-3:0] wr_word   = s_axil_awaddr[ADDR_W-1:2];
    wire [31:0]       wr_word32 = {{(34 - ADDR_W){1'b0}}, wr_word};
    wire [3:0]        wstrb     = s_axil_wstrb;
    wire [31:0]       wdata     = s_axil_wdata;
    wire              is_mask   = (wr_word32 >= MASK_WORD0);
    wire              mask_wready;
    wire              mask_wvalid = wr_en & is_mask;
    wire              wr_fire   = wr_en & (~is_mask | mask_wready);
    assign s_axil_awready = wr_fire;
    assign s_axil_wready  = wr_fire;
    assign s_axil_bresp   = 2'b00;
    wire unused_addr_lsbs = ^{s_axil_awaddr[1:0], s_axil_araddr[1:0]};
    wire unused_cnt_msbs  = ^{beat_count[63:32 + HI_W], change_count[63:32 + HI_W]};
    wire unused_wr_word   = ^wr_word32[31:16];

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            control_q     <= 3'd0;
            threshold_q   <= 17'd0;
            seed_q        <= 64'd0;
            reseed_q      <= 1'b0;
            s_axil_bvalid <= 1'b0;
        end else begin
            reseed_q   <= 1'b0;
            if (s_axil_bvalid && s_axil_bready) s_axil_bvalid <= 1'b0;
            if (wr_fire) begin
                s_axil_bvalid <= 1'b1;
                case (wr_word)
                    A_CONTROL: if (wstrb[0]) control_q <= wdata[2:0];
                    A_THRESHOLD: begin
                        if (wstrb[0]) threshold_q[7:0]  <= wdata[7:0];
                        if (wstrb[1]) threshold_q[15:8] <= wdata[15:8];
                        if (wstrb[2]) threshold_q[16]   <= wdata[16];
                    end
                    A_SEED_LO: begin
                        if (wstrb[0]) seed_q[7:0]   <= wdata[7:0];
                        if (wstrb[1]) seed_q[15:8]  <= wdata[15:8];
                        if (wstrb[2]) seed_q[23:16] <= wdata[23:16];
                        if (wstrb[3]) seed_q[31:24] <= wdata[31:24];
                    end
                    A_SEED_HI: begin
                        if (wstrb[0]) seed_q[39:32] <= wdata[7:0];
                        if (wstrb[1]) seed_q[47:40] <= wdata[15:8];
                        if (wstrb[2]) seed_q[55:48] <= wdata[23:16];
                        if (wstrb[3]) seed_q[63:56] <= wdata[31:24];
                    end
                    A_RESEED: reseed_q <= wdata[0] & wstrb[0];
                    default: ;
                endcase
            end
        end
    end

    // ---------------------------------------------------------------- read channel
    wire              rd_en     = s_axil_arvalid & ~s_axil_rvalid;
    wire [ADDR_W-3:0] rd_word   = s_axil_araddr[ADDR_W-1:2];
    assign s_axil_arready = rd_en;
    assign s_axil_rresp   = 2'b00;

    reg [31:0] rd_data;
    always @(*) begin
        rd_data = 32'd0;
        case (rd_word)
            A_ID:         rd_data = ID_VALUE;
            A_PARAMS:     rd_data = {MAP_VERSION, BITS_B, PE_H};
            A_NEURONS:    rd_data = NEURONS;
            A_CAPS:       rd_data = {31'd0, COUNTERS != 0};
            A_BEATS_LO:   rd_data = beat_count[31:0];
            A_BEATS_HI:   rd_data = {{(32 - HI_W){1'b0}}, beats_hi_q};
            A_CHANGES_LO: rd_data = change_count[31:0];
            A_CHANGES_HI: rd_data = {{(32 - HI_W){1'b0}}, changes_hi_q};
            default:      rd_data = 32'd0;
        endcase
    end

    always @(posedge ap_clk) begin
        if (!ap_rst_n) begin
            s_axil_rvalid <= 1'b0;
            s_axil_rdata  <= 32'd0;
            beats_hi_q    <= {HI_W{1'b0}};
            changes_hi_q  <= {HI_W{1'b0}};
        end else begin
            if (s_axil_rvalid && s_axil_rready) s_axil_rvalid <= 1'b0;
            if (rd_en) begin
                s_axil_rvalid <= 1'b1;
                s_axil_rdata  <= rd_data;
                if (rd_word == A_BEATS_LO)   beats_hi_q   <= beat_count[32 +: HI_W];
                if (rd_word == A_CHANGES_LO) changes_hi_q <= change_count[32 +: HI_W];
            end
        end
    end

    // ---------------------------------------------------------------- core
    wire [LANES-1:0] core_out;
    wire [1:0]       mode = control_q[0] ? control_q[2:1] : 2'd0;

    noise_injector_core #(
        .PE(PE), .BITS(BITS), .NEURONS(NEURONS), .COUNTERS(COUNTERS),
        .MASK_WORD0(MASK_WORD0), .MASK_LUTRAM(MASK_LUTRAM), .CMP_RAM(CMP_RAM)
    ) u_core (
        .clk(ap_clk), .rst_n(ap_rst_n),
        .mode(mode), .threshold(threshold_q), .seed(seed_q),
        .reseed(reseed_q), .mask_wvalid(mask_wvalid), .mask_wready(mask_wready),
        .mask_word(wr_word32[15:0]), .mask_wdata(wdata), .mask_wstrb(wstrb),
        .s_axis_tdata(s_axis_tdata[LANES-1:0]), .s_axis_tvalid(s_axis_tvalid),
        .s_axis_tready(s_axis_tready),
        .m_axis_tdata(core_out), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
        .beat_count(beat_count), .change_count(change_count)
    );

    generate
        if (AXIS_W > LANES) begin : g_pad
            assign m_axis_tdata = {{(AXIS_W - LANES){1'b0}}, core_out};
            // the input pad bits carry nothing
            wire unused_pad = ^s_axis_tdata[AXIS_W-1:LANES];
        end else begin : g_nopad
            assign m_axis_tdata = core_out;
        end
    endgenerate

endmodule

`default_nettype wire
