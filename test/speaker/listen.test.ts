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
