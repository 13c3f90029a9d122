// The heartbeat pump's logic (native/PUMP-SPEC.md) without threads, sockets or clocks: time comes in as
// CLOCK_MONOTONIC milliseconds, packets go out as bytes. pump.cc runs it on its thread, every call
// under one mutex. src/election/pump.ts (PumpCore) models the same logic in TypeScript.
#pragma once

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <utility>
#include <vector>

#include "netaddr.h"

namespace floatip::pump {

constexpr size_t kMaxDatagram = 1200;
constexpr size_t kHeader = 36;  // "FIP2" | HMAC-SHA256
constexpr size_t kMaxBody = kMaxDatagram - kHeader;
constexpr size_t kQueueMax = 4096;
constexpr uint8_t kFlagEcho = 8;
constexpr uint16_t kAgeNever = 65535;
constexpr uint16_t kAgeMax = 65534;
constexpr double kNever = std::numeric_limits<double>::infinity();

inline uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t Be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 | static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline uint64_t Be64(const uint8_t* p) { return static_cast<uint64_t>(Be32(p)) << 32 | Be32(p + 4); }
inline void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Put64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
// JavaScript's Math.round for the non-negative durations patched into ages.
inline double RoundMs(double ms) { return std::floor(std::max(0.0, ms) + 0.5); }

// Where the patched fields sit in a body whose sender name is n bytes long (heartbeat.ts).
struct Layout {
  size_t n = 0;
  uint16_t reports = 0;
  size_t seq() const { return 9 + n; }
  size_t echoBoot() const { return 17 + n; }
  size_t echoSeq() const { return 25 + n; }
  size_t flags() const { return 35 + n; }
  size_t report(size_t i) const { return 38 + n + 7 * i; }
};

// A body that parses as far as the end of its report list.
inline bool ParseLayout(const uint8_t* body, size_t len, Layout& out) {
  if (len < 1) return false;
  out.n = body[0];
  if (len < 38 + out.n) return false;
  out.reports = Be16(body + 36 + out.n);
  return len >= out.report(out.reports);
}

// HMAC-SHA256 with the key set once (OpenSSL's EVP_MAC, as exported by the node binary itself).
class Hmac {
 public:
  Hmac(const uint8_t* key, size_t len) {
    static const uint8_t empty = 0;
    mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    ctx_ = mac_ ? EVP_MAC_CTX_new(mac_) : nullptr;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    ok_ = ctx_ != nullptr && EVP_MAC_init(ctx_, len > 0 ? key : &empty, len, params) == 1;
  }
  ~Hmac() {
    EVP_MAC_CTX_free(ctx_);
    EVP_MAC_free(mac_);
  }
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;
  bool ok() const { return ok_; }
  // A null key to EVP_MAC_init restarts with the key already set: no allocation per message.
  bool Sign(const uint8_t* data, size_t len, uint8_t out[32]) {
    size_t n = 0;
    return ok_ && EVP_MAC_init(ctx_, nullptr, 0, nullptr) == 1 && EVP_MAC_update(ctx_, data, len) == 1 &&
           EVP_MAC_final(ctx_, out, &n, 32) == 1 && n == 32;
  }

