import { describe, expect, it } from "vitest";
import { resolveListenAddress } from "../../src/speaker/listen.js";
import { SPEAKER_DEFAULTS } from "../../src/speaker/speaker.js";

const node = (...addresses: { type: string; address: string }[]) => ({ status: { addresses } });

describe("the speaker's HTTP listen address", () => {
  it("defaults to the Node's InternalIP, not every interface", () => {
    expect(SPEAKER_DEFAULTS.metricsAddress).toBe("InternalIP:7472");
    const n = node(
      { type: "ExternalIP", address: "192.0.2.7" },
      { type: "InternalIP", address: "2001:db8::7" },
      { type: "InternalIP", address: "198.51.100.7" },
    );
    expect(resolveListenAddress("InternalIP:7472", n)).toBe("198.51.100.7:7472");
    expect(
      resolveListenAddress("InternalIP:7472", node({ type: "InternalIP", address: "2001:db8::7" })),
    ).toBe("[2001:db8::7]:7472");
  });

  it("leaves an explicit address alone and reports a Node without InternalIP", () => {
    expect(resolveListenAddress("127.0.0.1:7472", undefined)).toBe("127.0.0.1:7472");
    expect(
      resolveListenAddress("InternalIP:7472", node({ type: "ExternalIP", address: "192.0.2.7" })),
    ).toBeUndefined();
    expect(resolveListenAddress("InternalIP:7472", undefined)).toBeUndefined();
  });
});

describe("listenAddressOrLoopback", () => {
  it("falls back to loopback on the same port and says so when the Node has no InternalIP", async () => {
    const { listenAddressOrLoopback } = await import("../../src/speaker/listen.js");
    let missing = 0;
    expect(listenAddressOrLoopback("InternalIP:7472", { status: { addresses: [] } }, () => missing++)).toBe(
      "127.0.0.1:7472",
    );
    expect(missing).toBe(1);
    expect(listenAddressOrLoopback("10.0.0.1:9", undefined, () => missing++)).toBe("10.0.0.1:9");
    expect(missing).toBe(1);
  });
});
