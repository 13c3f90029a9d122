// floatip raw-socket addon: an AF_PACKET socket that receives ARP and ICMPv6 neighbor discovery frames on
// one interface (for answering who-has / neighbor solicitations) and sends raw Ethernet frames.
#include <napi.h>
#include <uv.h>

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "replylimiter.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace {

// Bound the work per event-loop wakeup; uv_poll is level-triggered, so leftovers are read on the next turn
// (after timers and other sockets, such as the heartbeat's, had theirs).
constexpr int kMaxFramesPerWakeup = 256;
// Frames read per recvmmsg call.
constexpr int kBatch = 32;
// Per frame: a jumbo frame fits; a longer one is truncated and dropped (no sane ARP/NDP frame is).
constexpr size_t kFrameBufSize = 9216;
// Receive queue (SO_RCVBUF) when there is no ring: the kernel charges ~1 KB per small frame.
constexpr int kRecvQueueBytes = 4 << 20;
// The receive ring (TPACKET_V3): the kernel copies frames into shared blocks, ~160 bytes per ARP frame, and
// hands a block over when it is full or kBlockTimeoutMs after its first frame (the extra latency of an
// answer). Under a flood each block fills within its timeout: 64 blocks of 64 KB hold ~25,000 small frames,
// a quarter of a second of 100,000 frames/s, so the process may be off the CPU that long before a client's
// question is lost behind the flood. Many small blocks rather than a few big ones: at a lower rate the
// timeout hands over a block long before it is full, and a ring of few blocks would fill up with them.
constexpr unsigned kBlockSize = 64 << 10;
constexpr unsigned kBlocks = 64;
constexpr unsigned kBlockTimeoutMs = 4;
// JS calls per event-loop turn from the ring; the rest waits for the next turn (the socket stays readable).
constexpr int kMaxCallsPerWakeup = 64;

// The filter until JS installs one for the IPs it answers (setFilter). Accept ARP, and IPv6 whose fixed header says ICMPv6 with type 135 (NS) or 136 (NA). NDP never uses
// extension headers, so checking the fixed header is exact. VLAN tags are already stripped for packet taps
// (by the NIC or by the kernel before any tap sees the frame): the tag comes as PACKET_AUXDATA instead.
sock_filter kArpNdpFilter[] = {
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),              // 0: A = ethertype
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_ARP, 6, 0),  // 1: ARP -> accept
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 6), // 2: not IPv6 -> drop
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 6),          // 3: A = IPv6 next header
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 4),        // 4: not ICMPv6 -> drop
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 14 + 40),         // 5: A = ICMPv6 type (short frame -> drop)
    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 135, 0, 2),       // 6: type < 135 -> drop
    BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 136, 1, 0),       // 7: type > 136 -> drop
    BPF_STMT(BPF_RET | BPF_K, 0xffffffff),               // 8: accept whole frame
    BPF_STMT(BPF_RET | BPF_K, 0),                        // 9: drop
};

// Closes the fd unless released; keeps constructor error paths leak-free.
struct Fd {
  int fd;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  int release() {
    int f = fd;
    fd = -1;
    return f;
  }
};

std::string ErrnoName(int err) {
  const char* name = strerrorname_np(err);
  return name != nullptr ? name : "errno " + std::to_string(err);
}

// Error with Node-style `code`/`errno` properties so callers can branch on e.g. EPERM or ENODEV.
Napi::Error ErrnoError(Napi::Env env, const std::string& what, int err) {
  std::string msg = what + ": " + std::strerror(err) + " (" + ErrnoName(err) + ")";
  if (err == EPERM || err == EACCES) msg += "; raw sockets need root or CAP_NET_RAW";
  Napi::Error e = Napi::Error::New(env, msg);
  e.Value().Set("code", ErrnoName(err));
  e.Value().Set("errno", Napi::Number::New(env, err));
  return e;
}

std::string IfNameArg(const Napi::CallbackInfo& info, const char* fn) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": ifname must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.empty() || name.size() >= IFNAMSIZ || name.find('\0') != std::string::npos) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": invalid interface name \"" + name + "\"");
  }
  return name;
}

