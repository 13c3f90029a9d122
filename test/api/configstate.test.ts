// ConfigurationState status as MetalLB v0.16 reports it: result, errorSummary, one condition per check.
import { describe, expect, it } from "vitest";
import { configurationStatus, configStateLabels, speakerConfigStateName } from "../../src/api/configstate.js";
import { speakerConfigurationStatus } from "../../src/speaker/configstate.js";

const T0 = "2026-11-29T22:00:00Z";
const T1 = "2026-11-29T22:05:00Z";

describe("configurationStatus", () => {
  it("Unknown before anything was checked, Valid when every check passed", () => {
    expect(configurationStatus([], T0)).toEqual({ result: "Unknown", errorSummary: "", conditions: [] });
    const ok = configurationStatus([{ type: "poolReconcilerValid", errors: [] }], T0);
    expect(ok.result).toBe("Valid");
    expect(ok.conditions).toEqual([
      {
        type: "poolReconcilerValid",
        status: "True",
        reason: "Reconciled",
        message: "",
        lastTransitionTime: T0,
      },
    ]);
  });

  it("Invalid with every error, one per line, and a False ConfigurationError condition", () => {
    const s = configurationStatus(
      [
        { type: "poolReconcilerValid", errors: ["pool a: bad", "pool b: worse"] },
        { type: "configReconcilerValid", errors: [] },
      ],
      T0,
    );
    expect(s.result).toBe("Invalid");
    expect(s.errorSummary).toBe("pool a: bad\npool b: worse");
    expect(s.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["configReconcilerValid", "True", "Reconciled"],
      ["poolReconcilerValid", "False", "ConfigurationError"],
    ]);
  });

  it("keeps lastTransitionTime while a condition's status does not change", () => {
    const first = configurationStatus([{ type: "poolReconcilerValid", errors: [] }], T0);
    const same = configurationStatus([{ type: "poolReconcilerValid", errors: [] }], T1, first.conditions);
    expect(same).toEqual(first);
    const flipped = configurationStatus(
      [{ type: "poolReconcilerValid", errors: ["x"] }],
      T1,
      first.conditions,
    );
    expect(flipped.conditions[0]!.lastTransitionTime).toBe(T1);
  });

  it("names and labels objects as MetalLB does", () => {
    expect(speakerConfigStateName("master-0")).toBe("speaker-master-0");
    expect(configStateLabels("speaker", "master-0")).toEqual({
      "metallb.io/component-type": "speaker",
      "metallb.io/node-name": "master-0",
    });
    expect(configStateLabels("controller")).toEqual({ "metallb.io/component-type": "controller" });
  });
});

describe("speakerConfigurationStatus", () => {
  it("reports unusable pools and advertisements by name", () => {
    const s = speakerConfigurationStatus(
      [
        { metadata: { name: "good" }, spec: { addresses: ["203.0.113.50/32"] } },
        { metadata: { name: "bad" }, spec: { addresses: ["203.0.113.50"] } },
      ],
      [
        {
          metadata: { name: "l2" },
          spec: { preferredNodeSelectors: [{ weight: 0, preference: {} }] },
        },
      ],
      T0,
    );
    expect(s.result).toBe("Invalid");
    expect(s.errorSummary).toContain("IPAddressPool bad: ");
    expect(s.errorSummary).toContain("L2Advertisement l2: spec.preferredNodeSelectors[0].weight");
    expect(s.errorSummary).not.toContain("good");
  });
});
