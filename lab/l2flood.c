// l2flood: floods ARP requests or IPv6 neighbour solicitations out of one interface at a bounded rate for a
// bounded time (lab only: run it inside a lab namespace, the frames never leave it). Built and cached by
// lab/l2flood.ts.
//
//   l2flood <interface> arp|ns <target-ip> <frames-per-second, 0 = as fast as possible> <seconds>
//           [source-mac|random] [sender-ip] [destination-mac]
//
// "random" gives every frame its own locally administered source MAC (and, for ns, its own source IP);
// otherwise all frames come from one station. ARP requests go to broadcast (every station on the segment
// sees them) unless a destination MAC is given (unicast ARP: only the owner's port gets them; the switch
// copies nothing). Prints {"sent":N,"seconds":S,"perSecond":R} on stdout.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define FRAME_MAX 128
#define MAX_SECONDS 60.0

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_mac(const char *s, uint8_t out[6]) {
  unsigned v[6];
  if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return -1;
  for (int i = 0; i < 6; i++) out[i] = (uint8_t)v[i];
  return 0;
}

// xorshift64*: cheap and good enough for spoofed addresses.
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

static void random_mac(uint8_t mac[6]) {
  uint64_t r = rnd();
  for (int i = 0; i < 6; i++) mac[i] = (uint8_t)(r >> (8 * i));
  mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);  // unicast, locally administered
}

static uint16_t checksum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += (uint32_t)(p[n - 1] << 8);
  return sum;
}