// One SIOCGIF* request for the interface `name` into `ifr`: 0, or the errno.
int IfIoctlErrno(int fd, unsigned long req, ifreq& ifr, const std::string& name) {
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  return ioctl(fd, req, &ifr) == 0 ? 0 : errno;
}

// SIOCGIF* ioctl on `name`; a missing interface (ENODEV) gets a plain "not found" message.
void IfIoctl(Napi::Env env, int fd, unsigned long req, ifreq& ifr, const std::string& name, const char* what) {
  const int err = IfIoctlErrno(fd, req, ifr, name);
  if (err == 0) return;
  if (err == ENODEV) throw ErrnoError(env, "interface \"" + name + "\" not found", err);
  throw ErrnoError(env, std::string(what) + " on interface \"" + name + "\"", err);
}

int IfIndex(Napi::Env env, const std::string& name) {
  Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));  // any socket serves SIOCGIF*; AF_INET needs no privilege
  if (fd.fd < 0) throw ErrnoError(env, "socket(AF_INET)", errno);
  ifreq ifr;
  IfIoctl(env, fd.fd, SIOCGIFINDEX, ifr, name, "SIOCGIFINDEX");
  return ifr.ifr_ifindex;
}

Napi::Value InterfaceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = IfNameArg(info, "interfaceInfo");
  Fd fd(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.fd < 0) throw ErrnoError(env, "socket(AF_INET)", errno);
  ifreq ifr;
  Napi::Object out = Napi::Object::New(env);

  IfIoctl(env, fd.fd, SIOCGIFINDEX, ifr, name, "SIOCGIFINDEX");
  out.Set("index", ifr.ifr_ifindex);
  IfIoctl(env, fd.fd, SIOCGIFHWADDR, ifr, name, "SIOCGIFHWADDR");
  out.Set("mac", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(ifr.ifr_hwaddr.sa_data), ETH_ALEN));
  IfIoctl(env, fd.fd, SIOCGIFMTU, ifr, name, "SIOCGIFMTU");
  out.Set("mtu", ifr.ifr_mtu);
  IfIoctl(env, fd.fd, SIOCGIFFLAGS, ifr, name, "SIOCGIFFLAGS");
  out.Set("up", (ifr.ifr_flags & IFF_UP) != 0);
  out.Set("running", (ifr.ifr_flags & IFF_RUNNING) != 0);  // operational state, i.e. up with carrier
  out.Set("broadcast", (ifr.ifr_flags & IFF_BROADCAST) != 0);
  out.Set("loopback", (ifr.ifr_flags & IFF_LOOPBACK) != 0);
  return out;
}

// interfaceCarrier(name): up with carrier (IFF_UP and IFF_RUNNING), false when the interface is gone.
// The speaker asks at every step: one ioctl on a socket opened once, not interfaceInfo's socket, four
// ioctls and eight properties (65 µs a step at scale, the largest native cost of a quiet step).
Napi::Value InterfaceCarrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = IfNameArg(info, "interfaceCarrier");
  // Kept for the process's life (the speaker's thread is the only caller); it answers for the network
  // namespace it was opened in, which is the process's: nothing in floatip changes namespace in-process.
  static int fd = -1;
  if (fd < 0) fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ErrnoError(env, "socket(AF_INET)", errno);
  ifreq ifr;
  const int err = IfIoctlErrno(fd, SIOCGIFFLAGS, ifr, name);
  if (err == ENODEV) return Napi::Boolean::New(env, false);
  if (err != 0) throw ErrnoError(env, "SIOCGIFFLAGS on interface \"" + name + "\"", err);
  return Napi::Boolean::New(env, (ifr.ifr_flags & IFF_UP) != 0 && (ifr.ifr_flags & IFF_RUNNING) != 0);
}

// ReplyLimits from a JS object ({perSourcePerSecond, perSourceBurst, totalPerSecond, totalBurst, maxSources}).
ReplyLimits LimitsArg(Napi::Env env, const Napi::Value& v, const char* fn) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, std::string(fn) + ": limits must be an object");
  Napi::Object o = v.As<Napi::Object>();
  auto num = [&](const char* key) {
    Napi::Value x = o.Get(key);
    if (!x.IsNumber() || !(x.As<Napi::Number>().DoubleValue() >= 0)) {
      throw Napi::TypeError::New(env, std::string(fn) + ": limits." + key + " must be a number >= 0");
    }
    return x.As<Napi::Number>().DoubleValue();
  };
  ReplyLimits l;
  l.perSourcePerSecond = num("perSourcePerSecond");
  l.perSourceBurst = num("perSourceBurst");
  l.totalPerSecond = num("totalPerSecond");
  l.totalBurst = num("totalBurst");
  l.maxSources = static_cast<size_t>(num("maxSources"));
  return l;
}

