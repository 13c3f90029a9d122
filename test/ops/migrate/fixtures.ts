// Objects and setup shared by the migrate/rollback tests: the Envoy Gateway configuration of the
// runbook before floatip (a Gateway with spec.addresses → externalIPs, an EnvoyProxy without the class).

import * as k8s from "@kubernetes/client-node";
import { join } from "node:path";
import type { ControlPlane } from "../../../testenv/controlplane.js";
import { installCrds, kubectl } from "../../../testenv/kubectl.js";
import type { EnvoyProxy } from "../../../src/ops/envoy/types.js";
import { repoRoot } from "../../../testenv/binaries.js";
import { envoyGatewayBuild } from "../../../lab/envoy-gateway-controller.js";
import { waitFor } from "../../../src/common/wait.js";
import { runCli, type CliResult } from "../../support/cli.js";
import { egPaths } from "../../../src/ops/envoy/paths.js";
import { proxyServiceName } from "../../../src/ops/envoy/render.js";
import type { KubeClient } from "../../../src/kube/client.js";
import type { MigrateOptions } from "../../../src/ops/migrate/run.js";
import type { RollbackOptions } from "../../../src/ops/rollback/run.js";

export const VIP = "203.0.113.50";
export const EG_NS = "envoy-gateway-system";
export const GW = { namespace: "default", name: "eg" };
export const PROXY = { namespace: EG_NS, name: "custom-proxy-config" };
/** The proxy Service Envoy Gateway renders for GW. */
export const SVC = { namespace: EG_NS, name: proxyServiceName(GW.namespace, GW.name) };

/** A run's dependencies that record its output in `lines` and confirm every plan. */
export function recordingDeps(client: KubeClient, lines: string[], progressPrefix = "progress: ") {
  return {
    client,
    progress: (l: string) => lines.push(`${progressPrefix}${l}`),
    out: (l: string) => lines.push(l),
    confirm: async () => true,
  };
}

/** migrate of the seed's proxy Service to class metallb, with `extra` on top. */
export function migrateOptions(timeoutMs: number, extra: Partial<MigrateOptions> = {}): MigrateOptions {
  return {
    service: SVC,
    lbClass: "metallb",
    namespace: "metallb-system",
    envoyNamespace: EG_NS,
    dryRun: false,
    timeoutMs,
    ...extra,
  };
}

/** rollback of the seed's proxy Service to externalIPs (no uninstall), with `extra` on top. */
export function rollbackOptions(timeoutMs: number, extra: Partial<RollbackOptions> = {}): RollbackOptions {
  return {
    service: SVC,
    uninstall: false,
    dryRun: false,
    lbClass: "metallb",
    namespace: "metallb-system",
    envoyNamespace: EG_NS,
    timeoutMs,
    release: "floatip",
    selector: "app.kubernetes.io/name=floatip",
    helm: "helm",
    ...extra,
  };
}

/** floatip's CRDs and those of the Envoy Gateway version that runs (Gateway API standard channel included). */
export async function installAllCrds(cp: ControlPlane): Promise<void> {
  await installCrds(cp, [join(repoRoot(), "deploy", "crds"), (await envoyGatewayBuild()).crds]);
}

export function envoyProxy(envoyService: Record<string, unknown> = { externalTrafficPolicy: "Cluster" }) {
  return {
    apiVersion: "gateway.envoyproxy.io/v1alpha1",
    kind: "EnvoyProxy",
    metadata: { name: PROXY.name, namespace: PROXY.namespace },
    spec: {
      logging: { level: { default: "warn" } },
      provider: { type: "Kubernetes", kubernetes: { envoyService } },
    },
  };
}

export function gatewayClass() {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "GatewayClass",
    metadata: { name: "eg" },
    spec: {
      controllerName: "gateway.envoyproxy.io/gatewayclass-controller",
      parametersRef: {
        group: "gateway.envoyproxy.io",
        kind: "EnvoyProxy",
        name: PROXY.name,
        namespace: PROXY.namespace,
      },
    },
  };
}

export function gateway(addresses: string[] = [VIP]) {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { name: GW.name, namespace: GW.namespace },
    spec: {
      gatewayClassName: "eg",
      listeners: [{ name: "http", port: 80, protocol: "HTTP" }],
      ...(addresses.length > 0
        ? { addresses: addresses.map((value) => ({ type: "IPAddress", value })) }
        : {}),
    },
  };
}

export function pool(addresses = [`${VIP}/32`]) {
  return {
    apiVersion: "metallb.io/v1beta1",
    kind: "IPAddressPool",
    metadata: { name: "envoy-gateway-pool", namespace: "metallb-system" },
    spec: { addresses, autoAssign: false },
  };
}

export function l2Advertisement() {
  return {
    apiVersion: "metallb.io/v1beta1",
    kind: "L2Advertisement",
    metadata: { name: "envoy-gateway-l2", namespace: "metallb-system" },
    spec: { ipAddressPools: ["envoy-gateway-pool"], interfaces: ["ens3"] },
  };
}

