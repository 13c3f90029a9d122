// Token buckets for the ARP/NDP answering path, applied in the addon before any frame reaches JS: per
// source MAC, and one for all sources together (a flood from random source MACs). Pure: the caller passes
// a monotonic `now` in milliseconds. Mirrors the limits in src/l2/ratelimit.ts (ReplyLimits).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <unordered_map>

struct ReplyLimits {
  double perSourcePerSecond = 20;
  double perSourceBurst = 40;
  double totalPerSecond = 5000;
  double totalBurst = 5000;
  size_t maxSources = 10000;
};

class ReplyLimiter {
 public:
  explicit ReplyLimiter(const ReplyLimits& limits = {}) : limits_(limits), total_{limits.totalBurst, -1e300} {}

  // Whether a frame from `source` (the 48-bit MAC) may go on at `now`.
  bool Allow(uint64_t source, double now) {
    auto it = sources_.find(source);
    if (it == sources_.end()) {
      // Bounded memory under spoofed MACs: forget the source seen first (insertion order).
      while (!order_.empty() && sources_.size() >= std::max<size_t>(limits_.maxSources, 1)) {
        sources_.erase(order_.front());
        order_.pop_front();
      }
      it = sources_.emplace(source, Bucket{limits_.perSourceBurst, now}).first;
      order_.push_back(source);
    }
    // The per-source bucket first: one noisy source must not use up everyone's share.
    if (!Take(it->second, limits_.perSourcePerSecond, limits_.perSourceBurst, now)) return false;
    return Take(total_, limits_.totalPerSecond, limits_.totalBurst, now);
  }

  size_t TrackedSources() const { return sources_.size(); }

 private:
  struct Bucket {
    double tokens;
    double at;
  };

  static bool Take(Bucket& b, double perSecond, double burst, double now) {
    double elapsed = std::max(0.0, now - b.at);
    b.tokens = std::min(burst, b.tokens + elapsed * perSecond / 1000);
    b.at = std::max(b.at, now);  // a clock that goes backwards gives no extra tokens
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  ReplyLimits limits_;
  Bucket total_;
  std::unordered_map<uint64_t, Bucket> sources_;
  std::deque<uint64_t> order_;
};