// The 48-bit source MAC of an Ethernet frame (at least 12 bytes).
uint64_t SourceMac(const uint8_t* frame) {
  uint64_t key = 0;
  for (int i = 6; i < 12; i++) key = key << 8 | frame[i];
  return key;
}

// The limiter alone, for unit tests of its arithmetic: new ReplyLimiter(limits); allow(sourceMac, nowMs).
class JsReplyLimiter : public Napi::ObjectWrap<JsReplyLimiter> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "ReplyLimiter",
                       {InstanceMethod<&JsReplyLimiter::Allow>("allow"),
                        InstanceAccessor<&JsReplyLimiter::Tracked>("trackedSources")});
  }
  explicit JsReplyLimiter(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<JsReplyLimiter>(info), limiter_(LimitsArg(info.Env(), info[0], "ReplyLimiter")) {}

 private:
  Napi::Value Allow(const Napi::CallbackInfo& info) {
    if (!info[0].IsNumber() || !info[1].IsNumber()) {
      throw Napi::TypeError::New(info.Env(), "ReplyLimiter.allow: (source, now) must be numbers");
    }
    auto source = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
    return Napi::Boolean::New(info.Env(), limiter_.Allow(source, info[1].As<Napi::Number>().DoubleValue()));
  }
  Napi::Value Tracked(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(limiter_.TrackedSources()));
  }
  ReplyLimiter limiter_;
};

