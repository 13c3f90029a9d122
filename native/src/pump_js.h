// JavaScript arguments and results of the pump's logic, shared by the threaded pump (pump.cc) and the
// bare logic driven from JavaScript (CoreBinding below, for the differential test against PumpCore).
#pragma once

#include <napi.h>

#include <cstring>
#include <string>
#include <vector>

#include "netaddr.h"
#include "pump_core.h"

namespace floatip::pump {

inline double NumberOr(const Napi::Value& v, double fallback) {
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}

// (key, boot[8], firstSeq, intervalMs, freshnessMs, watchdogMs) from info[at].
struct CoreArgs {
  Config config{};
  std::vector<uint8_t> key;
};

inline bool ParseCoreArgs(const Napi::CallbackInfo& info, size_t at, CoreArgs& out) {
  if (!info[at].IsBuffer() || !info[at + 1].IsBuffer() || info[at + 1].As<Napi::Buffer<uint8_t>>().Length() != 8 ||
      !info[at + 2].IsNumber() || !info[at + 3].IsNumber() || !info[at + 4].IsNumber() || !info[at + 5].IsNumber()) {
    return false;
  }
  Napi::Buffer<uint8_t> key = info[at].As<Napi::Buffer<uint8_t>>();
  out.key.assign(key.Data(), key.Data() + key.Length());
  std::memcpy(out.config.boot, info[at + 1].As<Napi::Buffer<uint8_t>>().Data(), 8);
  out.config.firstSeq = static_cast<uint64_t>(std::max(1.0, info[at + 2].As<Napi::Number>().DoubleValue()));
  out.config.intervalMs = std::max(1.0, info[at + 3].As<Napi::Number>().DoubleValue());
  out.config.freshnessMs = info[at + 4].As<Napi::Number>().DoubleValue();
  out.config.watchdogMs = info[at + 5].As<Napi::Number>().DoubleValue();
  return true;
}

// setPeer(name, hash, address, port)
struct PeerArgs {
  std::string name;
  uint32_t hash = 0;
  sockaddr_storage addr{};
  socklen_t len = 0;
};

inline PeerArgs ParsePeerArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsNumber() || !info[2].IsString() || !info[3].IsNumber()) {
    throw Napi::TypeError::New(env, "setPeer(name, hash, address, port)");
  }
  PeerArgs out;
  out.name = info[0].As<Napi::String>();
  out.hash = info[1].As<Napi::Number>().Uint32Value();
  const std::string address = info[2].As<Napi::String>();
  if (!ParseAddress(address, info[3].As<Napi::Number>().Int32Value(), out.addr, out.len)) {
    throw Napi::TypeError::New(env, "setPeer: invalid address \"" + address + "\"");
  }
  return out;
}

// setTemplate(name, body | undefined, builtAt): the body stays valid while the call runs.
struct TemplateArgs {
  std::string name;
  const uint8_t* body = nullptr;
  size_t len = 0;
  double builtAt = 0;
};

inline TemplateArgs ParseTemplateArgs(const Napi::CallbackInfo& info, double defaultBuiltAt) {
  if (!info[0].IsString() || !(info[1].IsBuffer() || info[1].IsUndefined())) {
    throw Napi::TypeError::New(info.Env(), "setTemplate(name, body | undefined, builtAt)");
  }
  TemplateArgs out;
  out.name = info[0].As<Napi::String>();
  if (info[1].IsBuffer()) {
    out.body = info[1].As<Napi::Buffer<uint8_t>>().Data();
    out.len = info[1].As<Napi::Buffer<uint8_t>>().Length();
  }
  out.builtAt = NumberOr(info[2], defaultBuiltAt);
  return out;
}

// setKey(key, accept?): the buffers stay valid while the call runs.
struct KeyArgs {
  const uint8_t* key = nullptr;
  size_t keyLen = 0;
  const uint8_t* accept = nullptr;
  size_t acceptLen = 0;
};

inline KeyArgs ParseKeyArgs(const Napi::CallbackInfo& info) {
  if (!info[0].IsBuffer() || !(info[1].IsBuffer() || info[1].IsUndefined())) {
    throw Napi::TypeError::New(info.Env(), "setKey(key, accept?)");
  }
  KeyArgs out;
  out.key = info[0].As<Napi::Buffer<uint8_t>>().Data();
  out.keyLen = info[0].As<Napi::Buffer<uint8_t>>().Length();
  if (info[1].IsBuffer()) {
    out.accept = info[1].As<Napi::Buffer<uint8_t>>().Data();
    out.acceptLen = info[1].As<Napi::Buffer<uint8_t>>().Length();
  }
  return out;
}

