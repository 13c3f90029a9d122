// The heartbeat pump (native/PUMP-SPEC.md): a thread that sends the speaker's heartbeats every interval
// from per-peer templates, receives and authenticates the peers', and wakes JavaScript only when
// something may have changed. A JavaScript tick every 40 ms cost more than an idle speaker may
// (~1 % of a core before any work); this thread costs a few microseconds per round. The logic is in
// pump_core.h; this file is the thread, the socket and the bindings. The thread never touches a
// JavaScript value: it wakes JavaScript through one thread-safe function, at most one call pending.
#include <napi.h>

#include <poll.h>
#include <pthread.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <thread>

#include "netaddr.h"
#include "pump_core.h"
#include "pump_js.h"

namespace {

using floatip::ErrnoError;
using floatip::FormatAddress;
using floatip::ParseAddress;
using floatip::Seconds;
namespace core = floatip::pump;
using core::NumberOr;

constexpr int kBatch = 64;
constexpr size_t kSlot = 2048;  // larger than any heartbeat: a longer datagram is queued cut, never accepted

double MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return Seconds(ts) * 1000;
}

// Shared with queued wake calls, which may run after the pump object is gone.
struct WakeState {
  std::atomic<bool> pending{false};
  std::atomic<bool> closed{false};
};

class Pump : public Napi::ObjectWrap<Pump> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Pump",
                       {InstanceMethod<&Pump::SetPeer>("setPeer"), InstanceMethod<&Pump::RemovePeer>("removePeer"),
                        InstanceMethod<&Pump::SetTemplate>("setTemplate"), InstanceMethod<&Pump::SetKey>("setKey"),
                        InstanceMethod<&Pump::Arm>("arm"),
                        InstanceMethod<&Pump::Drain>("drain"), InstanceMethod<&Pump::Send>("send"),
                        InstanceMethod<&Pump::Close>("close")});
  }

  // new Pump(family, bindAddress, port, key, boot (8 bytes), firstSeq, intervalMs, freshnessMs,
  // watchdogMs, onWake)
  explicit Pump(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Pump>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    core::CoreArgs args;
    if (!info[0].IsNumber() || !info[1].IsString() || !info[2].IsNumber() || !core::ParseCoreArgs(info, 3, args) ||
        !info[9].IsFunction()) {
      throw Napi::TypeError::New(env,
                                 "Pump(family, bindAddress, port, key, boot[8], firstSeq, intervalMs, freshnessMs, "
                                 "watchdogMs, onWake)");
    }
    core_ = std::make_unique<core::Core>(args.config, args.key.data(), args.key.size(), MonotonicMs());
    if (!core_->ok()) throw Napi::Error::New(env, "Pump: HMAC-SHA256 unavailable in this Node's OpenSSL");
    Bind(env, info[0].As<Napi::Number>().Int32Value() == 6 ? AF_INET6 : AF_INET, info[1].As<Napi::String>(),
         info[2].As<Napi::Number>().Int32Value());
    // Unref'd: an idle pump never keeps the process alive.
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[9].As<Napi::Function>(), "floatip_pump", 0, 1);
    tsfn_.Unref(env);
    // Registered after the thread-safe function's own hook, so it runs first (hooks run in reverse):
    // the thread is joined before Node tears the function down.
    napi_add_env_cleanup_hook(env, &Pump::AtExit, this);
    hooked_ = true;
    std::memset(rmsgs_, 0, sizeof rmsgs_);
    for (int i = 0; i < kBatch; i++) {
      riov_[i] = {rdata_.data() + i * kSlot, kSlot};
      rmsgs_[i].msg_hdr.msg_iov = &riov_[i];
      rmsgs_[i].msg_hdr.msg_iovlen = 1;
      rmsgs_[i].msg_hdr.msg_name = &rfrom_[i];
      rmsgs_[i].msg_hdr.msg_control = rcontrol_[i];
    }
    lastRead_ = MonotonicMs();
    thread_ = std::thread([this] { Run(); });
  }

  ~Pump() override { Shutdown(); }

 private:
  void Bind(Napi::Env env, int family, const std::string& address, int port) {
    sockaddr_storage addr;
    socklen_t len = 0;
    if (!ParseAddress(address, port, addr, len) || addr.ss_family != family) {
      throw Napi::TypeError::New(env, "Pump: invalid bind address \"" + address + "\"");
    }
    fd_ = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw ErrnoError(env, "Pump: socket", errno);
    int one = 1;
    int rcvbuf = 1 << 20;
    if (setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0 ||
        setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0 ||
        bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) < 0) {
      const int err = errno;
      CloseFds();
      throw ErrnoError(env, "Pump: bind " + address + ":" + std::to_string(port), err);
    }
    event_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (event_ < 0) {
      const int err = errno;
      CloseFds();
      throw ErrnoError(env, "Pump: eventfd", err);
    }
    // Link changes (carrier up or down) wake JavaScript at once: it reads the announce interfaces'
    // carrier in its step, and a step may otherwise be a backstop away. Without it (no netlink),
    // the backstop finds the change.
    link_ = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    sockaddr_nl nl{};
    nl.nl_family = AF_NETLINK;
    nl.nl_groups = RTMGRP_LINK;
    if (link_ >= 0 && bind(link_, reinterpret_cast<sockaddr*>(&nl), sizeof nl) < 0) {
      ::close(link_);
      link_ = -1;
    }
  }

  void CloseFds() {
    if (fd_ >= 0) ::close(fd_);
    if (event_ >= 0) ::close(event_);
    if (link_ >= 0) ::close(link_);
    fd_ = event_ = link_ = -1;
  }

  static void AtExit(void* arg) {
    auto* self = static_cast<Pump*>(arg);
    self->hooked_ = false;
    self->Shutdown();
  }

  // Stops and joins the thread, then lets go of the socket and the wake function. Idempotent.
  void Shutdown() {
    if (closed_) return;
    closed_ = true;
    if (thread_.joinable()) {
      stop_ = true;
      Notify();
      thread_.join();
    }
    CloseFds();
    wake_->closed = true;
    if (tsfn_) tsfn_.Release();
    if (hooked_) napi_remove_env_cleanup_hook(env_, &Pump::AtExit, this);
    hooked_ = false;
  }

  void Notify() {
    const uint64_t one = 1;
    if (event_ >= 0 && write(event_, &one, sizeof one) < 0) {
      // Full counter: the thread has a wakeup pending anyway.
    }
  }

  // ---- the thread ---------------------------------------------------------------------------

  // The socket is read when the thread wakes anyway (a round, a deadline, an arm), not on each
  // datagram: a third of the wakeups. Arrival times come from the kernel's timestamps, so silence
  // is judged as exactly; a content or acceptance wake waits for the next round (<= one interval).
  void Run() {
    pthread_setname_np(pthread_self(), "floatip-pump");  // top -H, /proc/<pid>/task/*/comm
    while (!stop_) {
      if (ReceiveAll()) Wake();
      const double now = MonotonicMs();
      double deadline;
      bool wake;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (core_->Tick(now, out_) > 0) {
          lock.unlock();  // the packets are the thread's own: sent without holding JavaScript up
          SendRound();
          lock.lock();
        }
        wake = core_->CheckTriggers(now);
        deadline = core_->NextDeadline();
      }
      if (wake) Wake();
      // A manual-mode pump (no templates) has no rounds to wait for: it reads on arrival.
      pollfd fds[3] = {{fd_, static_cast<short>(manual_ ? POLLIN : 0), 0}, {event_, POLLIN, 0}, {link_, POLLIN, 0}};
      const double wait = std::max(0.0, deadline - MonotonicMs());
      timespec timeout{static_cast<time_t>(wait / 1000), static_cast<long>(std::fmod(wait, 1000.0) * 1e6)};
      const int ready = ppoll(fds, 3, std::isfinite(wait) ? &timeout : nullptr, nullptr);
      if (ready > 0 && (fds[0].revents & POLLERR) != 0) {
        // A pending socket error (an ICMP error, with IP_RECVERR-like settings): read it, or poll spins.
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      }
      if (ready > 0 && (fds[2].revents & (POLLIN | POLLERR)) != 0) {  // ENOBUFS (overrun): a change too
        char buf[8192];
        while (recv(link_, buf, sizeof buf, MSG_DONTWAIT) > 0) {
        }
        Wake();
      }
      if (ready > 0 && (fds[1].revents & POLLIN) != 0) {
        uint64_t count;
        if (read(event_, &count, sizeof count) < 0) {
          // EAGAIN: another read took it.
        }
      }
    }
  }

  // One sendmmsg for the round; a refused packet is noted and the rest still go out.
  void SendRound() {
    const size_t total = out_.count;
    msgs_.resize(total);
    iov_.resize(total);
    for (size_t k = 0; k < total; k++) {
      iov_[k] = {out_.packets[k].data(), out_.lengths[k]};
      std::memset(&msgs_[k], 0, sizeof msgs_[k]);
      msgs_[k].msg_hdr.msg_iov = &iov_[k];
      msgs_[k].msg_hdr.msg_iovlen = 1;
      msgs_[k].msg_hdr.msg_name = &out_.to[k];
      msgs_[k].msg_hdr.msg_namelen = out_.toLen[k];
    }
    size_t next = 0;
    while (next < total) {
      const int sent = sendmmsg(fd_, msgs_.data() + next, static_cast<unsigned>(total - next), MSG_DONTWAIT);
      if (sent < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          core_->NoteSendError(out_.peers[next], err);
        }
        next++;
        continue;
      }
      next += static_cast<size_t>(sent);
    }
  }

  // Reads every queued datagram; true when a trigger fired. Triggers are checked under the same lock
  // as the datagrams were processed, so a drain in between cannot hide an acceptance.
  bool ReceiveAll() {
    std::lock_guard<std::mutex> reading(recv_);  // the thread and drain() share the read buffers
    bool wake = false;
    for (;;) {
      for (int i = 0; i < kBatch; i++) {  // the lengths the last call shortened (buffers set up once)
        rmsgs_[i].msg_hdr.msg_namelen = sizeof rfrom_[i];
        rmsgs_[i].msg_hdr.msg_controllen = sizeof rcontrol_[i];
        rmsgs_[i].msg_hdr.msg_flags = 0;
      }
      const int got = recvmmsg(fd_, rmsgs_, kBatch, MSG_DONTWAIT, nullptr);
      if (got < 0) {
        if (errno == EINTR) continue;
        return wake;  // EAGAIN, or an error the next poll reports again
      }
      timespec wall;
      clock_gettime(CLOCK_REALTIME, &wall);
      const double now = MonotonicMs();
      // The kernel's timestamp is on the wall clock: its age is trusted only within the time since
      // the previous read, so a wall-clock step cannot misdate a packet (as heartbeat-transport.ts).
      const double window = std::max(0.0, now - lastRead_);
      lastRead_ = now;
      std::lock_guard<std::mutex> lock(mutex_);
      for (int i = 0; i < got; i++) {
        double ageMs = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&rmsgs_[i].msg_hdr); c != nullptr; c = CMSG_NXTHDR(&rmsgs_[i].msg_hdr, c)) {
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts;
            std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
            ageMs = (Seconds(wall) - Seconds(ts)) * 1000;
          }
        }
        const size_t n = std::min<size_t>(rmsgs_[i].msg_len, kSlot);
        core_->Receive(rdata_.data() + i * kSlot, n, rfrom_[i], now - std::clamp(ageMs, 0.0, window));
      }
      wake = core_->CheckTriggers(now) || wake;
      if (got < kBatch) return wake;
    }
  }

  void Wake() {
    if (wake_->pending.exchange(true)) return;  // coalesced: one call pending at most
    std::shared_ptr<WakeState> state = wake_;
    const napi_status status = tsfn_.NonBlockingCall([state](Napi::Env env, Napi::Function onWake) {
      if (env == nullptr) return;  // Node is tearing the function down
      state->pending = false;
      if (!state->closed) onWake.Call({});
    });
    if (status != napi_ok) wake_->pending = false;
  }

  // ---- JavaScript's side --------------------------------------------------------------------

  // setPeer(name, hash, address, port)
  Napi::Value SetPeer(const Napi::CallbackInfo& info) {
    const core::PeerArgs p = core::ParsePeerArgs(info);
    std::lock_guard<std::mutex> lock(mutex_);
    core_->SetPeer(p.name, p.hash, p.addr, p.len);
    return info.Env().Undefined();
  }

  Napi::Value RemovePeer(const Napi::CallbackInfo& info) {
    if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "removePeer(name)");
    std::lock_guard<std::mutex> lock(mutex_);
    core_->RemovePeer(info[0].As<Napi::String>());
    return info.Env().Undefined();
  }

  // setKey(key, accept?): a rotated key, for signing and checking from now on, and a second key
  // datagrams may be signed with while a rotation rolls out.
  Napi::Value SetKey(const Napi::CallbackInfo& info) {
    const core::KeyArgs k = core::ParseKeyArgs(info);
    bool ok;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ok = core_->SetKey(k.key, k.keyLen, k.accept, k.acceptLen);
    }
    if (!ok) throw Napi::Error::New(info.Env(), "setKey: HMAC-SHA256 unavailable");
    return info.Env().Undefined();
  }

  // setTemplate(name, body | undefined, builtAt)
  Napi::Value SetTemplate(const Napi::CallbackInfo& info) {
    const core::TemplateArgs t = core::ParseTemplateArgs(info, MonotonicMs());
    core::Core::TemplateResult result;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      result = core_->SetTemplate(t.name, t.body, t.len, t.builtAt);
    }
    core::CheckTemplateResult(info.Env(), result);
    return info.Env().Undefined();
  }

  // arm(wakeAt, [{name, silenceMs, confirmMs, wakeOnAccept}]): times on CLOCK_MONOTONIC, ms.
  Napi::Value Arm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    core::ParseArmPeers(env, info[1], armPeers_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      core_->Arm(MonotonicMs(), NumberOr(info[0], core::kNever), armPeers_);
    }
    Notify();  // the thread re-reads its deadline and checks the triggers now
    return env.Undefined();
  }

  // drain(): everything since the previous drain (DrainedToJs).
  Napi::Value Drain(const Napi::CallbackInfo& info) {
    // The thread reads the socket only when it wakes: JavaScript reads what arrived since, so it
    // sees every heartbeat up to now (the answer fence drains on each ARP/NDP frame). A trigger
    // that fires on the way wakes JavaScript as the thread's would.
    if (ReceiveAll()) Wake();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      core_->Drain(drained_);
    }
    return core::DrainedToJs(info.Env(), drained_);
  }

  // send([{data, address, port}]) (manual mode): as UdpSocket.send, returns [{index, errno}].
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!manual_.exchange(true)) Notify();  // the thread polls the socket from now on
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "send([{data, address, port}])");
    Napi::Array packets = info[0].As<Napi::Array>();
    const uint32_t total = packets.Length();
    std::vector<mmsghdr> msgs(total);
    std::vector<iovec> iov(total);
    std::vector<sockaddr_storage> to(total);
    std::vector<Napi::Buffer<uint8_t>> keep;  // the buffers stay referenced during the call
    keep.reserve(total);
    std::vector<uint32_t> index;
    Napi::Array errors = Napi::Array::New(env);
    uint32_t nerr = 0;
    auto refused = [&](uint32_t i, int err) {
      Napi::Object e = Napi::Object::New(env);
      e.Set("index", i);
      e.Set("errno", err);
      errors.Set(nerr++, e);
    };
    for (uint32_t i = 0; i < total; i++) {
      Napi::Object p = packets.Get(i).As<Napi::Object>();
      Napi::Value data = p.Get("data");
      socklen_t len = 0;
      if (!data.IsBuffer() || !ParseAddress(p.Get("address").ToString().Utf8Value(),
                                            p.Get("port").ToNumber().Int32Value(), to[index.size()], len)) {
        refused(i, EINVAL);
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
        refused(index[next], errno);
        next++;
        continue;
      }
      next += static_cast<size_t>(sent);
    }
    return errors;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  napi_env env_;
  int fd_ = -1;
  int event_ = -1;
  int link_ = -1;  // netlink RTMGRP_LINK: a carrier change wakes JavaScript
  std::unique_ptr<core::Core> core_;
  std::mutex mutex_;
  std::mutex recv_;  // held while reading the socket (taken before mutex_, never after)
  std::thread thread_;
  std::atomic<bool> stop_{false};
  // Set by the first send(): JavaScript sends the rounds (sparse fan-out), so the thread has none to
  // wake for and reads each datagram as it arrives.
  std::atomic<bool> manual_{false};
  bool closed_ = false;
  bool hooked_ = false;
  Napi::ThreadSafeFunction tsfn_;
  std::shared_ptr<WakeState> wake_ = std::make_shared<WakeState>();
  // JavaScript thread only.
  core::Drained drained_;
  std::vector<core::ArmPeer> armPeers_;
  // Pump thread only: allocated once.
  core::Outgoing out_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
  double lastRead_ = 0;
  mmsghdr rmsgs_[kBatch];
  iovec riov_[kBatch];
  sockaddr_storage rfrom_[kBatch];
  alignas(cmsghdr) char rcontrol_[kBatch][CMSG_SPACE(sizeof(timespec))];
  std::vector<uint8_t> rdata_ = std::vector<uint8_t>(kBatch * kSlot);
};

double NowMs(const Napi::CallbackInfo&) { return MonotonicMs(); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Pump", Pump::Init(env));
  exports.Set("PumpCore", core::CoreBinding::Init(env));
  exports.Set("nowMs", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                return Napi::Number::New(info.Env(), NowMs(info));
              }));
  return exports;
}

}  // namespace

NODE_API_MODULE(floatip_pump, Init)
