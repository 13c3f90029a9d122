// Admission in the API server: the chart's ValidatingAdmissionPolicy, installed exactly as the seed's
// step 1, refuses every way a tenant could ask for floatip's addresses (class, each request annotation
// under both prefixes, spec.loadBalancerIP, later updates adding them) with a message that says what
// to do, while the platform's namespaces keep working. Tenants are real ServiceAccounts, impersonated.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectionFromKubeconfigText } from "../../src/kube/connection.js";
import { KubeApi } from "../../src/kube/api.js";
import { kubectl } from "../../testenv/kubectl.js";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { CHART, NS, helm, helmResult, run, serviceAccountKubeconfig, type RunResult } from "./support.js";

const TENANT = "tenant-a";
const EG = "envoy-gateway-system";
const FLOATING_IP = "203.0.113.50";
const PREFIXES = ["metallb.io", "metallb.universe.tf"];
const KEYS = ["loadBalancerIPs", "address-pool", "allow-shared-ip", "ip-allocated-from-pool"];
const VALUE: Record<string, string> = {
  loadBalancerIPs: FLOATING_IP,
  "address-pool": "envoy-gateway-pool",
  "allow-shared-ip": "edge",
  "ip-allocated-from-pool": "envoy-gateway-pool",
};

let cluster: TestCluster;
let n = 0;

/** kubectl as a ServiceAccount (impersonated by the admin kubeconfig); never rejects. */
function as(sa: string, ns: string, args: string[], input?: string): Promise<RunResult> {
  return run(
    cluster.cp.binaries.kubectl,
    ["--kubeconfig", cluster.cp.kubeconfigPath, `--as=system:serviceaccount:${ns}:${sa}`, "-n", ns, ...args],
    input !== undefined ? { input } : {},
  );
}

interface SvcOptions {
  cls?: string;
  annotations?: Record<string, string>;
  loadBalancerIP?: string;
}

function serviceYaml(name: string, o: SvcOptions = {}): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, annotations: o.annotations ?? {} },
    spec: {
      type: "LoadBalancer",
      ...(o.cls ? { loadBalancerClass: o.cls } : {}),
      ...(o.loadBalancerIP ? { loadBalancerIP: o.loadBalancerIP } : {}),
      ports: [{ port: 80, protocol: "TCP" }],
    },
  });
}

/** Creates a Service as the namespace's `app` ServiceAccount. */
const create = (ns: string, o: SvcOptions = {}) =>
  as("app", ns, ["create", "-f", "-"], serviceYaml(`s${n++}`, o));

function expectRefused(r: RunResult, what: string): void {
  expect(r.code, `${what} was allowed`).not.toBe(0);
  expect(r.stderr).toContain("floatip-service-requests");
  expect(r.stderr).toContain(`refused in namespace ${TENANT}`);
  // What to do about it.
  expect(r.stderr).toContain("admission.namespaces");
}

async function tenantNamespace(ns: string, labels: Record<string, string> = {}): Promise<void> {
  const labelArgs = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  await kubectl(cluster.cp, ["create", "namespace", ns]);
  if (labelArgs.length > 0) await kubectl(cluster.cp, ["label", "namespace", ns, ...labelArgs]);
  await kubectl(cluster.cp, ["-n", ns, "create", "serviceaccount", "app"]);
  // What a tenant usually holds over Services in its own namespace.
  await kubectl(cluster.cp, [
    "-n",
    ns,
    "create",
    "role",
    "services",
    "--verb=get,list,create,update,patch,delete",
    "--resource=services",
  ]);
  await kubectl(cluster.cp, [
    "-n",
    ns,
    "create",
    "rolebinding",
    "services",
    "--role=services",
    `--serviceaccount=${ns}:app`,
  ]);
}

