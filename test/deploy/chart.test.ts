// The chart as rendered by the real helm CLI (`helm template`, no cluster needed): the class flag,
// security settings, flags the CLI really declares, and the single sources (CRDs, plain manifests).
import type { Command } from "commander";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { controllerCommand } from "../../src/cli/controller.js";
import { speakerCommand } from "../../src/cli/speaker.js";
import { SPEAKER_DEFAULTS } from "../../src/speaker/speaker.js";
import { kubeBinaries } from "../../testenv/binaries.js";
import { CHART_CONTROLLER_NODE_OPTIONS, CHART_NODE_OPTIONS } from "../../bench/lab-speakers.js";
import {
  CHART,
  NS,
  ROOT,
  find,
  firstContainer,
  helm,
  helmResult,
  parseDocs,
  podSpec,
  run,
  type K8sObject,
} from "./support.js";

let helmBin: string;

async function template(sets: string[] = [], extra: string[] = []): Promise<K8sObject[]> {
  const args = ["template", "floatip", CHART, "--namespace", NS, ...sets.flatMap((s) => ["--set", s])];
  return parseDocs(await helm(helmBin, [...args, ...extra]));
}

const speaker = (objs: K8sObject[]) => find(objs, "DaemonSet", "floatip-speaker");
const controller = (objs: K8sObject[]) => find(objs, "Deployment", "floatip-controller");
const argsOf = (w: K8sObject) => firstContainer(w).args ?? [];

/** Long flag names a commander command declares, e.g. "--lb-class", "--no-exclude-cordoned". */
const declared = (cmd: Command) => new Set(cmd.options.map((o) => o.long).filter((l): l is string => !!l));
const flagName = (arg: string) => arg.split("=")[0] ?? arg;

beforeAll(async () => {
  helmBin = (await kubeBinaries()).helm;
});

