import { describe, expect, it } from "vitest";
import { speakerSnapshot } from "../../src/speaker/snapshot.js";
import { clusterView } from "../support/views.js";

describe("speakerSnapshot", () => {
  it("shows each peer's timeout as this speaker applies it, none for itself or an unknown peer", () => {
    const view = clusterView(["n0", "n1", "n2"]);
    const timeouts: Record<string, number> = { n0: 5, n1: 240 };
    const snap = speakerSnapshot("n0", true, view, [["192.0.2.1", ["eth0"]]], [], (n) => timeouts[n]);
    expect(snap.members.map((m) => [m.node, m.timeoutMs])).toEqual([
      ["n0", undefined],
      ["n1", 240],
      ["n2", undefined],
    ]);
    expect(snap.announcing).toEqual({ "192.0.2.1": ["eth0"] });
  });
});
