"""AXI-Lite register map (version 4) of the noise injector (`hls/rtl/noise_injector_axil.v`).

The host driver configures an injector with the writes of `encode(cfg)`, in that order, at the
start of every run, and reads the counters with `read_counters`. Offsets are byte offsets of
32-bit registers; docs/injector.md has the same table. Drivers use these names, never literals.

0x000-0x01F hold no writable register, and no access there has a side effect: FINN's Vitis
packaging puts an ap_ctrl block at 0x00-0x0C and a `numReps` argument at 0x10 of a partition's
AXI-Lite port, and writes to those land here harmlessly.

==========  ======  ==  =================================================================
offset      name    rw  meaning
==========  ======  ==  =================================================================
0x000       ID      ro  `ID_VALUE` (ASCII "NBNI")
0x004       PARAMS  ro  [31:24] map version, [23:16] BITS, [15:0] PE
0x008       NEURONS ro  neurons of the layer
0x00C       CAPS    ro  [0] counters present
0x020       CONTROL wo  [0] enable, [2:1] mode; enable = 0 forces pass-through (reads 0)
0x024       THRESH  wo  [16:0] flip threshold, p = threshold / 2^16 (values > 2^16 act as 2^16);
                        taken at the next RESEED (like SEED): the reseed sequence programs the
                        lanes' compare tables from it
0x028/02C   SEED    wo  seed word [31:0] / [63:32] = `injector.seed_word(seed)` (read 0)
0x030       RESEED  wo  write 1: reload the generator from SEED and the compare tables from
                        THRESHOLD (`RESEED_CYCLES` = 32), clear fold counter and counters
0x040/044   BEATS   ro  beats accepted since reseed; reading LO latches HI ([15:0] = bits 47:32)
0x048/04C   CHANGES ro  bits changed since reseed; reading LO latches HI ([15:0] = bits 47:32)
0x100+4k    MASK_k  wo  fault mask in fold order (`mask_bit_index`): neuron f * PE + p is bit
                        B = f * PE2 + p (PE2: PE rounded up to a power of two), word B / 32
                        (reads 0); with NF > 1 the mask is in LUTRAM and a write completes
                        (BVALID) after `mask_write_cycles` cycles, input stalled
==========  ======  ==  =================================================================

The host writes THRESHOLD, SEED and MASK only while the stream is idle, and THRESHOLD and SEED
before RESEED (`encode` is issued before a run): THRESHOLD and SEED take effect at the RESEED, a
MASK write stalls the stream while the injector stores it, so a beat never meets half a mask.
A reset acts as a RESEED with the reset values (THRESHOLD 0, SEED 0), and fills the mask with
ones, before the injector accepts a beat (`reset_cycles`).

Version 3 (against 2): CONTROL, THRESHOLD and MASK are write-only, and the counters are 48 bits
(`COUNTER_BITS`; they wrap at 2^48, 32 days of beats at 100 MHz): the read-back cost about a LUT
per bit, and the driver writes the whole configuration for every run and never reads it back.
Version 4 (against 3): the mask words are in fold order (whole folds per word, or one 32-slot
group of a fold), so the LUTRAM mask stores a word one fold address a cycle, all PE slots at
once, instead of walking it neuron by neuron (the walker's jump logic is gone). At NF = 1 the
layout is the neuron-major one of version 3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from noisybnn.hw.injector import InjectorConfig, Mode, seed_word

ID = 0x000
PARAMS = 0x004
NEURONS = 0x008
CAPS = 0x00C
CONTROL = 0x020
THRESHOLD = 0x024
SEED_LO = 0x028
SEED_HI = 0x02C
RESEED = 0x030
BEATS_LO = 0x040
BEATS_HI = 0x044
CHANGES_LO = 0x048
CHANGES_HI = 0x04C
MASK_BASE = 0x100

#: Value of the ID register.
ID_VALUE = 0x4E424E49
#: Version of this register map, PARAMS[31:24].
MAP_VERSION = 4
#: Width of the BEATS and CHANGES counters (they wrap at 2^COUNTER_BITS).
COUNTER_BITS = 48
#: CONTROL bits.
CONTROL_ENABLE = 1 << 0
CONTROL_MODE_SHIFT = 1
#: Bytes of address space with the default ADDR_W = 12 of the RTL.
ADDR_SPACE = 0x1000
#: Mask bits (`mask_bits`) that fit the default address space: a layer of up to this many
#: neurons fits when its PE is a power of two.
MAX_MASK_BITS = (ADDR_SPACE - MASK_BASE) * 8
#: Offsets a Vitis-packaged partition's control port uses itself (ap_ctrl block, numReps):
#: none of them is a writable register of the injector, and accesses there have no effect.
VITIS_RESERVED = (0x000, 0x004, 0x008, 0x00C, 0x010)
#: Clock cycles a RESEED takes (input stalled): one counter programs the 32 entries of every
#: lane's compare tables from THRESHOLD; in cycles 12-15 of them the seed word is loaded, in
#: 16-31 the generator warms up (16 steps).
RESEED_CYCLES = 32
#: Order in which `read_counters` reads, so that each HI word is the one latched by its LO read.
COUNTER_READ_ORDER = (BEATS_LO, BEATS_HI, CHANGES_LO, CHANGES_HI)

_WORD = 0xFFFFFFFF


def _check_fold(pe: int, neurons: int) -> int:
    if pe < 1 or neurons < 1 or neurons % pe:
        raise ValueError(f"pe={pe} must divide neurons={neurons} (both >= 1)")
    return neurons // pe


def slot_stride(pe: int) -> int:
    """PE2: PE rounded up to a power of two, the mask bits one fold takes."""
    if pe < 1:
        raise ValueError(f"pe must be >= 1, got {pe}")
    return 1 << (pe - 1).bit_length()


def mask_bit_index(pe: int, neuron: int) -> int:
    """Bit of the mask words that holds `neuron` (fold f = neuron // pe, slot p = neuron % pe):
    f * PE2 + p, so a 32-bit word holds whole folds (or one 32-slot group of a fold)."""
    return (neuron // pe) * slot_stride(pe) + neuron % pe


def mask_bits(pe: int, neurons: int) -> int:
    """Bits the mask words of a layer span (NF folds of PE2 bits)."""
    return _check_fold(pe, neurons) * slot_stride(pe)


def mask_words(pe: int, neurons: int) -> int:
    """Number of 32-bit MASK registers of a layer of `neurons` neurons at `pe` per beat."""
    return (mask_bits(pe, neurons) + 31) // 32


def check_mask_fits(pe: int, neurons: int) -> None:
    """Raise ValueError naming the layer if its mask does not fit the register space."""
    if mask_bits(pe, neurons) > MAX_MASK_BITS:
        raise ValueError(
            f"a layer of {neurons} neurons at PE {pe} needs {mask_words(pe, neurons)} mask words, "
            f"beyond the {ADDR_SPACE:#x}-byte register space ({MAX_MASK_BITS // 32} words); "
            f"build the IP with a larger ADDR_W"
        )


def mask_write_cycles(pe: int, neurons: int, word: int) -> int:
    """Upper bound of the cycles a write of MASK register `word` holds the bus (and stalls the
    stream): 1 when the mask is in flip-flops; with the LUTRAM mask (NF > 1) the cycle it arrives
    plus one per fold address it holds (32 / PE2 folds, at most the RAM's 2^clog2(NF) addresses,
    at least 1), for every word alike."""
    nf = _check_fold(pe, neurons)
    if nf == 1:
        return 1
    folds_per_word = max(1, 32 // slot_stride(pe))
    return 1 + min(folds_per_word, 1 << (nf - 1).bit_length())


def reset_cycles(pe: int, neurons: int) -> int:
    """Cycles after reset before the first beat is accepted: the longer of the reseed sequence
    (which programs the compare tables) and the mask fill (NF addresses, NF > 1)."""
    nf = _check_fold(pe, neurons)
    return max(RESEED_CYCLES, nf if nf > 1 else 0)


def mask_offset(word: int) -> int:
    """Byte offset of MASK register `word`."""
    return MASK_BASE + 4 * word


def control_value(mode: Mode | str | int, enable: bool = True) -> int:
    """CONTROL register value for a mode."""
    return (CONTROL_ENABLE if enable else 0) | (int(Mode.parse(mode)) << CONTROL_MODE_SHIFT)


def mask_values(cfg: InjectorConfig) -> list[int]:
    """The MASK register words of a configuration (None = every neuron set), in fold order
    (`mask_bit_index`); bits of no neuron are 0."""
    check_mask_fits(cfg.pe, cfg.neurons)
    words = [0] * mask_words(cfg.pe, cfg.neurons)
    for n, bit in enumerate(cfg.mask_array()):
        if bit:
            b = mask_bit_index(cfg.pe, n)
            words[b // 32] |= 1 << (b % 32)
    return words


def encode(cfg: InjectorConfig) -> list[tuple[int, int]]:
    """(offset, value) writes that configure an injector for one run, in the order to issue them.

    1. CONTROL = 0: injection off while the configuration changes (the stream still flows);
    2. THRESHOLD, SEED_LO, SEED_HI (the seed word splitmix64(cfg.seed)), then every MASK word;
    3. RESEED = 1: reload the generator from the seed word and the compare tables from
       THRESHOLD, reset the fold counter and the counters (the injector stalls its input for
       `RESEED_CYCLES` cycles meanwhile); THRESHOLD and SEED take effect only here;
    4. CONTROL = enable | mode.

    Issue them while the stream is idle, before the run's first beat: the run's flips then depend
    only on (seed, beat index), so identical runs give identical flips. With NF > 1 every MASK
    write stalls the stream while the injector stores it (`mask_write_cycles`); its bus response
    waits for it.
    """
    word = seed_word(cfg.seed)
    writes = [
        (CONTROL, 0),
        (THRESHOLD, int(cfg.threshold)),
        (SEED_LO, word & _WORD),
        (SEED_HI, (word >> 32) & _WORD),
    ]
    writes += [(mask_offset(k), w) for k, w in enumerate(mask_values(cfg))]
    writes += [(RESEED, 1), (CONTROL, control_value(cfg.mode))]
    return writes


@dataclass(frozen=True)
class Counters:
    """Counters since the last reseed."""

    beats: int  #: beats accepted
    bits_changed: int  #: stream bits changed by the injector (the reference's flip count)


def decode_counters(words: Sequence[int]) -> Counters:
    """Counters from the four words read in `COUNTER_READ_ORDER` (BEATS_LO, BEATS_HI, ...)."""
    if len(words) != 4:
        raise ValueError(f"expected 4 counter words in COUNTER_READ_ORDER, got {len(words)}")
    for w in words:
        if not 0 <= int(w) <= _WORD:
            raise ValueError(f"counter words are 32-bit unsigned, got {w!r}")
    lo_b, hi_b, lo_c, hi_c = (int(w) for w in words)
    return Counters(beats=lo_b | hi_b << 32, bits_changed=lo_c | hi_c << 32)


def read_counters(read: Callable[[int], int]) -> Counters:
    """Read both counters with `read(offset) -> int` (e.g. a PYNQ MMIO read), LO before HI."""
    return decode_counters([read(off) for off in COUNTER_READ_ORDER])


@dataclass(frozen=True)
class HardwareParams:
    """What the read-only registers say about the synthesised injector."""

    pe: int
    bits: int
    neurons: int
    version: int
    counters: bool


def decode_params(
    id_word: int, params_word: int, neurons_word: int, caps_word: int
) -> HardwareParams:
    """Decode ID, PARAMS, NEURONS, CAPS; raise ValueError if ID or the map version is not ours."""
    if id_word != ID_VALUE:
        raise ValueError(
            f"ID register reads {id_word:#010x}, expected {ID_VALUE:#010x}: the address does not "
            "point at a noisybnn noise injector"
        )
    version = (params_word >> 24) & 0xFF
    if version != MAP_VERSION:
        raise ValueError(
            f"injector register map version {version}, this driver knows version {MAP_VERSION}"
        )
    return HardwareParams(
        pe=params_word & 0xFFFF,
        bits=(params_word >> 16) & 0xFF,
        neurons=neurons_word,
        version=version,
        counters=bool(caps_word & 1),
    )


def check_config(hw: HardwareParams, cfg: InjectorConfig) -> None:
    """Raise ValueError if a configuration does not fit the synthesised injector."""
    got = (cfg.pe, cfg.bits, cfg.neurons)
    want = (hw.pe, hw.bits, hw.neurons)
    if got != want:
        raise ValueError(
            f"configuration has (pe, bits, neurons) = {got} but the injector was built for "
            f"{want}; rebuild the bitstream or fix the configuration"
        )
