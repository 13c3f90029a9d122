/**
 * TEST STAND-IN for the Envoy Gateway controller, for the tests that run against the API server
 * alone (test/ops/migrate/cluster.test.ts, test/ops/rollback/rollback.test.ts): it starts in
 * milliseconds, needs no network namespace, and exposes its apply failures (`applyErrors`). The lab
 * runs the real controller instead (envoy-gateway-controller.ts). It implements only
 * the documented behaviour floatip's migrate/rollback depend on (/work/shared/notes/facts.md):
 *
 * - For every Gateway of a GatewayClass with controllerName gateway.envoyproxy.io/gatewayclass-controller
 *   it server-side applies the proxy Service `envoy-<gw-ns>-<gw-name>-<8 hex of sha256>` in
 *   envoy-gateway-system, rendered by src/ops/envoy/render.ts (owning labels, envoyService type/
 *   loadBalancerClass/externalTrafficPolicy/annotations copied for type LoadBalancer, the patch applied
 *   last, Gateway spec.addresses as externalIPs), and deletes other Services with its owning labels.
 * - It reconciles when a GatewayClass, Gateway or EnvoyProxy changes generation, labels or annotations
 *   (EG's watch predicate), and on start. A plainly deleted Service is NOT recreated (only the Gateway
 *   status is updated, EG issue 3632): it comes back on the next such change or a restart.
 * - A failing apply (e.g. a changed loadBalancerClass: immutable, EG issue 1793) is logged and kept.
 * - Gateway status.addresses come from spec.addresses, else from the Service's load-balancer ingress.
 *
 * Not emulated: Envoy itself (the lab's backend stands in), Deployments, routes, merged gateways.
 * Run in-process (new EnvoyGatewayStandIn(kc).start()) or as a process:
 *   node --import tsx lab/envoy-gateway.ts --kubeconfig <file>
 */
import * as k8s from "@kubernetes/client-node";
import { pathToFileURL } from "node:url";
import { envoyProxyRefFor, owningGateway } from "../src/ops/envoy/resolve.js";
import { proxyLabels, renderProxyService } from "../src/ops/envoy/render.js";
import {
  EG_GROUP,
  EG_NAMESPACE,
  EG_VERSION,
  GATEWAY_GROUP,
  GATEWAY_VERSION,
  type EnvoyProxy,
  type Gateway,
  type GatewayAddress,
  type GatewayClass,
} from "../src/ops/envoy/types.js";
import type { KubeService } from "../src/kube/objects.js";

type Obj = k8s.KubernetesObject & { metadata: k8s.V1ObjectMeta };

const merge = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch);
const apply = k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.ServerSideApply);

export interface StandInOptions {
  namespace?: string;
  log?: (event: string, detail?: Record<string, unknown>) => void;
}

export class EnvoyGatewayStandIn {
  /** Apply failures, newest last (tests look for the immutable-class rejection). */
  readonly applyErrors: { service: string; error: string; at: number }[] = [];
  /** Completed reconcile passes. */
  reconciles = 0;
  private readonly namespace: string;
  private readonly core: k8s.CoreV1Api;
  private readonly custom: k8s.CustomObjectsApi;
  private informers: k8s.Informer<Obj>[] = [];
  private readonly caches = new Map<string, k8s.ObjectCache<Obj>>();
  /** Last seen generation/labels/annotations per object: EG's "something that matters changed". */
  private readonly signatures = new Map<string, string>();
  private chain: Promise<void> = Promise.resolve();
  private pending = false;
  private running = false;

  constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly options: StandInOptions = {},
  ) {
    this.namespace = options.namespace ?? EG_NAMESPACE;
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  private log(event: string, detail: Record<string, unknown> = {}): void {
    this.options.log?.(event, detail);
  }

  private customInformer(name: string, group: string, version: string, plural: string): k8s.Informer<Obj> {
    const informer = k8s.makeInformer<Obj>(
      this.kc,
      `/apis/${group}/${version}/${plural}`,
      () =>
        this.custom.listClusterCustomObject({ group, version, plural }) as Promise<
          k8s.KubernetesListObject<Obj>
        >,
    );
    this.caches.set(name, informer);
    for (const verb of ["add", "update"] as const) informer.on(verb, (o) => this.onConfigChange(name, o));
    informer.on("delete", (o) => {
      this.signatures.delete(`${name}/${o.metadata.namespace}/${o.metadata.name}`);
      if (name === "gateway") void this.enqueue(() => this.deleteGatewayServices(o as unknown as Gateway));
      else this.schedule();
    });
    informer.on("error", () => this.restartLater(informer));
    return informer;
  }

  async start(): Promise<void> {
    const services = k8s.makeInformer<Obj>(
      this.kc,
      `/api/v1/namespaces/${this.namespace}/services`,
      () =>
        this.core.listNamespacedService({
          namespace: this.namespace,
          labelSelector: "app.kubernetes.io/managed-by=envoy-gateway",
        }) as Promise<k8s.KubernetesListObject<Obj>>,
      "app.kubernetes.io/managed-by=envoy-gateway",
    );
    // A Service change only feeds Gateway status; a delete does not recreate it (EG #3632).
    for (const verb of ["add", "update", "delete"] as const) {
      services.on(verb, (o) => {
        const gw = owningGateway(o as unknown as KubeService);
        if (gw) void this.enqueue(() => this.syncGatewayStatus(gw.namespace, gw.name));
      });
    }
    services.on("error", () => this.restartLater(services));
    this.caches.set("service", services);
    this.informers = [
      this.customInformer("gatewayclass", GATEWAY_GROUP, GATEWAY_VERSION, "gatewayclasses"),
      this.customInformer("gateway", GATEWAY_GROUP, GATEWAY_VERSION, "gateways"),
      this.customInformer("envoyproxy", EG_GROUP, EG_VERSION, "envoyproxies"),
      services,
    ];
    for (const i of this.informers) await i.start();
    this.running = true; // only now: a pass over half-filled caches would render wrong Services
    this.schedule(); // a (re)started controller reconciles everything
    await this.idle();
  }

  private restartLater(informer: k8s.Informer<Obj>): void {
    setTimeout(() => {
      if (this.running) void informer.start().catch(() => this.restartLater(informer));
    }, 500).unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const i of this.informers) await i.stop();
    this.informers = [];
    this.signatures.clear();
    await this.chain;
  }

  /** What restarting the Envoy Gateway controller does: everything is rendered again. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Resolves once queued work is done. */
  async idle(): Promise<void> {
    let last: Promise<void> | undefined;
    while (last !== this.chain) {
      last = this.chain;
      await last;
    }
  }

  private onConfigChange(kind: string, o: Obj): void {
    const key = `${kind}/${o.metadata.namespace}/${o.metadata.name}`;
    const sig = JSON.stringify([
      o.metadata.generation,
      o.metadata.labels ?? {},
      o.metadata.annotations ?? {},
    ]);
    if (this.signatures.get(key) === sig) return; // status-only update: EG's predicate ignores it
    this.signatures.set(key, sig);
    this.schedule();
  }

  private schedule(): void {
    if (this.pending || !this.running) return;
    this.pending = true;
    void this.enqueue(async () => {
      this.pending = false;
      await this.reconcileAll();
    });
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    this.chain = this.chain
      .then(task)
      .catch((err: unknown) => this.log("taskFailed", { error: String(err) }));
    return this.chain;
  }

  private list<T>(kind: string): T[] {
    return (this.caches.get(kind)?.list() ?? []) as unknown as T[];
  }

  private async reconcileAll(): Promise<void> {
    const classes = this.list<GatewayClass>("gatewayclass");
    const proxies = this.list<EnvoyProxy>("envoyproxy");
    for (const gw of this.list<Gateway>("gateway")) {
      const ref = envoyProxyRefFor(gw, classes);
      if (!ref.ok && ref.reason !== "no-parameters") continue; // not ours, or not accepted
      const proxy = ref.ok
        ? proxies.find((p) => p.metadata.namespace === ref.ref.namespace && p.metadata.name === ref.ref.name)
        : undefined;
      if (ref.ok && !proxy) continue; // a class pointing at a missing EnvoyProxy is not accepted
      await this.applyService(gw, renderProxyService(gw, proxy, this.namespace));
    }
    this.reconciles++;
  }

  private async applyService(gw: Gateway, svc: KubeService): Promise<void> {
    const name = svc.metadata.name;
    try {
      await this.core.patchNamespacedService(
        { name, namespace: this.namespace, body: svc, fieldManager: "envoy-gateway", force: true },
        apply,
      );
      this.log("serviceApplied", { service: name, loadBalancerClass: svc.spec.loadBalancerClass ?? null });
    } catch (err) {
      const error = apiMessage(err);
      this.applyErrors.push({ service: name, error, at: Date.now() });
      this.log("serviceApplyFailed", { service: name, error });
      return;
    }
    // EG deletes other Services that carry this Gateway's owning labels (e.g. an old name).
    const gwNs = gw.metadata.namespace ?? "default";
    const selector = Object.entries(proxyLabels(gwNs, gw.metadata.name))
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    const others = await this.core.listNamespacedService({
      namespace: this.namespace,
      labelSelector: selector,
    });
    for (const o of others.items) {
      if (o.metadata?.name && o.metadata.name !== name) {
        await this.core.deleteNamespacedService({ name: o.metadata.name, namespace: this.namespace });
      }
    }
    await this.syncGatewayStatus(gwNs, gw.metadata.name);
  }

  private async deleteGatewayServices(gw: Gateway): Promise<void> {
    const selector = Object.entries(proxyLabels(gw.metadata.namespace ?? "default", gw.metadata.name))
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    const list = await this.core.listNamespacedService({
      namespace: this.namespace,
      labelSelector: selector,
    });
    for (const o of list.items) {
      await this.core.deleteNamespacedService({ name: o.metadata!.name!, namespace: this.namespace });
    }
  }

  private async syncGatewayStatus(namespace: string, name: string): Promise<void> {
    const gw = this.list<Gateway>("gateway").find(
      (g) => g.metadata.namespace === namespace && g.metadata.name === name,
    );
    if (!gw) return;
    const svc = this.list<KubeService>("service").find((s) => {
      const o = owningGateway(s);
      return o?.namespace === namespace && o.name === name;
    });
    const addresses: GatewayAddress[] =
      gw.spec.addresses && gw.spec.addresses.length > 0
        ? gw.spec.addresses.map((a) => ({ type: a.type ?? "IPAddress", value: a.value }))
        : (svc?.status?.loadBalancer?.ingress ?? [])
            .filter((i) => i.ip)
            .map((i) => ({ type: "IPAddress", value: i.ip! }));
    if (JSON.stringify(gw.status?.addresses ?? []) === JSON.stringify(addresses)) return;
    await this.custom.patchNamespacedCustomObjectStatus(
      {
        group: GATEWAY_GROUP,
        version: GATEWAY_VERSION,
        namespace,
        plural: "gateways",
        name,
        body: { status: { addresses: addresses.length > 0 ? addresses : null } },
      },
      merge,
    );
  }
}

function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body === "string") {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

// As a process: `node --import tsx lab/envoy-gateway.ts --kubeconfig <file>`; SIGTERM stops it.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf("--kubeconfig");
  const kc = new k8s.KubeConfig();
  if (i > 0 && process.argv[i + 1]) kc.loadFromFile(process.argv[i + 1]!);
  else kc.loadFromDefault();
  const standIn = new EnvoyGatewayStandIn(kc, {
    log: (event, detail) => console.log(JSON.stringify({ time: new Date().toISOString(), event, ...detail })),
  });
  process.on("SIGTERM", () => void standIn.stop().then(() => process.exit(0)));
  await standIn.start();
}