// An unknown peer (removed in between) is no error: nothing is sent to it.
inline void CheckTemplateResult(Napi::Env env, Core::TemplateResult result) {
  if (result == Core::TemplateResult::kMalformed) {
    throw Napi::TypeError::New(env, "setTemplate: not a heartbeat body of at most 1164 bytes");
  }
}

// [{name, silenceMs, confirmMs, wakeOnAccept}] (absent numbers: no such trigger).
inline void ParseArmPeers(Napi::Env env, const Napi::Value& value, std::vector<ArmPeer>& out) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, "arm(wakeAt, peers)");
  Napi::Array list = value.As<Napi::Array>();
  out.resize(list.Length());
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Object p = list.Get(i).As<Napi::Object>();
    out[i] = {p.Get("name").ToString(), NumberOr(p.Get("silenceMs"), kNever), NumberOr(p.Get("confirmMs"), kNever),
              p.Get("wakeOnAccept").ToBoolean()};
  }
}

// {sent: Float64Array [seq, at, ...], bytes: Buffer (every datagram's bytes, one after another),
//  meta: Float64Array [offset, length, address index, port, arrivedAt, unchanged, ...],
//  addresses: [string] (each distinct sender once), sendErrors: [{peer, errno}], overflow,
//  watchdogStops, stalledMs}. Flat arrays, not an object per round and datagram: a property set
//  through N-API looks its name up each time, which cost an idle speaker more than the datagrams'
//  JavaScript (issue 13). src/native/pump.ts rebuilds the objects.
inline Napi::Object DrainedToJs(Napi::Env env, const Drained& drained) {
  constexpr size_t kMeta = 6;
  Napi::Object out = Napi::Object::New(env);
  Napi::Float64Array sent = Napi::Float64Array::New(env, 2 * drained.sent.size());
  for (size_t i = 0; i < drained.sent.size(); i++) {
    sent[2 * i] = static_cast<double>(drained.sent[i].seq);
    sent[2 * i + 1] = drained.sent[i].at;
  }
  size_t total = 0;
  for (size_t i = 0; i < drained.count; i++) total += drained.datagrams[i].data.size();
  Napi::Buffer<uint8_t> bytes = Napi::Buffer<uint8_t>::New(env, total);
  Napi::Float64Array meta = Napi::Float64Array::New(env, kMeta * drained.count);
  std::vector<std::string> addresses;
  size_t offset = 0;
  for (size_t i = 0; i < drained.count; i++) {
    const Queued& q = drained.datagrams[i];
    int port = 0;
    const std::string address = FormatAddress(q.from, port);
    size_t index = 0;
    while (index < addresses.size() && addresses[index] != address) index++;
    if (index == addresses.size()) addresses.push_back(address);
    if (!q.data.empty()) std::memcpy(bytes.Data() + offset, q.data.data(), q.data.size());
    double* m = meta.Data() + kMeta * i;
    m[0] = static_cast<double>(offset);
    m[1] = static_cast<double>(q.data.size());
    m[2] = static_cast<double>(index);
    m[3] = port;
    m[4] = q.arrivedAt;
    m[5] = q.unchanged ? 1 : 0;
    offset += q.data.size();
  }
  Napi::Array names = Napi::Array::New(env, addresses.size());
  for (uint32_t i = 0; i < addresses.size(); i++) names.Set(i, addresses[i]);
  Napi::Array errors = Napi::Array::New(env, drained.sendErrors.size());
  for (uint32_t i = 0; i < drained.sendErrors.size(); i++) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("peer", drained.sendErrors[i].peer);
    e.Set("errno", drained.sendErrors[i].err);
    errors.Set(i, e);
  }
  out.Set("sent", sent);
  out.Set("bytes", bytes);
  out.Set("meta", meta);
  out.Set("addresses", names);
  out.Set("sendErrors", errors);
  out.Set("overflow", static_cast<double>(drained.overflow));
  out.Set("watchdogStops", static_cast<double>(drained.watchdogStops));
  out.Set("stalledMs", drained.stalledMs);
  return out;
}

