// Least privilege, both ways: every API call the controller and speaker code makes is allowed to
// their ServiceAccounts (kubectl auth can-i, impersonating them), nothing else is granted, and the
// real processes, started with the args of the installed chart under those ServiceAccounts'
// tokens, do their work without a single "forbidden".
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nativeAvailable } from "../../src/native/rawsocket.js";
import { kubectl } from "../../testenv/kubectl.js";
import { waitFor as poll } from "../../src/common/wait.js";
import { freePort, startManaged, type ManagedProcess } from "../../testenv/process.js";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { CLI, NS, firstContainer, helm, run, serviceAccountKubeconfig, type K8sObject } from "./support.js";

/** One permission: verb on group/resource[/subresource], cluster-wide or in the release namespace. */
interface Need {
  verb: string;
  resource: string;
  group?: string;
  sub?: string;
  /** Namespace-scoped grant (Role); otherwise cluster-wide (ClusterRole). */
  namespaced?: boolean;
  /** Restricted to this object name (resourceNames). */
  name?: string;
  /** Where the code makes the call. */
  why: string;
}

const each = (verbs: string[], rest: Omit<Need, "verb">): Need[] => verbs.map((verb) => ({ verb, ...rest }));

// Derived from src/speaker (inputs.ts, lease.ts, status.ts, configstate.ts) and src/kube (reflector.ts, events.ts).
const SPEAKER: Need[] = [
  ...each(["list", "watch"], {
    resource: "services",
    why: "inputs.ts: Reflector /api/v1/services (the Events' uid comes from this cache)",
  }),
  ...each(["list", "watch"], { resource: "nodes", why: "startWatches: /api/v1/nodes" }),
  ...each(["list", "watch"], { resource: "namespaces", why: "startWatches: /api/v1/namespaces" }),
  ...each(["list", "watch"], {
    resource: "endpointslices",
    group: "discovery.k8s.io",
    why: "startWatches: /apis/discovery.k8s.io/v1/endpointslices",
  }),
  ...each(["create", "patch"], {
    resource: "events",
    why: "status.ts postEvent() through kube/events.ts: POST, and PATCH to aggregate a repeat",
  }),
  ...each(["list", "watch"], {
    resource: "ipaddresspools",
    group: "metallb.io",
    namespaced: true,
    why: "startWatches: crd('ipaddresspools')",
  }),
  ...each(["list", "watch"], {
    resource: "l2advertisements",
    group: "metallb.io",
    namespaced: true,
    why: "startWatches: crd('l2advertisements')",
  }),
  ...each(["list", "watch"], {
    resource: "leases",
    group: "coordination.k8s.io",
    namespaced: true,
    why: "startWatches: peers' node Leases",
  }),
  ...each(["get", "update", "create", "delete"], {
    resource: "leases",
    group: "coordination.k8s.io",
    namespaced: true,
    why: "renewLease (read/replace/create) and stop (delete) of floatip-speaker-<node>",
  }),
  ...each(["list", "create", "delete"], {
    resource: "servicel2statuses",
    group: "metallb.io",
    namespaced: true,
    why: "status.ts findExisting/upsertStatus/deleteStatus",
  }),
  {
    verb: "patch",
    resource: "servicel2statuses",
    sub: "status",
    group: "metallb.io",
    namespaced: true,
    why: "status.ts upsertStatus: patchNamespacedCustomObjectStatus",
  },
  {
    verb: "create",
    resource: "configurationstates",
    group: "metallb.io",
    namespaced: true,
    why: "configstate.ts SpeakerConfigState.update: createNamespacedCustomObject",
  },
  {
    verb: "patch",
    resource: "configurationstates",
    sub: "status",
    group: "metallb.io",
    namespaced: true,
    why: "configstate.ts SpeakerConfigState.update: patchNamespacedCustomObjectStatus",
  },
];

