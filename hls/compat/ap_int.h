// Minimal stand-in for Xilinx's <ap_int.h>, so that hls/noise_injector.hpp compiles with plain g++
// (tests/hw/test_hls_cpp.py). Only what the injector uses: ap_uint<N>, construction from and
// conversion to integers (N <= 64), and bit access x[i] (any N). Vitis HLS uses its own header;
// never put this directory on the include path of a Vitis run.
#ifndef NOISYBNN_COMPAT_AP_INT_H
#define NOISYBNN_COMPAT_AP_INT_H

#include <cstdint>

namespace ap_compat {

// Reference to one bit of a word array, as ap_uint's x[i] returns.
class bit_ref {
  public:
    bit_ref(uint64_t *word, int bit) : word_(word), bit_(bit) {}
    operator bool() const { return (*word_ >> bit_) & 1u; }
    bit_ref &operator=(bool value) {
        const uint64_t m = uint64_t(1) << bit_;
        *word_ = value ? (*word_ | m) : (*word_ & ~m);
        return *this;
    }
    bit_ref &operator=(const bit_ref &other) { return *this = bool(other); }

  private:
    uint64_t *word_;
    int bit_;
};

template <int N, bool Wide = (N > 64)>
class uint_base;

// Up to 64 bits: one masked word, converts implicitly to and from uint64_t like ap_uint does.
template <int N>
class uint_base<N, false> {
    static_assert(N >= 1, "ap_uint width must be >= 1");

  public:
    static const uint64_t kMask = N == 64 ? ~uint64_t(0) : ((uint64_t(1) << (N % 64)) - 1);
    uint_base() : v_(0) {}
    uint_base(uint64_t x) : v_(x & kMask) {}
    operator uint64_t() const { return v_; }
    bool operator[](int i) const { return (v_ >> i) & 1u; }
    bit_ref operator[](int i) { return bit_ref(&v_, i); }

  private:
    uint64_t v_;
};

// Wider: an array of words with bit access only (the injector handles wide beats lane by lane).
template <int N>
class uint_base<N, true> {
  public:
    static const int kWords = (N + 63) / 64;
    uint_base() : w_() {}
    uint_base(uint64_t x) : w_() { w_[0] = x; }
    bool operator[](int i) const { return (w_[i / 64] >> (i % 64)) & 1u; }
    bit_ref operator[](int i) { return bit_ref(&w_[i / 64], i % 64); }
    bool operator==(const uint_base &o) const {
        for (int k = 0; k < kWords; ++k)
            if (w_[k] != o.w_[k]) return false;
        return true;
    }

  private:
    uint64_t w_[kWords];
};

}  // namespace ap_compat

template <int N>
class ap_uint : public ap_compat::uint_base<N> {
  public:
    ap_uint() {}
    ap_uint(uint64_t x) : ap_compat::uint_base<N>(x) {}
};

#endif