 private:
  EVP_MAC* mac_ = nullptr;
  EVP_MAC_CTX* ctx_ = nullptr;
  bool ok_ = false;
};

struct Peer {
  std::string name;
  uint32_t hash = 0;
  sockaddr_storage addr{};
  socklen_t addrLen = 0;
  // The template: the body encodeHeartbeatBody built at builtAt.
  bool hasTemplate = false;
  std::vector<uint8_t> body;
  Layout layout;
  double builtAt = 0;
  // The latest authenticated heartbeat from it (echoed back in ours).
  bool hasEcho = false;
  uint8_t echoBoot[8] = {0};
  uint64_t echoSeq = 0;
  // The latest accepted one (fresh echo of ours): replays are told apart by it.
  bool hasAccepted = false;
  uint8_t acceptedBoot[8] = {0};
  uint64_t acceptedSeq = 0;
  double lastAccepted = kNever;  // arrival time; kNever: none yet
  double confirmedAt = kNever;   // send time of the round it echoed; kNever: none yet
  bool acceptedSinceDrain = false;
  // Its last authenticated body with seq, echo, echo flag and ages zeroed: the content.
  bool hasMasked = false;
  std::vector<uint8_t> masked;
  // Triggers from the last arm().
  double silenceMs = kNever;
  double confirmMs = kNever;
  bool wakeOnAccept = false;
};

struct SentRound {
  uint64_t seq;
  double at;
};

struct Queued {
  std::vector<uint8_t> data;  // capacity kept across drains: no allocation once warm
  sockaddr_storage from{};
  double arrivedAt = 0;
  // Authenticated here, from the registered peer, with the same content as that peer's previous
  // authenticated heartbeat: JavaScript may skip the HMAC and the full decode (repeatedHeartbeat).
  bool unchanged = false;
};

struct SendError {
  std::string peer;
  int err;
};

// What drain() hands over; two of these alternate so their buffers are reused.
struct Drained {
  std::vector<SentRound> sent;
  std::vector<Queued> datagrams;
  size_t count = 0;  // datagrams[0, count) are this drain's
  std::vector<SendError> sendErrors;
  uint64_t overflow = 0;
  uint64_t watchdogStops = 0;
  double stalledMs = 0;
};

// One round's packets, filled under the lock and sent by the thread after it.
struct Outgoing {
  std::vector<std::vector<uint8_t>> packets;
  std::vector<size_t> lengths;
  std::vector<sockaddr_storage> to;
  std::vector<socklen_t> toLen;
  std::vector<std::string> peers;
  size_t count = 0;
};

struct Config {
  uint8_t boot[8];
  uint64_t firstSeq;
  double intervalMs;
  double freshnessMs;
  double watchdogMs;
};

struct ArmPeer {
  std::string name;
  double silenceMs;
  double confirmMs;
  bool wakeOnAccept;
};

class Core {
 public:
  Core(const Config& config, const uint8_t* key, size_t keyLen, double now);

  bool ok() const { return hmac_->ok(); }
  // A new key (rotation): rounds are signed, and datagrams checked, with it from now on; datagrams
  // signed with `accept` (a second key, len 0 = none) are taken too, so that a rotation rolls out
  // node by node without any two speakers refusing each other.
  bool SetKey(const uint8_t* key, size_t len, const uint8_t* accept = nullptr, size_t acceptLen = 0) {
    auto next = std::make_unique<Hmac>(key, len);
    if (!next->ok()) return false;
    std::unique_ptr<Hmac> second;
    if (accept != nullptr && acceptLen > 0) {
      second = std::make_unique<Hmac>(accept, acceptLen);
      if (!second->ok()) return false;
    }
    hmac_ = std::move(next);
    accept_ = std::move(second);
    return true;
  }
  void SetPeer(const std::string& name, uint32_t hash, const sockaddr_storage& addr, socklen_t len);
  void RemovePeer(const std::string& name);
  enum class TemplateResult { kOk, kNoPeer, kMalformed };
  TemplateResult SetTemplate(const std::string& name, const uint8_t* body, size_t len, double builtAt);
  void Arm(double now, double wakeAt, const std::vector<ArmPeer>& peers);
  void Drain(Drained& out);

  // The thread's side. Tick runs the round if one is due and returns how many packets to send.
  size_t Tick(double now, Outgoing& out);
  void NoteSendError(const std::string& peer, int err);
  void Receive(const uint8_t* data, size_t len, const sockaddr_storage& from, double arrivedAt);
  bool CheckTriggers(double now);
  double NextDeadline() const;

 private:
  void Log(uint64_t seq, double at);
  bool SentAt(uint64_t seq, double& at) const;
  Peer* ByHash(uint32_t hash) const;
  void IndexHashes();
  void Patch(const Peer& p, uint64_t seq, double now, uint8_t* packet);
  bool Authenticated(Peer& p, const uint8_t* body, size_t len, const Layout& l, double arrivedAt);