/** Creates objects (and the namespaces they need). */
export async function createAll(kc: k8s.KubeConfig, objects: object[]): Promise<void> {
  const api = k8s.KubernetesObjectApi.makeApiClient(kc);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  for (const ns of [EG_NS, "metallb-system"]) {
    await core.createNamespace({ body: { metadata: { name: ns } } }).catch((err: unknown) => {
      if ((err as { code?: number }).code !== 409) throw err;
    });
  }
  for (const o of objects) await api.create(o as k8s.KubernetesObject);
}

/** Fresh floatip controller and speaker Leases, as running floatip components would keep them. */
export async function fakeFloatipLeases(kc: k8s.KubeConfig, nodes: string[]): Promise<void> {
  const coord = kc.makeApiClient(k8s.CoordinationV1Api);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const lease = (name: string, holder: string) => ({
    metadata: { name, namespace: "metallb-system" },
    spec: { holderIdentity: holder, leaseDurationSeconds: 3600, renewTime: new k8s.V1MicroTime() },
  });
  await coord.createNamespacedLease({
    namespace: "metallb-system",
    body: lease("floatip-controller", "test"),
  });
  for (const n of nodes) {
    await core.createNode({ body: { metadata: { name: n, labels: { "kubernetes.io/hostname": n } } } });
    await coord.createNamespacedLease({
      namespace: "metallb-system",
      body: lease(`floatip-speaker-${n}`, n),
    });
  }
}

/**
 * Runs the real CLI with stdin not a terminal, and no default kubeconfig to fall back on. These
 * API-only clusters run no floatip pods whose --lb-class the commands could read, so the class
 * comes from the environment, as an operator would set it (a flag still wins).
 */
export function floatip(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  return runCli(args, {
    timeoutMs,
    env: { ...process.env, KUBECONFIG: "/nonexistent/kubeconfig", FLOATIP_LB_CLASS: "metallb" },
  });
}

/** Polls until `probe` returns something truthy. */
export function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  return waitFor(what, async () => (await probe().catch(() => undefined)) || undefined, timeoutMs);
}

/** An admission policy that denies every EnvoyProxy update (the "cannot update" refusal). */
export const FREEZE_POLICY = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: freeze-envoyproxy}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: ["gateway.envoyproxy.io"], apiVersions: ["*"], operations: ["UPDATE"], resources: ["envoyproxies"]}
  validations:
  - {expression: "false", message: "EnvoyProxy is frozen by policy"}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: freeze-envoyproxy}
spec: {policyName: freeze-envoyproxy, validationActions: [Deny]}
`;

/** Whether the API server (server-side dry run) lets a class onto the EnvoyProxy right now. */
async function classSticks(client: KubeClient): Promise<"denied" | "stripped" | "ok"> {
  try {
    const res = await client.patch<EnvoyProxy>(
      egPaths.envoyProxy(PROXY),
      { spec: { provider: { kubernetes: { envoyService: { loadBalancerClass: "probe" } } } } },
      { dryRun: true },
    );
    return res.spec?.provider?.kubernetes?.envoyService?.loadBalancerClass === "probe" ? "ok" : "stripped";
  } catch {
    return "denied";
  }
}

/**
 * Runs `body` with an admission policy in force, waiting until the API server enforces it and,
 * afterwards, until it no longer does (policies take a moment either way).
 */
export async function withPolicy(
  cp: ControlPlane,
  client: KubeClient,
  policy: string,
  effect: "denied" | "stripped",
  body: () => Promise<void>,
): Promise<void> {
  await kubectl(cp, ["apply", "-f", "-"], policy);
  try {
    await until(`the policy to take effect (${effect})`, async () => (await classSticks(client)) === effect);
    await body();
  } finally {
    await kubectl(cp, ["delete", "-f", "-"], policy);
    await until("the policy to be lifted", async () => (await classSticks(client)) === "ok");
  }
}

/** Waits until the object versions stop changing (Envoy Gateway reacts asynchronously). */
export async function settled<T>(read: () => Promise<T>, quietMs = 800): Promise<T> {
  let last = JSON.stringify(await read());
  let since = performance.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const now = JSON.stringify(await read());
    if (now !== last) {
      last = now;
      since = performance.now();
    } else if (performance.now() - since >= quietMs) return JSON.parse(now) as T;
  }
}

// A mutating policy that silently drops envoyService.loadBalancerClass, as a misbehaving webhook might.
export const STRIP_POLICY = `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata: {name: strip-class}
spec:
  failurePolicy: Fail
  reinvocationPolicy: Never
  matchConstraints:
    resourceRules:
    - {apiGroups: ["gateway.envoyproxy.io"], apiVersions: ["*"], operations: ["UPDATE"], resources: ["envoyproxies"]}
  matchConditions:
  - name: has-class
    expression: >-
      has(object.spec.provider) && has(object.spec.provider.kubernetes) &&
      has(object.spec.provider.kubernetes.envoyService) &&
      has(object.spec.provider.kubernetes.envoyService.loadBalancerClass)
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: '[JSONPatch{op: "remove", path: "/spec/provider/kubernetes/envoyService/loadBalancerClass"}]'
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata: {name: strip-class}
spec: {policyName: strip-class}
`;