// The pump's logic alone, driven from JavaScript with explicit times (any clock, ms) and no socket:
// what a round sends, what a datagram changes, when it would wake. For the differential test.
class CoreBinding : public Napi::ObjectWrap<CoreBinding> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "PumpCore",
        {InstanceMethod<&CoreBinding::SetPeer>("setPeer"), InstanceMethod<&CoreBinding::RemovePeer>("removePeer"),
         InstanceMethod<&CoreBinding::SetTemplate>("setTemplate"), InstanceMethod<&CoreBinding::SetKey>("setKey"),
         InstanceMethod<&CoreBinding::Arm>("arm"),
         InstanceMethod<&CoreBinding::Tick>("tick"), InstanceMethod<&CoreBinding::NoteSendError>("noteSendError"),
         InstanceMethod<&CoreBinding::Receive>("receive"), InstanceMethod<&CoreBinding::CheckTriggers>("checkTriggers"),
         InstanceMethod<&CoreBinding::NextDeadline>("nextDeadline"), InstanceMethod<&CoreBinding::Drain>("drain")});
  }

  // new PumpCore(key, boot[8], firstSeq, intervalMs, freshnessMs, watchdogMs, now)
  explicit CoreBinding(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CoreBinding>(info) {
    CoreArgs args;
    if (!ParseCoreArgs(info, 0, args) || !info[6].IsNumber()) {
      throw Napi::TypeError::New(info.Env(),
                                 "PumpCore(key, boot[8], firstSeq, intervalMs, freshnessMs, watchdogMs, now)");
    }
    core_ = std::make_unique<Core>(args.config, args.key.data(), args.key.size(),
                                   info[6].As<Napi::Number>().DoubleValue());
    if (!core_->ok()) throw Napi::Error::New(info.Env(), "PumpCore: HMAC-SHA256 unavailable in this Node's OpenSSL");
  }

 private:
  Napi::Value SetPeer(const Napi::CallbackInfo& info) {
    const PeerArgs p = ParsePeerArgs(info);
    core_->SetPeer(p.name, p.hash, p.addr, p.len);
    return info.Env().Undefined();
  }
  Napi::Value RemovePeer(const Napi::CallbackInfo& info) {
    core_->RemovePeer(info[0].ToString());
    return info.Env().Undefined();
  }
  Napi::Value SetTemplate(const Napi::CallbackInfo& info) {
    const TemplateArgs t = ParseTemplateArgs(info, 0);
    CheckTemplateResult(info.Env(), core_->SetTemplate(t.name, t.body, t.len, t.builtAt));
    return info.Env().Undefined();
  }
  // setKey(key, accept?)
  Napi::Value SetKey(const Napi::CallbackInfo& info) {
    const KeyArgs k = ParseKeyArgs(info);
    if (!core_->SetKey(k.key, k.keyLen, k.accept, k.acceptLen))
      throw Napi::Error::New(info.Env(), "setKey: HMAC unavailable");
    return info.Env().Undefined();
  }
  // arm(now, wakeAt, peers)
  Napi::Value Arm(const Napi::CallbackInfo& info) {
    ParseArmPeers(info.Env(), info[2], armPeers_);
    core_->Arm(NumberOr(info[0], 0), NumberOr(info[1], kNever), armPeers_);
    return info.Env().Undefined();
  }
  // tick(now): the round's packets [{peer, data}] if one was due ([] if not).
  Napi::Value Tick(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const size_t n = core_->Tick(NumberOr(info[0], 0), out_);
    Napi::Array packets = Napi::Array::New(env, n);
    for (uint32_t k = 0; k < n; k++) {
      Napi::Object p = Napi::Object::New(env);
      p.Set("peer", out_.peers[k]);
      p.Set("data", Napi::Buffer<uint8_t>::Copy(env, out_.packets[k].data(), out_.lengths[k]));
      packets.Set(k, p);
    }
    return packets;
  }
  Napi::Value NoteSendError(const Napi::CallbackInfo& info) {
    core_->NoteSendError(info[0].ToString(), info[1].ToNumber().Int32Value());
    return info.Env().Undefined();
  }
  // receive(data, address, port, arrivedAt)
  Napi::Value Receive(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    sockaddr_storage from;
    socklen_t len = 0;
    if (!info[0].IsBuffer() ||
        !ParseAddress(info[1].ToString().Utf8Value(), info[2].ToNumber().Int32Value(), from, len)) {
      throw Napi::TypeError::New(env, "receive(data, address, port, arrivedAt)");
    }
    Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
    core_->Receive(data.Data(), data.Length(), from, NumberOr(info[3], 0));
    return env.Undefined();
  }
  Napi::Value CheckTriggers(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), core_->CheckTriggers(NumberOr(info[0], 0)));
  }
  Napi::Value NextDeadline(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), core_->NextDeadline());
  }
  Napi::Value Drain(const Napi::CallbackInfo& info) {
    core_->Drain(drained_);
    return DrainedToJs(info.Env(), drained_);
  }

  std::unique_ptr<Core> core_;
  Outgoing out_;
  Drained drained_;
  std::vector<ArmPeer> armPeers_;
};

}  // namespace floatip::pump
