// A UDP socket for heartbeats that never wakes the event loop: the speaker reads what queued up
// once per tick (recvmmsg) and sends a round's packets in one call (sendmmsg). With Node's dgram
// every datagram in and out was its own event-loop wakeup, which at 40 ms rounds was most of an
// idle speaker's CPU. Each datagram carries the kernel's arrival timestamp, so the membership
// still sees when it arrived, not when the tick read it.
#include <napi.h>

#include "netaddr.h"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

using floatip::ErrnoError;
using floatip::FormatAddress;
using floatip::ParseAddress;
using floatip::Seconds;

constexpr int kBatch = 64;
// Larger than the 1,200-byte heartbeat: a bigger datagram is reported as truncated, never parsed.
constexpr size_t kSlot = 2048;

class UdpSocket : public Napi::ObjectWrap<UdpSocket> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "UdpSocket",
                       {InstanceMethod<&UdpSocket::Receive>("receive"), InstanceMethod<&UdpSocket::Send>("send"),
                        InstanceMethod<&UdpSocket::Close>("close")});
  }

  // new UdpSocket(family 4|6, bindAddress, port): non-blocking, SO_REUSEADDR, kernel timestamps.
  explicit UdpSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpSocket>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber() || !info[1].IsString() || !info[2].IsNumber()) {
      throw Napi::TypeError::New(env, "UdpSocket(family, bindAddress, port)");
    }
    const int family = info[0].As<Napi::Number>().Int32Value() == 6 ? AF_INET6 : AF_INET;
    const std::string address = info[1].As<Napi::String>().Utf8Value();
    const int port = info[2].As<Napi::Number>().Int32Value();
    sockaddr_storage addr;
    socklen_t len = 0;
    if (!ParseAddress(address, port, addr, len) || addr.ss_family != family) {
      throw Napi::TypeError::New(env, "UdpSocket: invalid bind address \"" + address + "\"");
    }
    fd_ = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw ErrnoError(env, "UdpSocket: socket", errno);
    int one = 1;
    // Read once per tick: room for a stalled second of many peers' heartbeats.
    int rcvbuf = 1 << 20;
    if (setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0 ||
        setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0 ||
        bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) < 0) {
      const int err = errno;
      ::close(fd_);
      fd_ = -1;
      throw ErrnoError(env, "UdpSocket: bind " + address + ":" + std::to_string(port), err);
    }
  }

  ~UdpSocket() override {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  // receive(max): every queued datagram up to max, as [{data, address, port, ageMs, truncated}].
  // ageMs: how long ago the kernel received it (its wall-clock timestamp against the wall clock now,
  // both read here within microseconds, so only the difference is used).
  Napi::Value Receive(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint32_t max = info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 4096;
    Napi::Array out = Napi::Array::New(env);
    if (fd_ < 0) return out;
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    sockaddr_storage from[kBatch];
    alignas(cmsghdr) char control[kBatch][CMSG_SPACE(sizeof(timespec))];
    uint32_t count = 0;
    while (count < max) {
      const int want = static_cast<int>(std::min<uint32_t>(kBatch, max - count));
      std::memset(msgs, 0, sizeof(mmsghdr) * want);
      for (int i = 0; i < want; i++) {
        iov[i] = {data_.data() + i * kSlot, kSlot};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        msgs[i].msg_hdr.msg_control = control[i];
        msgs[i].msg_hdr.msg_controllen = sizeof control[i];
      }
      const int got = recvmmsg(fd_, msgs, want, MSG_DONTWAIT, nullptr);
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        throw ErrnoError(env, "UdpSocket: recvmmsg", errno);
      }
      timespec wall;
      clock_gettime(CLOCK_REALTIME, &wall);
      for (int i = 0; i < got; i++) {
        double ageMs = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c != nullptr; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts;
            std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
            ageMs = (Seconds(wall) - Seconds(ts)) * 1000;
          }
        }
        int port = 0;
        Napi::Object d = Napi::Object::New(env);
        const size_t n = std::min<size_t>(msgs[i].msg_len, kSlot);
        d.Set("data", Napi::Buffer<uint8_t>::Copy(env, data_.data() + i * kSlot, n));
        d.Set("address", FormatAddress(from[i], port));
        d.Set("port", port);
        d.Set("ageMs", ageMs);
        d.Set("truncated", (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0);
        out.Set(count++, d);
      }
      if (got < want) break;
    }
    return out;
  }

  // send([{data, address, port}]): one sendmmsg for the round; returns [{index, errno}] for the
  // packets the kernel refused (a peer's unreachable address must not stop the others).
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "send([{data, address, port}])");
    Napi::Array packets = info[0].As<Napi::Array>();
    const uint32_t total = packets.Length();
    std::vector<mmsghdr> msgs(total);
    std::vector<iovec> iov(total);
    std::vector<sockaddr_storage> to(total);
    std::vector<Napi::Buffer<uint8_t>> keep;  // the buffers stay referenced during the call
    keep.reserve(total);
    Napi::Array errors = Napi::Array::New(env);
    uint32_t nerr = 0;
    std::vector<uint32_t> index;
    for (uint32_t i = 0; i < total; i++) {
      Napi::Object p = packets.Get(i).As<Napi::Object>();
      Napi::Value data = p.Get("data");
      socklen_t len = 0;
      if (!data.IsBuffer() || !ParseAddress(p.Get("address").ToString().Utf8Value(),
                                            p.Get("port").ToNumber().Int32Value(), to[index.size()], len)) {
        Napi::Object e = Napi::Object::New(env);
        e.Set("index", i);
        e.Set("errno", EINVAL);
        errors.Set(nerr++, e);
        continue;
      }
      keep.push_back(data.As<Napi::Buffer<uint8_t>>());
      const size_t k = index.size();
      iov[k] = {keep.back().Data(), keep.back().Length()};
      std::memset(&msgs[k], 0, sizeof msgs[k]);
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
      msgs[k].msg_hdr.msg_name = &to[k];
      msgs[k].msg_hdr.msg_namelen = len;
      index.push_back(i);
    }
    size_t next = 0;
    while (fd_ >= 0 && next < index.size()) {
      const int sent = sendmmsg(fd_, msgs.data() + next, static_cast<unsigned>(index.size() - next), MSG_DONTWAIT);
      if (sent < 0) {
        if (errno == EINTR) continue;
        // The kernel stops at the first packet it refuses: note it and go on with the rest.
        Napi::Object e = Napi::Object::New(env);
        e.Set("index", index[next]);
        e.Set("errno", errno);
        errors.Set(nerr++, e);
        next++;
        continue;
      }
      next += static_cast<size_t>(sent);
    }
    return errors;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return info.Env().Undefined();
  }

  int fd_ = -1;
  // The receive batch's slots, allocated once: receive() runs every tick.
  std::vector<uint8_t> data_ = std::vector<uint8_t>(kBatch * kSlot);
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("UdpSocket", UdpSocket::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(floatip_udp, Init)