beforeAll(async () => {
  cluster = await startTestCluster();
  // The seed's step 1, word for word (chart path instead of the repository).
  await helm(
    cluster.cp.binaries.helm,
    [
      "install",
      "floatip",
      CHART,
      "--namespace",
      NS,
      "--create-namespace",
      "--set",
      "loadBalancerClass=metallb",
    ],
    cluster.cp,
  );
  await tenantNamespace(TENANT);
  await tenantNamespace(EG);
  // The policy is enforced a moment after it is created; wait until a refusal is seen.
  const deadline = performance.now() + 30_000;
  for (;;) {
    const r = await create(TENANT, { cls: "metallb" });
    if (r.code !== 0 && r.stderr.includes("floatip-service-requests")) break;
    if (r.code === 0) await kubectl(cluster.cp, ["-n", TENANT, "delete", "service", `s${n - 1}`]);
    if (performance.now() > deadline) throw new Error(`policy not enforced: ${r.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}, 240_000);

afterAll(async () => {
  await cluster?.cp.stop();
});

describe("a tenant namespace (the seed's install)", () => {
  it("may not take floatip's class", async () => {
    const r = await create(TENANT, { cls: "metallb" });
    expectRefused(r, "loadBalancerClass: metallb");
    expect(r.stderr).toContain("spec.loadBalancerClass: metallb refused");
  });

  it.each(PREFIXES.flatMap((p) => KEYS.map((k) => `${p}/${k}`)))(
    "may not set %s, with or without a class",
    async (key) => {
      const value = VALUE[key.split("/")[1]!]!;
      for (const cls of [undefined, "other.example.com/lb"]) {
        const r = await create(TENANT, { annotations: { [key]: value }, ...(cls ? { cls } : {}) });
        expectRefused(r, key);
        expect(r.stderr).toContain(`annotation ${key} refused`);
      }
    },
  );

  it("may not name the platform's pool without an address, nor share under its key", async () => {
    expectRefused(
      await create(TENANT, { annotations: { "metallb.io/address-pool": "envoy-gateway-pool" } }),
      "address-pool",
    );
    const sharing = await create(TENANT, {
      cls: "metallb",
      annotations: { "metallb.io/allow-shared-ip": "edge", "metallb.universe.tf/allow-shared-ip": "edge" },
    });
    expectRefused(sharing, "allow-shared-ip");
    expect(sharing.stderr).toContain("metallb.io/allow-shared-ip, metallb.universe.tf/allow-shared-ip");
  });

  it("may not request spec.loadBalancerIP on a Service floatip would serve", async () => {
    const r = await create(TENANT, { cls: "metallb", loadBalancerIP: FLOATING_IP });
    expectRefused(r, "spec.loadBalancerIP");
  });

  it("may not add any of them to an existing Service later", async () => {
    // A plain LoadBalancer (kube-dc's, no class): allowed, and spec.loadBalancerIP is kube-dc's business.
    const created = await as(
      "app",
      TENANT,
      ["create", "-f", "-"],
      serviceYaml("web", { loadBalancerIP: "192.0.2.10" }),
    );
    expect(created.code, created.stderr).toBe(0);
    for (const key of PREFIXES.flatMap((p) => KEYS.map((k) => `${p}/${k}`))) {
      const r = await as("app", TENANT, [
        "annotate",
        "service",
        "web",
        `${key}=${VALUE[key.split("/")[1]!]}`,
      ]);
      expectRefused(r, `annotating ${key}`);
    }
    const patch = await as("app", TENANT, [
      "patch",
      "service",
      "web",
      "--type=merge",
      "-p",
      JSON.stringify({ metadata: { annotations: { "metallb.io/loadBalancerIPs": FLOATING_IP } } }),
    ]);
    expectRefused(patch, "merge patch");
    // Turning it into a ClusterIP and back with floatip's class is refused as well.
    await as("app", TENANT, [
      "patch",
      "service",
      "web",
      "--type=merge",
      "-p",
      '{"spec":{"type":"ClusterIP","loadBalancerIP":null}}',
    ]);
    const reclass = await as("app", TENANT, [
      "patch",
      "service",
      "web",
      "--type=merge",
      "-p",
      '{"spec":{"type":"LoadBalancer","loadBalancerClass":"metallb"}}',
    ]);
    expectRefused(reclass, "class added by update");
    // Edits that add nothing of the kind still work.
    const label = await as("app", TENANT, ["label", "service", "web", "tier=frontend"]);
    expect(label.code, label.stderr).toBe(0);
  });

  it("keeps ordinary LoadBalancer Services of other implementations working", async () => {
    const r = await create(TENANT, { cls: "kube-dc.com/eip" });
    expect(r.code, r.stderr).toBe(0);
  });
});

describe("the platform's namespaces", () => {
  it("Envoy Gateway's Service with the seed's class and annotation is accepted", async () => {
    const r = await as(
      "app",
      EG,
      ["create", "-f", "-"],
      serviceYaml("envoy-envoy-gateway-system-eg-5d3f1c2a", {
        cls: "metallb",
        annotations: { "metallb.universe.tf/loadBalancerIPs": FLOATING_IP },
      }),
    );
    expect(r.code, r.stderr).toBe(0);
  });

  it("the floatip controller may still write ip-allocated-from-pool anywhere", async () => {
    // Its own token and its own client (it may patch Services but not get them, as kubectl would).
    const path = await serviceAccountKubeconfig(cluster.cp, NS, "floatip-controller");
    const api = new KubeApi(connectionFromKubeconfigText(readFileSync(path, "utf8"), path));
    try {
      await api.request("PATCH", `/api/v1/namespaces/${TENANT}/services/web`, {
        patch: "merge",
        query: { dryRun: "All" },
        body: { metadata: { annotations: { "metallb.io/ip-allocated-from-pool": "general" } } },
      });
    } finally {
      api.close();
    }
  });

  it("a namespace label selector lets labelled namespaces in, and only those", async () => {
    await helm(
      cluster.cp.binaries.helm,
      [
        "upgrade",
        "floatip",
        CHART,
        "--namespace",
        NS,
        "--reuse-values",
        // A string: --set would make "true" a boolean, which the schema refuses as a label value.
        "--set-string",
        "admission.namespaceSelector.matchLabels.platform\\.example\\.com/ingress=true",
      ],
      cluster.cp,
    );
    await tenantNamespace("ingress-b", { "platform.example.com/ingress": "true" });
    const allowed = await waitForCode("ingress-b", 0);
    expect(allowed.code, allowed.stderr).toBe(0);
    expectRefused(await create(TENANT, { cls: "metallb" }), "unlabelled namespace after upgrade");
  });
});

/** Retries a create until the policy change is in force (admission reloads asynchronously). */
async function waitForCode(ns: string, code: number): Promise<RunResult> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const r = await create(ns, { cls: "metallb" });
    if ((r.code === 0) === (code === 0) || performance.now() > deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("bad admission values are refused, never an allow-all", () => {
  const template = (sets: string[]) =>
    helmResult(cluster.cp.binaries.helm, [
      "template",
      "floatip",
      CHART,
      "--namespace",
      NS,
      ...sets.flatMap((s) => ["--set-json", s]),
    ]);

  it.each([
    [
      "a namespace name with a typo in its form",
      'admission.namespaces=["envoy_gateway_system"]',
      "admission/namespaces/0",
    ],
    [
      "a namespace list given as a string",
      'admission.namespaces="envoy-gateway-system"',
      "admission/namespaces",
    ],
    [
      "an empty selector (matches every namespace)",
      "admission.namespaceSelector={}",
      "admission/namespaceSelector",
    ],
    [
      "a selector with no terms",
      'admission.namespaceSelector={"matchLabels":{},"matchExpressions":[]}',
      "admission/namespaceSelector",
    ],
    [
      "In without values",
      'admission.namespaceSelector={"matchExpressions":[{"key":"team","operator":"In"}]}',
      "admission/namespaceSelector",
    ],
    [
      "an unknown operator",
      'admission.namespaceSelector={"matchExpressions":[{"key":"team","operator":"in","values":["a"]}]}',
      "admission/namespaceSelector",
    ],
    [
      "a bad label key",
      'admission.namespaceSelector={"matchLabels":{"bad key":"x"}}',
      "admission/namespaceSelector",
    ],
    ["an unknown field", 'admission.namespaceSelecter={"matchLabels":{"a":"b"}}', "namespaceSelecter"],
  ])("%s", async (_what, set, where) => {
    const r = await template([set]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(where);
  });

  it("without schema validation the template still refuses an empty selector", async () => {
    const r = await helmResult(cluster.cp.binaries.helm, [
      "template",
      "floatip",
      CHART,
      "--skip-schema-validation",
      "--set-json",
      "admission.namespaceSelector={}",
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("would allow every namespace");
  });
});