  Config config_;
  std::unique_ptr<Hmac> hmac_;
  std::unique_ptr<Hmac> accept_;  // a second key datagrams may be signed with (rotation), or none
  bool Signed(const uint8_t* body, size_t len, const uint8_t* tag);
  std::map<std::string, std::unique_ptr<Peer>, std::less<>> peers_;
  std::vector<std::pair<uint32_t, Peer*>> byHash_;
  uint64_t nextSeq_;
  double nextRound_;
  // Sent log: consecutive sequences in a ring, kept for freshnessMs + 2 intervals.
  std::vector<SentRound> log_;
  size_t logStart_ = 0;
  size_t logLen_ = 0;
  double logKeepMs_;
  // Triggers.
  bool armed_ = false;
  double wakeAt_ = kNever;
  double lastArm_;
  bool contentPending_ = false;
  // A content or queue wake fires at most once between two drains.
  bool contentFired_ = false;
  bool queueFired_ = false;
  // For the next drain.
  Drained pending_;
  std::vector<uint8_t> scratch_ = std::vector<uint8_t>(kMaxDatagram);
};

inline Core::Core(const Config& config, const uint8_t* key, size_t keyLen, double now)
    : config_(config), hmac_(std::make_unique<Hmac>(key, keyLen)), nextSeq_(config.firstSeq), nextRound_(now), lastArm_(now) {
  logKeepMs_ = config.freshnessMs + 2 * config.intervalMs;
  // Rounds may bunch after a late one, hence twice the rounds in logKeepMs_.
  const double rounds = std::isfinite(logKeepMs_) ? std::ceil(logKeepMs_ / std::max(1.0, config.intervalMs)) : 2048;
  log_.resize(static_cast<size_t>(std::clamp(2 * rounds + 8, 16.0, 65536.0)));
  pending_.sent.reserve(256);
}

inline void Core::IndexHashes() {
  byHash_.clear();
  for (auto& [name, p] : peers_) byHash_.emplace_back(p->hash, p.get());
  // Stable: two peers with one hash (a 32-bit collision) resolve to the first by name.
  std::stable_sort(byHash_.begin(), byHash_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
}

inline Peer* Core::ByHash(uint32_t hash) const {
  auto it = std::lower_bound(byHash_.begin(), byHash_.end(), hash,
                             [](const std::pair<uint32_t, Peer*>& e, uint32_t h) { return e.first < h; });
  return it != byHash_.end() && it->first == hash ? it->second : nullptr;
}

inline void Core::SetPeer(const std::string& name, uint32_t hash, const sockaddr_storage& addr, socklen_t len) {
  auto& slot = peers_[name];
  if (!slot) {
    slot = std::make_unique<Peer>();
    slot->name = name;
    slot->masked.reserve(kMaxBody);
  }
  // An existing peer keeps its template, echo and acceptance: only where it listens changed.
  slot->hash = hash;
  slot->addr = addr;
  slot->addrLen = len;
  IndexHashes();
}

inline void Core::RemovePeer(const std::string& name) {
  auto it = peers_.find(name);
  if (it == peers_.end()) return;
  peers_.erase(it);
  IndexHashes();
}

inline Core::TemplateResult Core::SetTemplate(const std::string& name, const uint8_t* body, size_t len,
                                              double builtAt) {
  auto it = peers_.find(name);
  if (it == peers_.end()) return TemplateResult::kNoPeer;
  Peer& p = *it->second;
  if (body == nullptr) {
    p.hasTemplate = false;
    return TemplateResult::kOk;
  }
  Layout l;
  if (len > kMaxBody || !ParseLayout(body, len, l)) return TemplateResult::kMalformed;
  p.body.assign(body, body + len);
  p.layout = l;
  p.builtAt = builtAt;
  p.hasTemplate = true;
  return TemplateResult::kOk;
}

inline void Core::Arm(double now, double wakeAt, const std::vector<ArmPeer>& peers) {
  for (auto& [name, p] : peers_) {
    p->silenceMs = kNever;
    p->confirmMs = kNever;
    p->wakeOnAccept = false;
  }
  for (const ArmPeer& a : peers) {
    auto it = peers_.find(a.name);
    if (it == peers_.end()) continue;
    it->second->silenceMs = a.silenceMs;
    it->second->confirmMs = a.confirmMs;
    it->second->wakeOnAccept = a.wakeOnAccept;
  }
  wakeAt_ = wakeAt;
  armed_ = true;
  lastArm_ = now;
}

inline void Core::Drain(Drained& out) {
  // out holds the previous drain's buffers (already read): swap them in, empty, for reuse.
  out.sent.clear();
  out.sendErrors.clear();
  out.count = 0;
  std::swap(out.sent, pending_.sent);
  std::swap(out.datagrams, pending_.datagrams);
  std::swap(out.count, pending_.count);
  std::swap(out.sendErrors, pending_.sendErrors);
  out.overflow = std::exchange(pending_.overflow, 0);
  out.watchdogStops = std::exchange(pending_.watchdogStops, 0);
  out.stalledMs = std::exchange(pending_.stalledMs, 0);
  for (auto& [name, p] : peers_) p->acceptedSinceDrain = false;
  contentFired_ = false;
  queueFired_ = false;
}

inline void Core::Log(uint64_t seq, double at) {
  while (logLen_ > 0 && (logLen_ == log_.size() || log_[logStart_].at < at - logKeepMs_)) {
    logStart_ = (logStart_ + 1) % log_.size();
    logLen_--;
  }
  log_[(logStart_ + logLen_) % log_.size()] = {seq, at};
  logLen_++;
}

inline bool Core::SentAt(uint64_t seq, double& at) const {
  if (logLen_ == 0) return false;
  const uint64_t first = log_[logStart_].seq;
  if (seq < first || seq - first >= logLen_) return false;
  at = log_[(logStart_ + (seq - first)) % log_.size()].at;
  return true;
}

inline void Core::Patch(const Peer& p, uint64_t seq, double now, uint8_t* packet) {
  uint8_t* body = packet + kHeader;
  const Layout& l = p.layout;
  std::memcpy(body, p.body.data(), p.body.size());
  Put64(body + l.seq(), seq);
  if (p.hasEcho) {
    std::memcpy(body + l.echoBoot(), p.echoBoot, 8);
    Put64(body + l.echoSeq(), p.echoSeq);
    body[l.flags()] |= kFlagEcho;
  } else {
    std::memset(body + l.echoBoot(), 0, 16);
    body[l.flags()] &= static_cast<uint8_t>(~kFlagEcho);
  }
  for (size_t i = 0; i < l.reports; i++) {
    uint8_t* r = body + l.report(i);
    const Peer* q = ByHash(Be32(r));
    const uint16_t age = Be16(r + 4);
    double patched;
    if (q != nullptr && q->lastAccepted != kNever) {
      patched = RoundMs(now - q->lastAccepted);
    } else if (age == kAgeNever) {
      continue;
    } else {
      patched = age + RoundMs(now - p.builtAt);
    }
    Put16(r + 4, static_cast<uint16_t>(std::min<double>(kAgeMax, patched)));
  }
  std::memcpy(packet, "FIP2", 4);
}

inline size_t Core::Tick(double now, Outgoing& out) {
  if (now < nextRound_) return 0;
  const double late = now - nextRound_;
  if (late > config_.intervalMs) {
    // The whole process (or the VM) stood still: start the schedule again from now.
    pending_.stalledMs = std::max(pending_.stalledMs, late);
    nextRound_ = now + config_.intervalMs;
  } else {
    nextRound_ += config_.intervalMs;
  }
  size_t templates = 0;
  for (auto& [name, p] : peers_) templates += p->hasTemplate ? 1 : 0;
  if (templates == 0) return 0;  // nothing to send: not a round, no sequence used
  if (now - lastArm_ > config_.watchdogMs) {
    pending_.watchdogStops++;  // rounds not sent
    return 0;
  }
  const uint64_t seq = nextSeq_++;
  Log(seq, now);
  if (pending_.sent.size() < 65536) pending_.sent.push_back({seq, now});
  if (out.packets.size() < templates) {
    out.packets.resize(templates, std::vector<uint8_t>(kMaxDatagram));
    out.lengths.resize(templates);
    out.to.resize(templates);
    out.toLen.resize(templates);
    out.peers.resize(templates);
  }
  size_t k = 0;
  for (auto& [name, p] : peers_) {
    if (!p->hasTemplate) continue;
    uint8_t* packet = out.packets[k].data();
    Patch(*p, seq, now, packet);
    if (!hmac_->Sign(packet + kHeader, p->body.size(), packet + 4)) continue;
    out.lengths[k] = kHeader + p->body.size();
    out.to[k] = p->addr;
    out.toLen[k] = p->addrLen;
    out.peers[k].assign(name);
    k++;
  }
  out.count = k;
  return k;
}

inline void Core::NoteSendError(const std::string& peer, int err) {
  if (pending_.sendErrors.size() < kQueueMax) pending_.sendErrors.push_back({peer, err});
}

inline void Core::Receive(const uint8_t* data, size_t len, const sockaddr_storage& from, double arrivedAt) {
  if (pending_.count < kQueueMax) {
    if (pending_.count == pending_.datagrams.size()) pending_.datagrams.emplace_back();
    Queued& q = pending_.datagrams[pending_.count++];
    q.data.assign(data, data + len);
    q.from = from;
    q.arrivedAt = arrivedAt;
    q.unchanged = false;
  } else {
    // Not looked at either: what the pump knows is what JavaScript will see.
    pending_.overflow++;
    return;
  }
  if (len > kMaxDatagram || len < kHeader + 1 || std::memcmp(data, "FIP2", 4) != 0) return;
  const uint8_t* body = data + kHeader;
  const size_t bodyLen = len - kHeader;
  Layout l;
  if (!ParseLayout(body, bodyLen, l)) return;
  auto it = peers_.find(std::string_view(reinterpret_cast<const char*>(body + 1), l.n));
  if (it == peers_.end() || !SameEndpoint(it->second->addr, from)) return;
  if (!Signed(body, bodyLen, data + 4)) return;
  pending_.datagrams[pending_.count - 1].unchanged = !Authenticated(*it->second, body, bodyLen, l, arrivedAt);
}

// Whether `tag` is the body's HMAC under the key, or under the second key accepted in a rotation.
inline bool Core::Signed(const uint8_t* body, size_t len, const uint8_t* tag) {
  uint8_t mac[32];
  if (hmac_->Sign(body, len, mac) && CRYPTO_memcmp(mac, tag, 32) == 0) return true;
  return accept_ && accept_->Sign(body, len, mac) && CRYPTO_memcmp(mac, tag, 32) == 0;
}

// Returns whether the content changed (or is the first from this peer).
inline bool Core::Authenticated(Peer& p, const uint8_t* body, size_t len, const Layout& l, double arrivedAt) {
  const uint8_t* boot = body + 1 + l.n;
  const uint64_t seq = Be64(body + l.seq());
  // Echo (peers.ts recordEcho): a new boot replaces it, else the higher sequence wins.
  if (!p.hasEcho || std::memcmp(boot, p.echoBoot, 8) != 0 || seq > p.echoSeq) {
    std::memcpy(p.echoBoot, boot, 8);
    p.echoSeq = seq;
    p.hasEcho = true;
  }
  double sentAt = 0;
  if ((body[l.flags()] & kFlagEcho) != 0 && std::memcmp(body + l.echoBoot(), config_.boot, 8) == 0 &&
      SentAt(Be64(body + l.echoSeq()), sentAt) && arrivedAt - sentAt <= config_.freshnessMs &&
      (!p.hasAccepted || std::memcmp(boot, p.acceptedBoot, 8) != 0 || seq > p.acceptedSeq)) {
    p.lastAccepted = arrivedAt;
    // The latest round it confirmed: a heartbeat echoing an older one does not move it back.
    p.confirmedAt = p.confirmedAt == kNever ? sentAt : std::max(p.confirmedAt, sentAt);
    std::memcpy(p.acceptedBoot, boot, 8);
    p.acceptedSeq = seq;
    p.hasAccepted = true;
    p.acceptedSinceDrain = true;
  }
  uint8_t* m = scratch_.data();
  std::memcpy(m, body, len);
  std::memset(m + l.seq(), 0, 8);
  std::memset(m + l.echoBoot(), 0, 16);
  m[l.flags()] &= static_cast<uint8_t>(~kFlagEcho);
  for (size_t i = 0; i < l.reports; i++) Put16(m + l.report(i) + 4, 0);
  if (!p.hasMasked || p.masked.size() != len || std::memcmp(p.masked.data(), m, len) != 0) {
    contentPending_ = true;
    p.masked.assign(m, m + len);
    p.hasMasked = true;
    return true;
  }
  return false;
}

inline bool Core::CheckTriggers(double now) {
  bool fire = false;
  if (armed_) {
    fire = now >= wakeAt_;
    for (auto it = peers_.begin(); !fire && it != peers_.end(); ++it) {
      const Peer& p = *it->second;
      fire = (p.lastAccepted != kNever && now - p.lastAccepted >= p.silenceMs) ||
             (p.confirmedAt != kNever && now - p.confirmedAt >= p.confirmMs) || (p.wakeOnAccept && p.acceptedSinceDrain);
    }
  }
  // News JavaScript has not drained yet wakes it armed or not, once between two drains.
  if (contentPending_ && !contentFired_) fire = contentFired_ = true;
  if (pending_.count >= kQueueMax / 2 && !queueFired_) fire = queueFired_ = true;
  // Seen: either it fired now, or a wake since the last drain already carries it.
  contentPending_ = false;
  if (fire) armed_ = false;
  return fire;
}

inline double Core::NextDeadline() const {
  double at = nextRound_;
  if (!armed_) return at;
  at = std::min(at, wakeAt_);
  for (const auto& [name, p] : peers_) {
    if (p->lastAccepted != kNever) at = std::min(at, p->lastAccepted + p->silenceMs);
    if (p->confirmedAt != kNever) at = std::min(at, p->confirmedAt + p->confirmMs);
  }
  return at;
}

}  // namespace floatip::pump