// Derived from src/controller (controller.ts, elector.ts, events.ts, reflector.ts).
const CONTROLLER: Need[] = [
  ...each(["list", "watch"], {
    resource: "services",
    why: "controller.ts start: Reflector /api/v1/services",
  }),
  {
    verb: "patch",
    resource: "services",
    why: "execute(): merge patch of the ip-allocated-from-pool annotation",
  },
  {
    verb: "patch",
    resource: "services",
    sub: "status",
    why: "execute(): merge patch of status.loadBalancer",
  },
  ...each(["list", "watch"], { resource: "namespaces", why: "start: Reflector /api/v1/namespaces" }),
  ...each(["create", "patch"], { resource: "events", why: "events.ts send(): POST, and PATCH to aggregate" }),
  {
    verb: "list",
    resource: "events",
    why: "events.ts: list earlier Events on start (no repeated AllocationFailed)",
  },
  ...each(["list", "watch"], {
    resource: "ipaddresspools",
    group: "metallb.io",
    namespaced: true,
    why: "start: Reflector .../ipaddresspools",
  }),
  {
    verb: "patch",
    resource: "ipaddresspools",
    sub: "status",
    group: "metallb.io",
    namespaced: true,
    why: "flushPoolStatus(): PATCH .../ipaddresspools/<name>/status",
  },
  {
    verb: "create",
    resource: "configurationstates",
    group: "metallb.io",
    namespaced: true,
    why: "configstate.ts write(): POST of its ConfigurationState",
  },
  {
    verb: "patch",
    resource: "configurationstates",
    sub: "status",
    group: "metallb.io",
    namespaced: true,
    name: "controller",
    why: "configstate.ts write(): PATCH .../configurationstates/controller/status",
  },
  {
    verb: "create",
    resource: "leases",
    group: "coordination.k8s.io",
    namespaced: true,
    why: "elector.ts create(): POST",
  },
  ...each(["get", "update"], {
    resource: "leases",
    group: "coordination.k8s.io",
    namespaced: true,
    name: "floatip-controller",
    why: "elector.ts read()/write()/release(): GET and PUT of its own Lease",
  }),
];

const target = (n: Need) => `${n.resource}${n.group ? `.${n.group}` : ""}${n.name ? `/${n.name}` : ""}`;

let cluster: TestCluster;
const work = mkdtempSync(join(tmpdir(), "floatip-rbac-"));
const processes: ManagedProcess[] = [];

async function canI(
  sa: string,
  verb: string,
  what: string,
  namespace: string,
  sub?: string,
): Promise<boolean> {
  const args = ["--kubeconfig", cluster.cp.kubeconfigPath, "auth", "can-i", verb, what, "-n", namespace];
  args.push(`--as=system:serviceaccount:${NS}:${sa}`);
  if (sub) args.push(`--subresource=${sub}`);
  const r = await run(cluster.cp.binaries.kubectl, args);
  if (r.code !== 0 && r.stdout.trim() !== "no") throw new Error(`can-i failed: ${r.stderr}`);
  return r.stdout.trim() === "yes";
}

async function getJson<T = K8sObject>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl(cluster.cp, ["get", ...args, "-o", "json"])) as T;
}

/** A real cluster under load: up to 30 s, every 200 ms. */
const waitFor = <T>(what: string, fn: () => Promise<T | undefined>): Promise<T> =>
  poll(what, fn, 30_000, 200);

function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.end();
  });
}

/** Starts the CLI with the installed workload's args (in-cluster flags swapped for test ones). */
function startLike(
  name: string,
  args: string[],
  env: Record<string, string>,
  logFile: string,
): ManagedProcess {
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const p = startManaged(name, "env", [...envArgs, process.execPath, ...CLI, ...args], logFile);
  processes.push(p);
  return p;
}

beforeAll(async () => {
  cluster = await startTestCluster();
  await helm(
    cluster.cp.binaries.helm,
    [
      "install",
      "floatip",
      "deploy/chart",
      "--namespace",
      NS,
      "--create-namespace",
      "--set",
      "loadBalancerClass=metallb",
    ],
    cluster.cp,
  );
});

afterAll(async () => {
  for (const p of processes) await p.stop(5000);
  await cluster?.cp.stop();
  rmSync(work, { recursive: true, force: true });
});