class RawSocket : public Napi::ObjectWrap<RawSocket> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "RawSocket",
                       {InstanceMethod<&RawSocket::Send>("send"), InstanceMethod<&RawSocket::CloseJs>("close"),
                        InstanceMethod<&RawSocket::SetFilter>("setFilter"),
                        InstanceMethod<&RawSocket::Stats>("stats"),
                        InstanceAccessor<&RawSocket::IgnoresOutgoing>("ignoresOutgoing")});
  }

  // new RawSocket(ifname, "arp+ipv6", onFrame(frame, packetType, vlan | undefined), onError(err), limits?)
  // With `limits`, frames over a source's (or everyone's) share are dropped here, before any JS runs.
  explicit RawSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RawSocket>(info) {
    Napi::Env env = info.Env();
    std::string ifname = IfNameArg(info, "RawSocket");
    if (!info[1].IsString() || info[1].As<Napi::String>().Utf8Value() != "arp+ipv6") {
      throw Napi::TypeError::New(env, "RawSocket: protocols must be \"arp+ipv6\"");
    }
    if (!info[2].IsFunction() || !info[3].IsFunction()) {
      throw Napi::TypeError::New(env, "RawSocket: onFrame and onError callbacks are required");
    }
    if (info.Length() > 4 && !info[4].IsUndefined()) limiter_.emplace(LimitsArg(env, info[4], "RawSocket"));
    int ifindex = IfIndex(env, ifname);

    // Protocol 0: the socket receives nothing until bind(), so no frame can slip in before the filter.
    Fd sock(socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (sock.fd < 0) throw ErrnoError(env, "RawSocket: socket(AF_PACKET, SOCK_RAW)", errno);
    sock_fprog prog{static_cast<unsigned short>(sizeof kArpNdpFilter / sizeof kArpNdpFilter[0]), kArpNdpFilter};
    if (setsockopt(sock.fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
      throw ErrnoError(env, "RawSocket: SO_ATTACH_FILTER", errno);
    }
    // The VLAN tag of each frame (stripped from the data before packet taps): a frame for another VLAN on
    // a trunk must not be answered on the untagged interface.
    int aux = 1;
    if (setsockopt(sock.fd, SOL_PACKET, PACKET_AUXDATA, &aux, sizeof aux) < 0) {
      throw ErrnoError(env, "RawSocket: PACKET_AUXDATA", errno);
    }
#ifdef PACKET_IGNORE_OUTGOING
    int one = 1;  // Linux >= 4.20; on older kernels ReadFrames drops PACKET_OUTGOING itself
    ignoresOutgoing_ = setsockopt(sock.fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) == 0;
#endif
    // Room for ~50 ms of a 100,000 frames/s flood: when the process is briefly off the CPU, a client's question
    // queued behind flood frames is not dropped with them. FORCE (CAP_NET_ADMIN) passes net.core.rmem_max;
    // best effort, the default queue still works.
    int rcvbuf = kRecvQueueBytes;
    if (setsockopt(sock.fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) {
      setsockopt(sock.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    uint8_t* ring = SetUpRing(sock.fd);
    Drain(sock.fd);  // belt and braces: nothing unfiltered may be queued when bind() starts delivery
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    if (bind(sock.fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) < 0) {
      throw ErrnoError(env, "RawSocket: bind to \"" + ifname + "\"", errno);
    }

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      throw Napi::Error::New(env, "RawSocket: no libuv event loop");
    }
    auto* poll = new uv_poll_t;
    if (int r = uv_poll_init_socket(loop, poll, sock.fd); r != 0) {
      delete poll;
      throw Napi::Error::New(env, std::string("RawSocket: uv_poll_init: ") + uv_strerror(r));
    }
    poll->data = this;
    if (int r = uv_poll_start(poll, UV_READABLE, OnPoll); r != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(poll), FreePoll);
      throw Napi::Error::New(env, std::string("RawSocket: uv_poll_start: ") + uv_strerror(r));
    }

    poll_ = poll;
    ring_ = ring;
    fd_ = sock.release();
    ifindex_ = ifindex;
    ifname_ = ifname;
    bufs_.resize(kBatch * kFrameBufSize);
    onFrame_ = Napi::Persistent(info[2].As<Napi::Function>());
    onError_ = Napi::Persistent(info[3].As<Napi::Function>());
    // Resource is a fresh object (not `this`) so the context holds no cycle back to the socket.
    asyncContext_ = std::make_unique<Napi::AsyncContext>(env, "floatip:RawSocket");
    // An open socket is an event source like a listening server: keep it alive until close().
    Ref();
    napi_add_env_cleanup_hook(env, OnCleanup, this);  // close before the loop goes away (exit, worker end)
    hooked_ = true;
  }

  ~RawSocket() override { CloseHandle(); }

 private:
  // The TPACKET_V3 receive ring, or nullptr (then frames are read with recvmmsg): best effort.
  static uint8_t* SetUpRing(int fd) {
    int version = TPACKET_V3;
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &version, sizeof version) < 0) return nullptr;
    tpacket_req3 req{};
    req.tp_block_size = kBlockSize;
    req.tp_block_nr = kBlocks;
    req.tp_frame_size = 2048;  // V3 packs frames of any size; the field must still divide the block
    req.tp_frame_nr = kBlockSize / 2048 * kBlocks;
    req.tp_retire_blk_tov = kBlockTimeoutMs;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) < 0) return nullptr;
    void* map = mmap(nullptr, size_t{kBlockSize} * kBlocks, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map != MAP_FAILED) return static_cast<uint8_t*>(map);
    tpacket_req3 none{};  // unmapped ring: take it down again so frames go to the ordinary queue
    setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &none, sizeof none);
    return nullptr;
  }

  static void FreePoll(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }

  static void Drain(int fd) {
    char b[1];
    while (recv(fd, b, sizeof b, MSG_DONTWAIT | MSG_TRUNC) >= 0) {
    }
  }

  // Stops the poll and closes the fd; touches no JS state, so it is safe from finalizers and env teardown.
  void CloseHandle() {
    if (fd_ < 0) return;
    if (hooked_) {
      napi_remove_env_cleanup_hook(Env(), OnCleanup, this);
      hooked_ = false;
    }
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), FreePoll);  // stops the poll; the fd may be closed right after
    poll_ = nullptr;
    close(fd_);
    fd_ = -1;
    if (ring_ != nullptr) UnmapAside(ring_);
    ring_ = nullptr;
  }

  // The ring's mapping holds the socket's last reference: unmapping it releases the socket, which
  // waits for a network RCU grace period (10-30 ms here). A speaker step that withdraws an
  // interface's last IP must not stand still that long, so a short-lived thread unmaps it.
  static void UnmapAside(uint8_t* ring) {
    const size_t size = size_t{kBlockSize} * kBlocks;
    try {
      std::thread([ring, size] { munmap(ring, size); }).detach();
    } catch (const std::system_error&) {
      munmap(ring, size);  // no thread to be had: pay the wait here
    }
  }

  static void OnCleanup(void* arg) {
    auto* self = static_cast<RawSocket*>(arg);
    self->hooked_ = false;  // the hook is being consumed; don't try to remove it
    self->CloseHandle();
  }

  void CloseJs(const Napi::CallbackInfo&) {
    CloseHandle();
    // Drop the callbacks (they usually close over the JS wrapper) and the self-reference so GC can collect.
    onFrame_.Reset();
    onError_.Reset();
    if (!released_) {
      released_ = true;
      Unref();
    }
  }

  Napi::Value IgnoresOutgoing(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), ignoresOutgoing_);
  }

  // setFilter(program): replaces the kernel filter (atomically) with a classic BPF program, 8 bytes per
  // instruction as struct sock_filter in host byte order (built by src/l2/bpf.ts).
  void SetFilter(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "RawSocket.setFilter: program must be a Buffer");
    auto program = info[0].As<Napi::Buffer<uint8_t>>();
    size_t count = program.Length() / sizeof(sock_filter);
    if (program.Length() % sizeof(sock_filter) != 0 || count == 0 || count > BPF_MAXINSNS) {
      throw Napi::TypeError::New(env, "RawSocket.setFilter: program must hold 1 to 4096 8-byte instructions");
    }
    if (fd_ < 0) throw Napi::Error::New(env, "RawSocket.setFilter: socket is closed");
    std::vector<sock_filter> insns(count);
    std::memcpy(insns.data(), program.Data(), program.Length());
    sock_fprog prog{static_cast<unsigned short>(count), insns.data()};
    if (setsockopt(fd_, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
      throw ErrnoError(env, "RawSocket.setFilter: SO_ATTACH_FILTER", errno);
    }
  }

  // Counters since open: frames read past the kernel filter, dropped by the rate limit, handed to JS, and
  // dropped by the kernel because the ring (or queue) was full; and whether frames come through the ring.
  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ >= 0) {
      tpacket_stats_v3 st{};  // V3 layout starts like the V1/V2 one
      socklen_t len = sizeof st;
      if (getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0) queueDrops_ += st.tp_drops;  // resets on read
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("read", static_cast<double>(read_));
    out.Set("rateLimited", static_cast<double>(rateLimited_));
    out.Set("handled", static_cast<double>(handled_));
    out.Set("queueDrops", static_cast<double>(queueDrops_));
    out.Set("ring", ring_ != nullptr);
    return out;
  }

  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "RawSocket.send: frame must be a Buffer");
    auto frame = info[0].As<Napi::Buffer<uint8_t>>();
    if (frame.Length() < ETH_HLEN) {
      throw Napi::TypeError::New(env, "RawSocket.send: frame shorter than an Ethernet header (14 bytes)");
    }
    if (fd_ < 0) throw Napi::Error::New(env, "RawSocket.send: socket is closed");
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex_;
    to.sll_halen = ETH_ALEN;
    std::memcpy(to.sll_addr, frame.Data(), ETH_ALEN);
    std::memcpy(&to.sll_protocol, frame.Data() + 12, 2);  // ethertype, already in network byte order
    ssize_t n = sendto(fd_, frame.Data(), frame.Length(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    if (n < 0) throw ErrnoError(env, "RawSocket.send", errno);
    return Napi::Number::New(env, static_cast<double>(n));
  }

  static void OnPoll(uv_poll_t* h, int status, int /*events*/) {
    auto* self = static_cast<RawSocket*>(h->data);
    if (self == nullptr) return;
    Napi::HandleScope scope(self->Env());
    if (status < 0) {
      // libuv turns POLLERR into UV_EBADF and stops the handle. For a packet socket POLLERR means a pending
      // socket error (ENETDOWN on link down or interface removal): fetch and clear it, then poll again.
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err == 0) {
        // Nothing we can clear: stay stopped rather than spin; libuv status is a negated errno on Unix.
        self->EmitError("RawSocket: poll", -status);
        return;
      }
      self->OnSocketError(err);
      if (self->fd_ < 0) return;  // closed by an error listener
      if (int r = uv_poll_start(self->poll_, UV_READABLE, OnPoll); r != 0) {
        self->EmitError("RawSocket: uv_poll_start", -r);
        return;
      }
    }
    if (self->ring_ != nullptr) {
      self->ReadRing();
    } else {
      self->ReadFrames();
    }
  }

  // Reads queued frames in batches (recvmmsg) and hands to JS only those within the rate limit, so a flood
  // costs a few system calls per batch rather than a JS call per frame.
  void ReadFrames() {
    sockaddr_ll from[kBatch];
    iovec iov[kBatch];
    alignas(cmsghdr) char control[kBatch][CMSG_SPACE(sizeof(tpacket_auxdata))];
    mmsghdr msgs[kBatch];
    for (int done = 0; done < kMaxFramesPerWakeup && fd_ >= 0;) {
      for (int i = 0; i < kBatch; i++) {
        iov[i] = iovec{bufs_.data() + i * kFrameBufSize, kFrameBufSize};
        msgs[i] = mmsghdr{};
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_control = control[i];
        msgs[i].msg_hdr.msg_controllen = sizeof control[i];
      }
      int n = recvmmsg(fd_, msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno != EINTR) OnSocketError(errno);
        if (fd_ < 0) return;
        done++;  // bounded even if the error repeats
        continue;
      }
      done += n;
      for (int i = 0; i < n && fd_ >= 0; i++) Deliver(msgs[i], from[i], bufs_.data() + i * kFrameBufSize);
      if (n < kBatch) return;  // drained
    }
  }

  void Deliver(mmsghdr& m, const sockaddr_ll& from, const uint8_t* data) {
    if ((m.msg_hdr.msg_flags & MSG_TRUNC) != 0) return;  // cannot be a sane ARP/NDP frame
    Pass(data, m.msg_len, from.sll_pkttype, VlanOf(m.msg_hdr));
  }

  // Walks the ring's blocks that the kernel handed over, oldest first, and gives each back once read.
  // Stops after kMaxCallsPerWakeup JS calls, remembering where (pkt_, left_).
  void ReadRing() {
    for (int calls = 0; fd_ >= 0;) {
      auto* block = reinterpret_cast<tpacket_block_desc*>(ring_ + size_t{block_} * kBlockSize);
      if ((__atomic_load_n(&block->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) == 0) return;
      if (pkt_ == nullptr) {
        pkt_ = reinterpret_cast<uint8_t*>(block) + block->hdr.bh1.offset_to_first_pkt;
        left_ = block->hdr.bh1.num_pkts;
      }
      while (left_ > 0) {
        if (calls >= kMaxCallsPerWakeup) return;
        auto* h = reinterpret_cast<tpacket3_hdr*>(pkt_);
        pkt_ += h->tp_next_offset;
        left_--;
        const auto* from = reinterpret_cast<const sockaddr_ll*>(reinterpret_cast<uint8_t*>(h) +
                                                                 TPACKET_ALIGN(sizeof(tpacket3_hdr)));
        if (h->tp_snaplen < h->tp_len) continue;  // truncated: cannot be a sane ARP/NDP frame
        bool tagged = (h->tp_status & TP_STATUS_VLAN_VALID) != 0 || h->hv1.tp_vlan_tci != 0;
        if (Pass(reinterpret_cast<uint8_t*>(h) + h->tp_mac, h->tp_snaplen, from->sll_pkttype,
                 tagged ? h->hv1.tp_vlan_tci & 0x0fff : -1)) {
          calls++;
        }
        if (fd_ < 0) return;  // closed by a listener: the ring is gone
      }
      pkt_ = nullptr;
      __atomic_store_n(&block->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
      block_ = (block_ + 1) % kBlocks;
    }
  }

  // Counts a received frame and hands it to JS unless its source is over its rate; true if JS ran.
  bool Pass(const uint8_t* data, size_t len, int pkttype, int vlan) {
    if (pkttype == PACKET_OUTGOING) return false;  // our own frames, if PACKET_IGNORE_OUTGOING is missing
    if (len < ETH_HLEN) return false;
    read_++;
    if (limiter_ && !limiter_->Allow(SourceMac(data), static_cast<double>(uv_hrtime()) / 1e6)) {
      rateLimited_++;
      return false;
    }
    handled_++;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    Call(onFrame_, {Napi::Buffer<uint8_t>::Copy(env, data, len), Napi::Number::New(env, pkttype),
                    vlan < 0 ? env.Undefined() : Napi::Number::New(env, vlan)});
    return true;
  }

  // The VLAN id of a received frame from its PACKET_AUXDATA, or -1 when it came untagged.
  static int VlanOf(msghdr& msg) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA) continue;
      if (c->cmsg_len < CMSG_LEN(sizeof(tpacket_auxdata))) continue;
      tpacket_auxdata aux;
      std::memcpy(&aux, CMSG_DATA(c), sizeof aux);
      // TP_STATUS_VLAN_VALID tells a tag of VLAN 0 (priority only) from none; before Linux 3.0 a TCI of 0 meant none.
      if ((aux.tp_status & TP_STATUS_VLAN_VALID) != 0 || aux.tp_vlan_tci != 0) return aux.tp_vlan_tci & 0x0fff;
    }
    return -1;
  }

  void OnSocketError(int err) {
    if (err == ENETDOWN) {
      // Link down: the kernel keeps the socket bound and resumes delivery once the link is up again. But the
      // same error signals interface removal, after which the socket never receives again: report that.
      char name[IF_NAMESIZE];
      if (if_indextoname(static_cast<unsigned>(ifindex_), name) != nullptr) return;
      if (errno != ENXIO && errno != ENODEV) return;
      EmitError("RawSocket: interface \"" + ifname_ + "\" was removed", ENODEV);
      return;
    }
    EmitError("RawSocket: recvfrom", err);
  }

  void EmitError(const std::string& what, int err) { Call(onError_, {ErrnoError(Env(), what, err).Value()}); }

  // MakeCallback (not Call) so microtasks run and async hooks see a proper context. A throwing listener is
  // routed to process 'uncaughtException', exactly like an exception in any Node event callback.
  void Call(Napi::FunctionReference& fn, const std::initializer_list<napi_value>& args) {
    if (fn.IsEmpty()) return;
    try {
      fn.MakeCallback(Value(), args, *asyncContext_);
    } catch (const Napi::Error& e) {
      napi_fatal_exception(Env(), e.Value());
    }
  }

  int fd_ = -1;
  int ifindex_ = 0;
  std::string ifname_;
  bool ignoresOutgoing_ = false;
  bool hooked_ = false;
  bool released_ = false;
  uv_poll_t* poll_ = nullptr;
  std::vector<uint8_t> bufs_;  // kBatch frames of kFrameBufSize
  std::optional<ReplyLimiter> limiter_;
  uint8_t* ring_ = nullptr;  // TPACKET_V3 blocks, or nullptr
  unsigned block_ = 0;       // the next block to read
  uint8_t* pkt_ = nullptr;   // the next frame in that block, when stopped halfway
  uint32_t left_ = 0;        // frames left in that block
  uint64_t read_ = 0;
  uint64_t rateLimited_ = 0;
  uint64_t handled_ = 0;
  uint64_t queueDrops_ = 0;
  Napi::FunctionReference onFrame_;
  Napi::FunctionReference onError_;
  std::unique_ptr<Napi::AsyncContext> asyncContext_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("RawSocket", RawSocket::Init(env));
  exports.Set("ReplyLimiter", JsReplyLimiter::Init(env));
  exports.Set("interfaceInfo", Napi::Function::New<InterfaceInfo>(env, "interfaceInfo"));
  exports.Set("interfaceCarrier", Napi::Function::New<InterfaceCarrier>(env, "interfaceCarrier"));
  return exports;
}

}  // namespace

NODE_API_MODULE(floatip_rawsocket, Init)