// ARP request: broadcast, who-has target tell sender.
static uint8_t arp_dst[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static size_t build_arp(uint8_t *f, const uint8_t mac[6], const struct in_addr *sender, const struct in_addr *target) {
  memset(f, 0, 60);
  memcpy(f, arp_dst, 6);
  memcpy(f + 6, mac, 6);
  f[12] = 0x08, f[13] = 0x06;
  const uint8_t hdr[8] = {0, 1, 8, 0, 6, 4, 0, 1};
  memcpy(f + 14, hdr, 8);
  memcpy(f + 22, mac, 6);
  memcpy(f + 28, sender, 4);
  memcpy(f + 38, target, 4);
  return 60;  // minimum Ethernet frame (without FCS)
}

// Neighbour solicitation for target to its solicited-node group, with a source link-layer address option.
static size_t build_ns(uint8_t *f, const uint8_t mac[6], const struct in6_addr *src, const struct in6_addr *target) {
  const size_t icmp_len = 24 + 8;
  memset(f, 0, 14 + 40 + icmp_len);
  const uint8_t *t = target->s6_addr;
  const uint8_t group[16] = {0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, t[13], t[14], t[15]};
  const uint8_t dst_mac[6] = {0x33, 0x33, 0xff, t[13], t[14], t[15]};
  memcpy(f, dst_mac, 6);
  memcpy(f + 6, mac, 6);
  f[12] = 0x86, f[13] = 0xdd;
  uint8_t *ip = f + 14;
  ip[0] = 0x60;
  ip[4] = 0, ip[5] = (uint8_t)icmp_len;
  ip[6] = 58, ip[7] = 255;
  memcpy(ip + 8, src->s6_addr, 16);
  memcpy(ip + 24, group, 16);
  uint8_t *icmp = ip + 40;
  icmp[0] = 135;
  memcpy(icmp + 8, t, 16);
  icmp[24] = 1, icmp[25] = 1;  // source link-layer address, 8 bytes
  memcpy(icmp + 26, mac, 6);
  // Pseudo-header: source, destination, upper-layer length, next header.
  uint32_t sum = sum16(ip + 8, 32, 0) + (uint32_t)icmp_len + 58;
  uint16_t c = checksum_fold(sum16(icmp, icmp_len, sum));
  icmp[2] = (uint8_t)(c >> 8), icmp[3] = (uint8_t)c;
  return 14 + 40 + icmp_len;
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s <interface> arp|ns <target-ip> <per-second> <seconds> [mac|random] [sender-ip] [dst-mac]\n",
            argv[0]);
    return 2;
  }
  const char *ifname = argv[1];
  int ns = strcmp(argv[2], "ns") == 0;
  if (!ns && strcmp(argv[2], "arp") != 0) return fprintf(stderr, "kind must be arp or ns\n"), 2;
  double rate = atof(argv[4]);
  double seconds = atof(argv[5]);
  if (!(seconds > 0) || seconds > MAX_SECONDS) return fprintf(stderr, "seconds must be in (0, 60]\n"), 2;
  int random_src = argc > 6 && strcmp(argv[6], "random") == 0;
  uint8_t mac[6] = {0x02, 0x00, 0x5e, 0x00, 0x00, 0x99};
  if (argc > 6 && !random_src && parse_mac(argv[6], mac) < 0) return fprintf(stderr, "bad MAC %s\n", argv[6]), 2;

  if (argc > 8 && parse_mac(argv[8], arp_dst) < 0) return fprintf(stderr, "bad MAC %s\n", argv[8]), 2;

  struct in_addr target4, sender4;
  struct in6_addr target6, sender6;
  if (ns ? inet_pton(AF_INET6, argv[3], &target6) != 1 : inet_pton(AF_INET, argv[3], &target4) != 1)
    return fprintf(stderr, "bad target IP %s\n", argv[3]), 2;
  const char *sender = argc > 7 ? argv[7] : (ns ? "2001:db8:1::99" : "203.0.113.99");
  if (ns ? inet_pton(AF_INET6, sender, &sender6) != 1 : inet_pton(AF_INET, sender, &sender4) != 1)
    return fprintf(stderr, "bad sender IP %s\n", sender), 2;

  int fd = socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: send only, nothing is queued for reading
  if (fd < 0) return perror("socket(AF_PACKET)"), 1;
  int one = 1;
  setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);  // best effort: skip the qdisc
  struct sockaddr_ll to = {0};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = (int)if_nametoindex(ifname);
  to.sll_protocol = htons(ns ? ETH_P_IPV6 : ETH_P_ARP);
  to.sll_halen = 6;
  if (to.sll_ifindex == 0) return fprintf(stderr, "no interface %s\n", ifname), 1;

  static uint8_t frames[BATCH][FRAME_MAX];
  struct iovec iov[BATCH];
  struct mmsghdr msgs[BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) {
    size_t len = ns ? build_ns(frames[i], mac, &sender6, &target6) : build_arp(frames[i], mac, &sender4, &target4);
    iov[i].iov_base = frames[i];
    iov[i].iov_len = len;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &to;
    msgs[i].msg_hdr.msg_namelen = sizeof to;
  }
  rng_state ^= (uint64_t)getpid() << 17;

  uint64_t sent = 0, refused = 0;
  double start = now_s(), end = start + seconds, t = start;
  while ((t = now_s()) < end) {
    int n = BATCH;
    if (rate > 0) {
      double due = (t - start) * rate - (double)sent;  // frames owed by now
      if (due < 1) {
        struct timespec pause = {0, 200000};  // 0.2 ms: ~20 frames at 100k/s
        nanosleep(&pause, NULL);
        continue;
      }
      if (due < n) n = (int)due;
    }
    if (random_src) {
      for (int i = 0; i < n; i++) {
        uint8_t m[6];
        random_mac(m);
        if (ns) {
          struct in6_addr s = sender6;
          uint64_t r = rnd();
          memcpy(s.s6_addr + 8, &r, 8);
          build_ns(frames[i], m, &s, &target6);
        } else {
          build_arp(frames[i], m, &sender4, &target4);
        }
      }
    }
    int r = sendmmsg(fd, msgs, (unsigned)n, 0);
    if (r < 0) {
      if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) return perror("sendmmsg"), 1;
      refused++;
      continue;
    }
    sent += (uint64_t)r;
  }
  double took = t - start;
  printf("{\"sent\":%llu,\"seconds\":%.3f,\"perSecond\":%.0f,\"refusedBatches\":%llu}\n", (unsigned long long)sent,
         took, (double)sent / took, (unsigned long long)refused);
  close(fd);
  return 0;
}