describe.each([
  ["floatip-speaker", SPEAKER],
  ["floatip-controller", CONTROLLER],
] as const)("ServiceAccount %s", (sa, needs) => {
  it("may make every API call its code makes", async () => {
    const denied: string[] = [];
    await Promise.all(
      needs.map(async (n) => {
        // Cluster-wide needs are checked in a namespace the release does not own.
        const ns = n.namespaced ? NS : "envoy-gateway-system";
        if (!(await canI(sa, n.verb, target(n), ns, n.sub)))
          denied.push(`${n.verb} ${target(n)}${n.sub ? `/${n.sub}` : ""} (${n.why})`);
      }),
    );
    expect(denied).toEqual([]);
  });

  it("is granted nothing beyond those calls", async () => {
    type Rule = { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[] };
    const granted = new Set<string>();
    const add = (rules: Rule[], scope: string) => {
      for (const r of rules)
        for (const g of r.apiGroups ?? [""])
          for (const res of r.resources ?? [])
            for (const v of r.verbs)
              for (const name of r.resourceNames ?? [""]) granted.add(`${scope} ${v} ${g}/${res} ${name}`);
    };
    add((await getJson<{ rules: Rule[] }>(["clusterrole", sa])).rules, "cluster");
    add((await getJson<{ rules: Rule[] }>(["role", sa, "-n", NS])).rules, "namespace");
    const needed = new Set(
      needs.map(
        (n) =>
          `${n.namespaced ? "namespace" : "cluster"} ${n.verb} ${n.group ?? ""}/${n.resource}${n.sub ? `/${n.sub}` : ""} ${n.name ?? ""}`,
      ),
    );
    expect([...granted].sort()).toEqual([...needed].sort());
    // And the Roles are bound to exactly this ServiceAccount.
    for (const [kind, args] of [
      ["clusterrolebinding", [sa]],
      ["rolebinding", [sa, "-n", NS]],
    ] as const) {
      const binding = await getJson<{ subjects: { kind: string; name: string; namespace: string }[] }>([
        kind,
        ...args,
      ]);
      expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: sa, namespace: NS }]);
    }
  });

  it("may not read Secrets, delete Services, create Pods or touch other namespaces' Leases", async () => {
    const forbidden: [string, string, string, string?][] = [
      ["get", "secrets", NS],
      ["list", "secrets", "kube-system"],
      ["delete", "services", "default"],
      ["update", "services", "default"],
      ["create", "pods", NS],
      ["update", "nodes", "default"],
      ["create", "leases.coordination.k8s.io", "kube-system"],
      ["delete", "ipaddresspools.metallb.io", NS],
      ["update", "l2advertisements.metallb.io", NS],
      ["list", "ipaddresspools.metallb.io", "default"],
      ["create", "clusterroles.rbac.authorization.k8s.io", "default"],
      ["impersonate", "serviceaccounts", NS],
    ];
    if (sa === "floatip-controller") {
      forbidden.push(["update", "leases.coordination.k8s.io/floatip-speaker-node-a", NS]);
      forbidden.push(["delete", "leases.coordination.k8s.io/floatip-controller", NS]);
      forbidden.push(["list", "l2advertisements.metallb.io", NS]);
    } else {
      forbidden.push(["patch", "services", "default"], ["patch", "services", "default", "status"]);
    }
    const allowed: string[] = [];
    await Promise.all(
      forbidden.map(async ([verb, what, ns, sub]) => {
        if (await canI(sa, verb, what, ns, sub))
          allowed.push(`${verb} ${what}${sub ? `/${sub}` : ""} in ${ns}`);
      }),
    );
    expect(allowed).toEqual([]);
  });
});