describe("floatip chart: metadata and sources", () => {
  it("passes helm lint --strict, with and without the class", async () => {
    await helm(helmBin, ["lint", "--strict", CHART]);
    await helm(helmBin, ["lint", "--strict", CHART, "--set", "loadBalancerClass=metallb"]);
  });

  it("is named floatip and versioned like package.json", () => {
    const chart = parse(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as Record<string, string>;
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(chart.name).toBe("floatip");
    expect(chart.appVersion).toBe(pkg.version);
    expect(chart.version).toBe(pkg.version);
  });

  it("ships deploy/crds byte-identical in crds/, and deploy/manifests/floatip.yaml is up to date", async () => {
    // One check for both single sources: the script's --check mode changes nothing.
    const r = await run(join(ROOT, "deploy", "render-manifests.sh"), ["--check"], {
      env: { ...process.env, HELM: helmBin },
    });
    expect(r.code, r.stderr).toBe(0);
  });
});

describe("floatip chart: loadBalancerClass", () => {
  it("renders --lb-class=metallb into BOTH the controller and the speaker (the seed's --set)", async () => {
    const objs = await template(["loadBalancerClass=metallb"]);
    expect(argsOf(controller(objs))).toContain("--lb-class=metallb");
    expect(argsOf(speaker(objs))).toContain("--lb-class=metallb");
  });

  it("renders no class flag at all without the value (floatip then handles only class-less Services)", async () => {
    const objs = await template();
    for (const w of [controller(objs), speaker(objs)]) {
      expect(argsOf(w).filter((a) => a.startsWith("--lb-class"))).toEqual([]);
    }
  });

  it("passes a domain-prefixed class through unchanged and rejects an invalid one", async () => {
    const objs = await template(["loadBalancerClass=example.com/floatip"]);
    expect(argsOf(speaker(objs))).toContain("--lb-class=example.com/floatip");
    const bad = await helmResult(helmBin, ["template", "x", CHART, "--set", "loadBalancerClass=not a class"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("/loadBalancerClass");
  });
});

describe("floatip chart: speaker DaemonSet", () => {
  it("runs on control-plane nodes with hostNetwork and the seed's selector label", async () => {
    const ds = speaker(await template());
    expect(ds.metadata.labels?.["app.kubernetes.io/component"]).toBe("speaker");
    expect(ds.metadata.labels?.["app.kubernetes.io/name"]).toBe("floatip");
    const spec = podSpec(ds);
    expect(spec.hostNetwork).toBe(true);
    expect(spec.dnsPolicy).toBe("ClusterFirstWithHostNet");
    expect(spec.nodeSelector).toEqual({ "node-role.kubernetes.io/control-plane": "" });
    expect(spec.tolerations).toEqual(
      expect.arrayContaining([
        { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
        { key: "node-role.kubernetes.io/master", operator: "Exists", effect: "NoSchedule" },
      ]),
    );
    expect(spec.priorityClassName).toBe("system-node-critical");
    // Covers the speaker's make-before-break handover on SIGTERM.
    expect(spec.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(
      SPEAKER_DEFAULTS.handoverTimeoutMs + 1000,
    );
  });

  it("keeps only NET_RAW, NET_ADMIN and SYS_NICE, read-only root, no privilege escalation", async () => {
    const c = firstContainer(speaker(await template()));
    expect(c.securityContext).toMatchObject({
      runAsUser: 0,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"], add: ["NET_RAW", "NET_ADMIN", "SYS_NICE"] },
    });
  });

  it("adds SYS_NICE only when the speaker will raise its priority (nice < 0 or its default)", async () => {
    const caps = async (sets: string[]) =>
      firstContainer(speaker(await template(sets))).securityContext?.capabilities?.add;
    expect(await caps(["speaker.nice=0"])).toEqual(["NET_RAW", "NET_ADMIN"]);
    expect(await caps(["speaker.nice=5"])).toEqual(["NET_RAW", "NET_ADMIN"]);
    expect(await caps(["speaker.nice=-5"])).toEqual(["NET_RAW", "NET_ADMIN", "SYS_NICE"]);
  });

  it("adds NET_ADMIN only with handover forwarding, and passes its settings", async () => {
    const off = firstContainer(speaker(await template(["speaker.handoverForwarding=false"])));
    expect(off.securityContext?.capabilities?.add).toEqual(["NET_RAW", "SYS_NICE"]);
    expect(off.args).toContain("--no-handover-forwarding");
    const on = firstContainer(speaker(await template(["speaker.forwardIdleMs=5000"])));
    expect(on.args).toEqual(expect.arrayContaining(["--forward-idle-ms=5000", "--forward-limit-ms=360000"]));
    expect(on.args).not.toContain("--no-handover-forwarding");
  });

  it("gets its identity from the downward API and probes /healthz and /readyz on the metrics port", async () => {
    const c = firstContainer(speaker(await template()));
    const fieldRefs = Object.fromEntries(
      (c.env ?? []).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]),
    );
    expect(fieldRefs).toMatchObject({
      NODE_NAME: "spec.nodeName",
      POD_NAME: "metadata.name",
      POD_UID: "metadata.uid",
      POD_IP: "status.podIP",
      FLOATIP_NAMESPACE: "metadata.namespace",
    });
    // The heap settings the lab benchmarks run the speaker with (bench/lab-speakers.ts).
    expect(c.env?.find((e) => e.name === "NODE_OPTIONS")?.value).toBe(CHART_NODE_OPTIONS.join(" "));
    // No probe host: the kubelet probes the pod IP, which for a hostNetwork pod is the node's
    // InternalIP, where the speaker listens by default (not 0.0.0.0).
    expect(c.args).toContain("--metrics-address=InternalIP:7472");
    expect(c.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(c.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    expect(c.ports).toEqual(
      expect.arrayContaining([
        { name: "metrics", containerPort: 7472, protocol: "TCP" },
        { name: "heartbeat", containerPort: 7946, protocol: "UDP" },
      ]),
    );
  });

  it("caps V8's old generation below the memory limit, or where told", async () => {
    const nodeOptions = async (sets: string[]) =>
      firstContainer(speaker(await template(sets))).env?.find((e) => e.name === "NODE_OPTIONS")?.value;
    expect(await nodeOptions(["speaker.resources.limits.memory=1Gi"])).toBe(
      "--max-semi-space-size=2 --max-old-space-size=928",
    );
    expect(await nodeOptions(["speaker.resources.limits.memory=500M"])).toBe(
      "--max-semi-space-size=2 --max-old-space-size=380",
    );
    expect(await nodeOptions(["speaker.resources.limits.memory=128Mi"])).toBe(
      "--max-semi-space-size=2 --max-old-space-size=64",
    );
    expect(await nodeOptions(["speaker.heapLimitMb=300"])).toBe(
      "--max-semi-space-size=2 --max-old-space-size=300",
    );
    expect(await nodeOptions(["speaker.resources.limits.memory=null"])).toBe("--max-semi-space-size=2");
    // The controller likewise, with V8's own young generation.
    const controllerOptions = async (sets: string[]) =>
      firstContainer(controller(await template(sets))).env?.find((e) => e.name === "NODE_OPTIONS")?.value;
    expect(await controllerOptions([])).toBe(CHART_CONTROLLER_NODE_OPTIONS.join(" ")); // bench/allocate.ts's
    expect(await controllerOptions([])).toBe("--max-old-space-size=160");
    expect(await controllerOptions(["controller.heapLimitMb=400"])).toBe("--max-old-space-size=400");
    expect(await controllerOptions(["controller.resources.limits.memory=null"])).toBeUndefined();
  });

  it("passes failover tuning through, and --no-exclude-cordoned only when asked", async () => {
    const args = argsOf(
      speaker(
        await template([
          "speaker.suspectAfterMs=300",
          "speaker.heartbeatIntervalMs=50",
          "speaker.rejoinAfterMs=2000",
          "speaker.handoverTimeoutMs=4000",
          "speaker.excludeCordoned=false",
        ]),
      ),
    );
    expect(args).toEqual(
      expect.arrayContaining([
        "--suspect-after-ms=300",
        "--heartbeat-interval-ms=50",
        "--rejoin-after-ms=2000",
        "--handover-timeout-ms=4000",
        "--no-exclude-cordoned",
      ]),
    );
    expect(argsOf(speaker(await template()))).not.toContain("--no-exclude-cordoned");
  });

  it("defaults equal the speaker's own defaults, so an unset value changes nothing", async () => {
    const args = argsOf(speaker(await template()));
    const d = SPEAKER_DEFAULTS;
    expect(args).toEqual(
      expect.arrayContaining([
        `--heartbeat-port=${d.heartbeatPort}`,
        `--heartbeat-interval-ms=${d.heartbeatIntervalMs}`,
        `--suspect-after-ms=${d.suspectAfterMs}`,
        `--rejoin-after-ms=${d.rejoinAfterMs}`,
        `--handover-timeout-ms=${d.handoverTimeoutMs}`,
        `--lease-duration-ms=${d.leaseDurationMs}`,
        `--lease-renew-ms=${d.leaseRenewMs}`,
        `--metrics-address=${d.metricsAddress}`,
        `--ownership=${d.ownership}`,
        `--heartbeat-fanout=${d.heartbeatFanout}`,
      ]),
    );
  });

  it("renders the sparse fan-out with strict ownership, and refuses it with sticky", async () => {
    const args = argsOf(
      speaker(await template(["speaker.heartbeatFanout=sparse", "speaker.ownership=strict"])),
    );
    expect(args).toEqual(expect.arrayContaining(["--heartbeat-fanout=sparse", "--ownership=strict"]));
    const sticky = await helmResult(helmBin, [
      "template",
      "x",
      CHART,
      "--set",
      "speaker.heartbeatFanout=sparse",
    ]);
    expect(sticky.code).not.toBe(0);
    expect(sticky.stderr).toContain("speaker.heartbeatFanout: sparse needs speaker.ownership: strict");
    const bad = await helmResult(helmBin, ["template", "x", CHART, "--set", "speaker.heartbeatFanout=auto"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("/speaker/heartbeatFanout");
  });
});

describe("floatip chart: controller Deployment", () => {
  it("runs 2 replicas non-root with all capabilities dropped, a read-only root and probes", async () => {
    const deploy = controller(await template());
    expect(deploy.metadata.labels?.["app.kubernetes.io/component"]).toBe("controller");
    expect((deploy as unknown as { spec: { replicas: number } }).spec.replicas).toBe(2);
    const spec = podSpec(deploy);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(spec.hostNetwork).toBeUndefined();
    const c = firstContainer(deploy);
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(c.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(c.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    const metricsDefault = controllerCommand().options.find(
      (o) => o.long === "--metrics-address",
    )?.defaultValue;
    expect(c.args).toContain(`--metrics-address=${String(metricsDefault)}`);
  });

  it("gives both components the release namespace as flag and env, and the image's entry point", async () => {
    const objs = parseDocs(await helm(helmBin, ["template", "floatip", CHART, "--namespace", "lb-test"]));
    for (const w of [find(objs, "Deployment"), find(objs, "DaemonSet")]) {
      const c = firstContainer(w);
      expect(c.args).toContain("--namespace=lb-test");
      expect(c.env?.find((e) => e.name === "FLOATIP_NAMESPACE")?.valueFrom?.fieldRef?.fieldPath).toBe(
        "metadata.namespace",
      );
      // args only: the image's ENTRYPOINT (node dist/src/cli/main.js) picks the subcommand from them.
      expect(c.command).toBeUndefined();
      expect(c.args?.[0]).toBe(w.kind === "Deployment" ? "controller" : "speaker");
    }
  });
});

describe("floatip chart: flags the CLI accepts", () => {
  const rendered = async (sets: string[]) => {
    const objs = await template(["loadBalancerClass=metallb", ...sets]);
    return { speaker: argsOf(speaker(objs)).slice(1), controller: argsOf(controller(objs)).slice(1) };
  };

  it("every flag in the default render is declared by `floatip speaker` / `floatip controller`", async () => {
    const args = await rendered(["speaker.excludeCordoned=false"]);
    const speakerFlags = declared(speakerCommand());
    const controllerFlags = declared(controllerCommand());
    expect(args.speaker.map(flagName).filter((f) => !speakerFlags.has(f))).toEqual([]);
    expect(args.controller.map(flagName).filter((f) => !controllerFlags.has(f))).toEqual([]);
  });

  // The CPU-priority and adaptive-suspicion tuning reach the speaker as the CLI spells them, and
  // `null` leaves the speaker's own default.
  for (const [value, flag, unset] of [
    ["speaker.nice=-5", "--nice", "speaker.nice=null"],
    ["speaker.maxSuspectAfterMs=800", "--max-suspect-after-ms", "speaker.maxSuspectAfterMs=null"],
  ] as const) {
    it(`renders ${flag} from its value and omits it when null`, async () => {
      expect(declared(speakerCommand()).has(flag)).toBe(true);
      expect((await rendered([value])).speaker).toContain(`${flag}=${value.split("=")[1]}`);
      expect((await rendered([unset])).speaker.map(flagName)).not.toContain(flag);
    });
  }
});

describe("floatip chart: heartbeat key, metrics, pools", () => {
  it("generates a random heartbeat key Secret and mounts it for --heartbeat-key-file", async () => {
    const [a, b] = [await template(), await template()];
    const key = (objs: K8sObject[]) =>
      (find(objs, "Secret", "floatip-heartbeat") as { data?: { key?: string } }).data?.key;
    expect(Buffer.from(key(a) ?? "", "base64").toString()).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(key(a)).not.toBe(key(b)); // offline: random each time; installed: kept via lookup (cluster.test.ts)
    const spec = podSpec(speaker(a));
    expect(spec.volumes).toContainEqual(
      expect.objectContaining({ secret: expect.objectContaining({ secretName: "floatip-heartbeat" }) }),
    );
    expect(argsOf(speaker(a))).toContain("--heartbeat-key-file=/etc/floatip/heartbeat/key");
    // A rotation's second key: the Secret's acceptKey, in the same volume (every key of the Secret).
    expect(argsOf(speaker(a))).toContain("--heartbeat-accept-key-file=/etc/floatip/heartbeat/acceptKey");
    // 0400 written in decimal: YAML 1.1 (kubectl) and 1.2 (this parser) read "0400" differently.
    const volume = spec.volumes?.find((v) => v.name === "heartbeat-key") as {
      secret?: { defaultMode?: number; items?: unknown };
    };
    expect(volume.secret?.defaultMode).toBe(0o400);
    expect(volume.secret?.items).toBeUndefined();
  });

  it("uses an existing Secret instead, and says what is missing when there is neither", async () => {
    const objs = await template(["heartbeatKey.create=false", "heartbeatKey.existingSecret=my-key"]);
    expect(objs.some((o) => o.kind === "Secret")).toBe(false);
    expect(podSpec(speaker(objs)).volumes?.[0]?.secret?.secretName).toBe("my-key");
    const r = await helmResult(helmBin, ["template", "x", CHART, "--set", "heartbeatKey.create=false"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("heartbeatKey.existingSecret is required");
  });

  it("serves metrics through headless Services, and ServiceMonitors only when enabled", async () => {
    const objs = await template();
    const svc = find(objs, "Service", "floatip-speaker-metrics") as {
      spec?: { clusterIP?: string; ports?: { port: number }[] };
    };
    expect(svc.spec?.clusterIP).toBe("None");
    expect(svc.spec?.ports?.[0]?.port).toBe(7472);
    expect(find(objs, "Service", "floatip-controller-metrics")).toBeTruthy();
    expect(objs.some((o) => o.kind === "ServiceMonitor")).toBe(false);
    const monitored = await template(["prometheus.serviceMonitor.enabled=true"]);
    expect(
      monitored
        .filter((o) => o.kind === "ServiceMonitor")
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(["floatip-controller", "floatip-speaker"]);
  });

  it("renders optional pools as IPAddressPool + L2Advertisement with their interfaces", async () => {
    const objs = await template([
      "pools[0].name=envoy-gateway-pool",
      "pools[0].addresses={203.0.113.50/32}",
      "pools[0].interfaces={br-ext-cloud}",
    ]);
    expect(find(objs, "IPAddressPool", "envoy-gateway-pool")).toMatchObject({
      spec: {
        addresses: ["203.0.113.50/32"],
        autoAssign: false,
        // Pinned to Envoy Gateway's namespace unless told otherwise.
        serviceAllocation: { namespaces: ["envoy-gateway-system"] },
      },
    });
    expect(find(objs, "L2Advertisement", "envoy-gateway-pool")).toMatchObject({
      spec: { ipAddressPools: ["envoy-gateway-pool"], interfaces: ["br-ext-cloud"] },
    });
    const custom = await template([
      "pools[0].name=team",
      "pools[0].addresses={198.51.100.0/30}",
      "pools[0].namespaces={team-a,team-b}",
    ]);
    expect(find(custom, "IPAddressPool", "team")).toMatchObject({
      spec: { serviceAllocation: { namespaces: ["team-a", "team-b"] } },
    });
  });

  it("rejects out-of-range values through values.schema.json, naming the field", async () => {
    for (const [set, field] of [
      ["speaker.nice=-40", "/speaker/nice"],
      ["speaker.metricsPort=70000", "/speaker/metricsPort"],
      ["image.pullPolicy=Sometimes", "/image/pullPolicy"],
    ]) {
      const r = await helmResult(helmBin, ["template", "x", CHART, "--set", set!]);
      expect(r.code, set).not.toBe(0);
      expect(r.stderr).toContain(field);
    }
  });
});
