import { describe, expect, it } from "vitest";
import type { Grace } from "../../src/speaker/forward-plan.js";
import {
  FORWARD_PRIORITY,
  parseCounters,
  pollIntervalMs,
  POLL_MIN_MS,
  renderCleanup,
  renderForwarding,
} from "../../src/speaker/forward-nft.js";

const grace = (ip: string, address: string): Grace => ({
  ip,
  from: "master-0",
  address,
  since: 0,
  lastActive: 0,
  leftGracefully: false,
});

describe("nft rendering of the grace periods", () => {
  it("no grace periods: both tables removed, none created", () => {
    expect(renderForwarding([], 60)).toBe(renderCleanup());
    expect(renderCleanup()).toBe(
      "table ip floatip\ndelete table ip floatip\ntable ip6 floatip\ndelete table ip6 floatip\n",
    );
  });

  it("one rule per family, whatever the number of IPs: the IPs in a set with counters, their previous owners in a map", () => {
    const text = renderForwarding(
      [
        grace("203.0.113.51", "198.51.100.13"),
        grace("2001:db8:1::50", "2001:db8:2::11"),
        grace("203.0.113.50", "198.51.100.11"),
      ],
      60,
    );
    expect(text.startsWith(renderCleanup())).toBe(true);
    expect(text).toContain(`type filter hook prerouting priority ${FORWARD_PRIORITY}; policy accept;`);
    expect(FORWARD_PRIORITY).toBeGreaterThan(-200); // after conntrack
    expect(FORWARD_PRIORITY).toBeLessThan(-110); // before kube-proxy's pre-DNAT filter and DNAT
    const rules = text.split("\n").filter((l) => l.includes("dup to"));
    expect(rules).toEqual([
      "    ip daddr @forwarded ip ttl > 1 tcp flags & syn == 0 ct state { new, invalid } update @flows { ip daddr . ip saddr . tcp sport } dup to ip daddr map @previous drop",
      "    ip6 daddr @forwarded ip6 hoplimit > 1 tcp flags & syn == 0 ct state { new, invalid } update @flows { ip6 daddr . ip6 saddr . tcp sport } dup to ip6 daddr map @previous drop",
    ]);
    expect(text).toContain("    elements = { 203.0.113.50, 203.0.113.51 }");
    expect(text).toContain("    elements = { 203.0.113.50 : 198.51.100.11, 203.0.113.51 : 198.51.100.13 }");
    expect(text).toContain("    elements = { 2001:db8:1::50 : 2001:db8:2::11 }");
    expect(text).toContain("table ip floatip {");
    expect(text).toContain("table ip6 floatip {");
    expect(text).toContain("timeout 60s");
    // 5,000 IPs: still one rule per family.
    const many = Array.from({ length: 5000 }, (_, k) =>
      grace(`2001:db8:1::${(k + 1).toString(16)}`, "2001:db8:2::11"),
    );
    expect(
      renderForwarding(many, 60)
        .split("\n")
        .filter((l) => l.includes("dup to")),
    ).toHaveLength(1);
  });

  it("only the family in use gets a table", () => {
    const text = renderForwarding([grace("203.0.113.50", "198.51.100.11")], 0.2);
    expect(text).toContain("table ip floatip {");
    expect(text).not.toContain("table ip6 floatip {");
    expect(text).toContain("timeout 1s");
  });

  it("refuses anything that is not an address of the IP's family (the text goes to nft)", () => {
    expect(() => renderForwarding([grace("203.0.113.50; flush ruleset", "198.51.100.11")], 60)).toThrow();
    expect(() => renderForwarding([grace("203.0.113.50", "2001:db8:2::11")], 60)).toThrow();
    expect(() => renderForwarding([grace("2001:db8:1::50", "198.51.100.11")], 60)).toThrow();
    expect(() => renderForwarding([grace("2001:db8:1::50", 'x" }')], 60)).toThrow();
  });
});

describe("reading the counters back", () => {
  const listing = JSON.stringify({
    nftables: [
      { metainfo: { version: "1.0.6" } },
      { table: { family: "ip", name: "floatip" } },
      {
        set: {
          family: "ip",
          name: "flows",
          elem: [
            { elem: { val: { concat: ["203.0.113.50", "203.0.113.100", 40000] }, expires: 59 } },
            { elem: { val: { concat: ["203.0.113.50", "203.0.113.100", 40001] }, expires: 58 } },
            { concat: ["203.0.113.51", "203.0.113.100", 40002] },
            { elem: { val: 7 } },
          ],
        },
      },
      {
        set: {
          family: "ip",
          name: "forwarded",
          elem: [
            { elem: { val: "203.0.113.50", counter: { packets: 42, bytes: 4200 } } },
            { elem: { val: "203.0.113.51", counter: {} } },
            "203.0.113.52",
            null,
          ],
        },
      },
      { rule: { comment: "something else", expr: [{ counter: { packets: 9 } }] } },
    ],
  });

  it("counts packets per IP in grace and flows per floating IP, skipping what it does not know", () => {
    const counters = parseCounters(listing, { packets: new Map(), flows: new Map() });
    expect(counters.packets).toEqual(new Map([["203.0.113.50", 42]]));
    expect(counters.flows).toEqual(
      new Map([
        ["203.0.113.50", 2],
        ["203.0.113.51", 1],
      ]),
    );
  });

  it("ignores output that is not nft's JSON", () => {
    for (const text of ["", "not json", "{}", '{"nftables": [null]}'.replace("null", "{}")]) {
      expect(parseCounters(text, { packets: new Map(), flows: new Map() }).packets.size).toBe(0);
    }
  });
});

describe("how often the counters are read", () => {
  it("every second for a few grace periods, less often for thousands, never past a quarter of the idle timeout", () => {
    expect(pollIntervalMs(1, 60_000)).toBe(POLL_MIN_MS);
    expect(pollIntervalMs(200, 60_000)).toBe(1000);
    expect(pollIntervalMs(2000, 60_000)).toBe(10_000);
    expect(pollIntervalMs(100_000, 60_000)).toBe(15_000);
    expect(pollIntervalMs(100_000, 2000)).toBe(POLL_MIN_MS);
    // The cost per second (elements listed) stays bounded up to the cap (3,000 at the default 60 s).
    for (const n of [1, 10, 200, 1671, 3000])
      expect(n / (pollIntervalMs(n, 60_000) / 1000)).toBeLessThanOrEqual(200);
  });
});