describe("the real processes under their ServiceAccounts, with the installed chart's args", () => {
  /** The container args of the installed workload without the in-cluster-only parts. */
  async function installedArgs(kind: string, name: string): Promise<string[]> {
    return firstContainer(await getJson([kind, name, "-n", NS])).args ?? [];
  }

  it("the controller assigns the floating IP to the class=metallb Service and ignores the class-less one", async () => {
    const args = await installedArgs("deployment", "floatip-controller");
    expect(args).toContain("--lb-class=metallb");
    const kubeconfig = await serviceAccountKubeconfig(cluster.cp, NS, "floatip-controller");
    const metrics = await freePort();
    const log = join(work, "controller.log");
    startLike(
      "controller",
      [...args, `--kubeconfig=${kubeconfig}`, `--metrics-address=127.0.0.1:${metrics}`],
      { POD_NAME: "floatip-controller-test" },
      log,
    );

    await kubectl(cluster.cp, ["create", "namespace", "envoy-gateway-system"]).catch(() => undefined);
    const pool = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { name: envoy-gateway-pool, namespace: ${NS} }
spec: { addresses: [203.0.113.50/32], autoAssign: false }
`;
    const service = (name: string, cls?: string) => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: envoy-gateway-system
  annotations: { metallb.universe.tf/loadBalancerIPs: "203.0.113.50" }
spec:
  type: LoadBalancer
  ${cls ? `loadBalancerClass: ${cls}` : ""}
  ports: [{ port: 80, protocol: TCP }]
`;
    await kubectl(
      cluster.cp,
      ["apply", "-f", "-"],
      `${pool}---\n${service("envoy", "metallb")}---\n${service("kube-dc-owned")}`,
    );

    const ingress = async (name: string) =>
      (
        await getJson<{ status?: { loadBalancer?: { ingress?: { ip: string }[] } } }>([
          "service",
          name,
          "-n",
          "envoy-gateway-system",
        ])
      ).status?.loadBalancer?.ingress?.[0]?.ip;
    expect(await waitFor("the envoy Service's IP", () => ingress("envoy"))).toBe("203.0.113.50");
    // Its other writes: the pool status, the IPAllocated Event, its Lease.
    const status = await waitFor("pool status", async () => {
      const p = await getJson<{ status?: { assignedIPv4?: number } }>([
        "ipaddresspool",
        "envoy-gateway-pool",
        "-n",
        NS,
      ]);
      return p.status?.assignedIPv4 === 1 ? p.status : undefined;
    });
    expect(status.assignedIPv4).toBe(1);
    const events = await waitFor("IPAllocated event", async () => {
      const out = await kubectl(cluster.cp, [
        "get",
        "events",
        "-n",
        "envoy-gateway-system",
        "--field-selector",
        "reason=IPAllocated",
        "-o",
        "name",
      ]);
      return out.trim() ? out : undefined;
    });
    expect(events).toContain("event/envoy.");
    const lease = await getJson<{ spec: { holderIdentity: string } }>([
      "lease",
      "floatip-controller",
      "-n",
      NS,
    ]);
    expect(lease.spec.holderIdentity).toMatch(/^floatip-controller-test_/);
    expect(await httpStatus(metrics, "/readyz")).toBe(200);
    const state = await waitFor("the controller's ConfigurationState", async () => {
      const cs = await getJson<{ status?: { result?: string } }>([
        "configurationstate",
        "controller",
        "-n",
        NS,
      ]);
      return cs.status?.result ? cs : undefined;
    });
    expect(state.status?.result).toBe("Valid");
    expect(await ingress("kube-dc-owned")).toBeUndefined();
    expect(readFileSync(log, "utf8")).not.toMatch(/forbidden/i);
  });

  it.skipIf(!nativeAvailable())(
    "the speaker syncs its caches, keeps its node Lease and removes it on SIGTERM",
    async () => {
      const args = await installedArgs("daemonset", "floatip-speaker");
      expect(args).toContain("--lb-class=metallb");
      const kubeconfig = await serviceAccountKubeconfig(cluster.cp, NS, "floatip-speaker");
      // The key the chart generated, where the pod would have it mounted.
      const secret = await getJson<{ data: { key: string } }>(["secret", "floatip-heartbeat", "-n", NS]);
      const keyFile = join(work, "heartbeat-key");
      writeFileSync(keyFile, Buffer.from(secret.data.key, "base64"), { mode: 0o400 });
      const [metrics, heartbeat] = [await freePort(), await freePort()];
      const adjusted = args.map((a) =>
        a.startsWith("--heartbeat-key-file=") ? `--heartbeat-key-file=${keyFile}` : a,
      );
      // No Node object by this name and no endpoints anywhere: the speaker may not announce anything,
      // so no frame ever leaves this host.
      const node = "rbac-test-node";
      const log = join(work, "speaker.log");
      const speaker = startLike(
        "speaker",
        [
          ...adjusted,
          `--kubeconfig=${kubeconfig}`,
          `--metrics-address=127.0.0.1:${metrics}`,
          `--heartbeat-port=${heartbeat}`,
        ],
        {
          NODE_NAME: node,
          POD_NAME: "floatip-speaker-test",
          POD_UID: "00000000-0000-0000-0000-000000000001",
        },
        log,
      );
      const state = await waitFor("the speaker's ConfigurationState", async () => {
        const cs = await getJson<{
          metadata: { labels?: Record<string, string> };
          status?: { result?: string };
        }>(["configurationstate", `speaker-${node}`, "-n", NS]);
        return cs.status?.result ? cs : undefined;
      });
      expect(state.status?.result).toBe("Valid");
      expect(state.metadata.labels).toEqual({
        "metallb.io/component-type": "speaker",
        "metallb.io/node-name": node,
      });
      const leaseName = `floatip-speaker-${node}`;
      const lease = await waitFor("the speaker's node Lease", () =>
        getJson<{ spec: { holderIdentity: string } }>(["lease", leaseName, "-n", NS]),
      );
      expect(lease.spec.holderIdentity).toBe(node);
      expect(
        await waitFor("/healthz", async () =>
          (await httpStatus(metrics, "/healthz")) === 200 ? true : undefined,
        ),
      ).toBe(true);
      await speaker.stop(10_000);
      expect(await speaker.exited).toBe(0);
      const gone = await run(cluster.cp.binaries.kubectl, [
        "--kubeconfig",
        cluster.cp.kubeconfigPath,
        "get",
        "lease",
        leaseName,
        "-n",
        NS,
      ]);
      expect(gone.stderr).toContain("NotFound");
      const text = readFileSync(log, "utf8");
      expect(text).toContain('"event":"speakerStarted"');
      expect(text).not.toMatch(/forbidden/i);
    },
  );
});
