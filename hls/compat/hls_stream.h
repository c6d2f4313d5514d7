// Minimal stand-in for Xilinx's <hls_stream.h> (see ap_int.h next to it): an unbounded FIFO with
// read(), write(), empty() and size(). Reading an empty stream aborts, where Vitis' C simulation
// would block forever.
#ifndef NOISYBNN_COMPAT_HLS_STREAM_H
#define NOISYBNN_COMPAT_HLS_STREAM_H

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <deque>

namespace hls {

template <typename T>
class stream {
  public:
    stream() {}
    explicit stream(const char *) {}
    void write(const T &x) { q_.push_back(x); }
    T read() {
        if (q_.empty()) {
            std::fprintf(stderr, "hls::stream: read from an empty stream\n");
            std::abort();
        }
        T x = q_.front();
        q_.pop_front();
        return x;
    }
    void read(T &x) { x = read(); }
    bool empty() const { return q_.empty(); }
    std::size_t size() const { return q_.size(); }

  private:
    stream(const stream &);
    stream &operator=(const stream &);
    std::deque<T> q_;
};

}  // namespace hls

#endif
