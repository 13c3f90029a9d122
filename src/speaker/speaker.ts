/**
 * The speaker: one per node. Wires the pure parts (membership, plan) to their I/O: Kubernetes
 * caches, the node Lease, UDP heartbeats, the raw-socket announcer, logs, Events, ServiceL2Status,
 * metrics and health endpoints.
 */
import * as k8s from "@kubernetes/client-node";
import { createSocket, type Socket } from "node:dgram";
import { createServer, type Server } from "node:http";
import { setPriority } from "node:os";
import type { Logger } from "pino";
import {
  METALLB_GROUP,
  METALLB_VERSION,
  type IPAddressPool,
  type L2Advertisement,
  type Service,
} from "../api/types.js";
import { decodeHeartbeat, encodeHeartbeat } from "../election/heartbeat.js";
import { Membership, type ClusterView, type HeartbeatInfo } from "../election/membership.js";
import { apiErrorMessage } from "../kube/client.js";
import { Watched } from "../kube/watched.js";
import { Announcer, DEFAULT_GARP_SCHEDULE_MS } from "./announcer.js";
import { carrierOf, defaultAnnounceInterfaces } from "./interfaces.js";
import { SPEAKER_DEFAULTS } from "./defaults.js";
import { SpeakerMetrics } from "./metrics.js";
import { planAnnouncements, type IpPlan } from "./plan.js";
import { StatusWriter } from "./status.js";
import { announceInterfaceNames, parsePools, planAdvertisements, planNodes, planServices } from "./world.js";

export interface SpeakerConfig {
  nodeName: string;
  namespace: string;
  lbClass?: string;
  heartbeatPort: number;
  /** Address peers send heartbeats to; default: the Node's InternalIP. */
  heartbeatAddress?: string;
  heartbeatIntervalMs: number;
  heartbeatKey?: Buffer;
  suspectAfterMs: number;
  maxSuspectAfterMs: number;
  rejoinAfterMs: number;
  /** Scheduling priority (nice) to ask for: failure detection is latency-critical. */
  nice: number;
  leaseDurationMs: number;
  leaseRenewMs: number;
  handoverTimeoutMs: number;
  excludeCordoned: boolean;
  /** host:port for /metrics, /healthz, /readyz; empty disables. */
  metricsAddress: string;
  garpScheduleMs?: number[];
  podName?: string;
  podUid?: string;
}

export { SPEAKER_DEFAULTS };

export const LEASE_LABEL = "floatip.io/speaker-lease";
export const LEASE_ADDRESS_ANNOTATION = "floatip.io/heartbeat-address";
const leaseName = (node: string) => `floatip-speaker-${node}`;

interface Peer {
  address: string;
  port: number;
}

export class Speaker {
  readonly metrics = new SpeakerMetrics();
  private readonly membership: Membership;
  private readonly announcer: Announcer;
  private readonly status: StatusWriter;
  private readonly incarnation = Date.now();
  private seq = 0;
  private readonly coordination: k8s.CoordinationV1Api;
  private readonly peers = new Map<string, Peer>();
  private udp: Socket | undefined;
  private http: Server | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private maxLag = 0;
  private lastRenewOk = 0;
  private leaving = false;
  private stopped = false;
  private defaultInterfaces: string[] = [];
  /** IPs we answer for, the service they belong to, and when their handover started. */
  private readonly current = new Map<string, { service: string; pool: string; handoverSince?: number }>();
  private readonly refusalsLogged = new Set<string>();
  private lastView: ClusterView | undefined;
  private watches: Watched<k8s.KubernetesObject>[] = [];
  private services!: Watched<k8s.V1Service>;
  private slices!: Watched<k8s.V1EndpointSlice>;
  private nodes!: Watched<k8s.V1Node>;
  private namespaces!: Watched<k8s.V1Namespace>;
  private pools!: Watched<k8s.KubernetesObject>;
  private ads!: Watched<k8s.KubernetesObject>;
  private leases!: Watched<k8s.V1Lease>;
  private synced = false;

  constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly config: SpeakerConfig,
    private readonly log: Logger,
  ) {
    this.membership = new Membership(
      {
        self: config.nodeName,
        suspectAfterMs: config.suspectAfterMs,
        maxSuspectAfterMs: config.maxSuspectAfterMs,
        rejoinAfterMs: config.rejoinAfterMs,
      },
      Date.now(),
    );
    this.announcer = new Announcer(log, this.metrics, config.garpScheduleMs ?? DEFAULT_GARP_SCHEDULE_MS);
    this.coordination = kc.makeApiClient(k8s.CoordinationV1Api);
    this.status = new StatusWriter(kc, config, log);
  }

  async start(): Promise<void> {
    this.raisePriority();
    await this.startHttp();
    this.startWatches();
    await Promise.all(
      this.watches.map((w) =>
        w.start().catch((err: unknown) => {
          throw new Error(`cannot read from the API server: ${apiErrorMessage(err)}`);
        }),
      ),
    );
    this.synced = true;
    await this.status
      .deleteOwn()
      .catch((err: unknown) =>
        this.log.warn(
          { event: "statusCleanupFailed", error: apiErrorMessage(err) },
          "could not remove ServiceL2Status left by a previous run",
        ),
      );
    this.defaultInterfaces = defaultAnnounceInterfaces();
    await this.startHeartbeats();
    await this.renewLease();
    this.renewTimer = setInterval(() => void this.renewLease(), this.config.leaseRenewMs);
    this.lastTick = Date.now();
    this.tickTimer = setInterval(() => this.tick(), this.config.heartbeatIntervalMs);
    this.log.info(
      {
        event: "speakerStarted",
        node: this.config.nodeName,
        lbClass: this.config.lbClass ?? null,
        heartbeatPort: this.config.heartbeatPort,
      },
      "speaker started",
    );
  }

  /** Like keepalived's vrrp_priority: a starved speaker is a slow or spurious failover. */
  private raisePriority(): void {
    try {
      setPriority(0, this.config.nice);
    } catch (err) {
      this.log.warn(
        { event: "priorityNotRaised", nice: this.config.nice, error: String(err) },
        "cannot raise scheduling priority (needs CAP_SYS_NICE)",
      );
    }
  }

  private startWatches(): void {
    const onChange = () => {};
    const log = this.log;
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const discovery = this.kc.makeApiClient(k8s.DiscoveryV1Api);
    const custom = this.kc.makeApiClient(k8s.CustomObjectsApi);
    const ns = this.config.namespace;
    this.services = new Watched(this.kc, {
      name: "services",
      path: "/api/v1/services",
      list: () => core.listServiceForAllNamespaces(),
      onChange,
      log,
    });
    this.slices = new Watched(this.kc, {
      name: "endpointslices",
      path: "/apis/discovery.k8s.io/v1/endpointslices",
      list: () => discovery.listEndpointSliceForAllNamespaces(),
      onChange,
      log,
    });
    this.nodes = new Watched(this.kc, {
      name: "nodes",
      path: "/api/v1/nodes",
      list: () => core.listNode(),
      onChange,
      log,
    });
    this.namespaces = new Watched(this.kc, {
      name: "namespaces",
      path: "/api/v1/namespaces",
      list: () => core.listNamespace(),
      onChange,
      log,
    });
    const crd = (plural: string) =>
      new Watched<k8s.KubernetesObject>(this.kc, {
        name: plural,
        path: `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${ns}/${plural}`,
        list: () =>
          custom.listNamespacedCustomObject({
            group: METALLB_GROUP,
            version: METALLB_VERSION,
            namespace: ns,
            plural,
          }) as Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>,
        onChange,
        log,
      });
    this.pools = crd("ipaddresspools");
    this.ads = crd("l2advertisements");
    this.leases = new Watched(this.kc, {
      name: "leases",
      path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
      list: () => this.coordination.listNamespacedLease({ namespace: ns, labelSelector: LEASE_LABEL }),
      labelSelector: LEASE_LABEL,
      onChange: (kind, lease) => this.onLease(kind, lease),
      log,
    });
    this.watches = [
      this.services,
      this.slices,
      this.nodes,
      this.namespaces,
      this.pools,
      this.ads,
      this.leases,
    ] as Watched<k8s.KubernetesObject>[];
  }

  private onLease(kind: "add" | "update" | "delete", lease: k8s.V1Lease): void {
    const node = lease.spec?.holderIdentity;
    if (!node || node === this.config.nodeName) return;
    if (kind === "delete") {
      this.membership.observeLease(node, undefined);
      this.peers.delete(node);
      return;
    }
    this.membership.observeLease(node, {
      observedRenewAt: Date.now(),
      durationMs: (lease.spec?.leaseDurationSeconds ?? 6) * 1000,
    });
    const address = lease.metadata?.annotations?.[LEASE_ADDRESS_ANNOTATION];
    const parsed = address ? parseHostPort(address) : undefined;
    if (parsed) this.peers.set(node, parsed);
  }

  private async startHeartbeats(): Promise<void> {
    const udp = createSocket({ type: "udp4", reuseAddr: true });
    udp.on("message", (msg) => {
      const decoded = decodeHeartbeat(msg, this.config.heartbeatKey);
      if (!decoded.ok) {
        this.metrics.framesIgnored.inc({ reason: `heartbeat-${decoded.reason}` });
        return;
      }
      this.membership.observeHeartbeat(decoded.heartbeat, Date.now());
    });
    udp.on("error", (err) =>
      this.log.error({ event: "heartbeatSocketError", error: err.message }, "heartbeat socket error"),
    );
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(this.config.heartbeatPort, () => {
        udp.off("error", reject);
        resolve();
      });
    });
    this.udp = udp;
  }

  private heartbeatAddress(): string | undefined {
    if (this.config.heartbeatAddress) return this.config.heartbeatAddress;
    const node = this.nodes.get(this.config.nodeName);
    return node?.status?.addresses?.find((a) => a.type === "InternalIP" && !a.address.includes(":"))?.address;
  }

  /** Renews (or creates) this node's Lease; its success is our measure of API server reachability. */
  private async renewLease(): Promise<void> {
    const ns = this.config.namespace;
    const name = leaseName(this.config.nodeName);
    const address = this.heartbeatAddress();
    const body: k8s.V1Lease = {
      metadata: {
        name,
        namespace: ns,
        labels: { [LEASE_LABEL]: "true" },
        annotations: {
          ...(address ? { [LEASE_ADDRESS_ANNOTATION]: `${address}:${this.config.heartbeatPort}` } : {}),
          "floatip.io/lb-class": this.config.lbClass ?? "", // read by the runbook's --lb-class check
        },
      },
      spec: {
        holderIdentity: this.config.nodeName,
        leaseDurationSeconds: Math.ceil(this.config.leaseDurationMs / 1000),
        renewTime: new k8s.V1MicroTime(),
      },
    };
    const attempt = (async () => {
      try {
        const existing = await this.coordination.readNamespacedLease({ name, namespace: ns });
        body.metadata!.resourceVersion = existing.metadata?.resourceVersion;
        body.spec!.acquireTime = existing.spec?.acquireTime;
        body.spec!.leaseTransitions = existing.spec?.leaseTransitions;
        await this.coordination.replaceNamespacedLease({ name, namespace: ns, body });
      } catch (err) {
        if ((err as { code?: number }).code !== 404) throw err;
        body.spec!.acquireTime = new k8s.V1MicroTime();
        await this.coordination.createNamespacedLease({ namespace: ns, body });
      }
    })();
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("lease renewal timed out")), this.config.leaseRenewMs).unref(),
    );
    try {
      await Promise.race([attempt, timeout]);
      if (this.lastRenewOk === 0 || Date.now() - this.lastRenewOk > this.config.leaseRenewMs * 2) {
        this.log.info({ event: "apiServerReachable", node: this.config.nodeName }, "lease renewed");
      }
      this.lastRenewOk = Date.now();
    } catch (err) {
      attempt.catch(() => undefined);
      this.log.warn(
        { event: "leaseRenewFailed", error: apiErrorMessage(err) },
        "cannot renew node lease; keep serving and failing over through heartbeats",
      );
    }
  }

  private apiHealthy(now: number): boolean {
    return this.lastRenewOk > 0 && now - this.lastRenewOk <= this.config.leaseRenewMs * 2 + 500;
  }

  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    const lag = now - this.lastTick - this.config.heartbeatIntervalMs;
    this.lastTick = now;
    this.maxLag = Math.max(this.maxLag, lag);
    // Silent for a whole suspicion window: peers may have written us off.
    if (lag + this.config.heartbeatIntervalMs >= this.config.suspectAfterMs) {
      // Frozen or starved: peers may have taken our IPs. Their next heartbeats tell.
      this.membership.noteSelfStall(now, lag);
      this.log.warn(
        { event: "speakerStalled", lagMs: lag },
        "event loop stalled; checking whether peers wrote this node off",
      );
    }
    // Step after this loop iteration's I/O: heartbeats that queued up while we were late count first.
    setImmediate(() => this.safeStep());
  }

  private safeStep(): void {
    if (this.stopped) return;
    try {
      this.step(Date.now());
    } catch (err) {
      this.log.error(
        { event: "tickFailed", error: err instanceof Error ? err.stack : String(err) },
        "speaker step failed",
      );
    }
  }

  private step(now: number): void {
    const ads = this.ads.list() as L2Advertisement[];
    const interfaces = announceInterfaceNames(ads, this.defaultInterfaces);
    this.membership.setApiHealthy(this.apiHealthy(now));
    this.membership.setSelfCarrier(carrierOf(interfaces));
    this.membership.setSelfLeaving(this.leaving);
    this.membership.setSelfAnnouncing(
      new Set([...this.current.entries()].filter(([, c]) => c.handoverSince === undefined).map(([ip]) => ip)),
    );
    const view = this.membership.view(now);
    this.sendHeartbeats(now, view);

    const pools = parsePools(this.pools.list() as IPAddressPool[]);
    const namespaceLabels = new Map(
      this.namespaces.list().map((n) => [n.metadata?.name ?? "", n.metadata?.labels ?? {}]),
    );
    const { services, refused } = planServices({
      services: this.services.list() as unknown as Service[],
      slices: this.slices.list(),
      pools,
      namespaceLabels,
      lbClass: this.config.lbClass,
    });
    for (const r of refused) {
      const key = `${r.service}|${r.reason}`;
      if (this.refusalsLogged.has(key)) continue;
      this.refusalsLogged.add(key);
      this.log.warn(
        { event: "serviceRefused", service: r.service, reason: r.reason },
        "not announcing this Service's IP",
      );
    }
    const plans = planAnnouncements({
      self: this.config.nodeName,
      now,
      view,
      nodes: planNodes(this.nodes.list()),
      advertisements: planAdvertisements(ads, pools),
      services,
      current: this.current,
      options: {
        excludeCordoned: this.config.excludeCordoned,
        handoverTimeoutMs: this.config.handoverTimeoutMs,
      },
    });
    this.apply(plans, view, now);
    this.lastView = view;
    this.metrics.membersAlive.set([...view.members.values()].filter((m) => m.alive).length);
    this.metrics.apiHealthy.set(this.apiHealthy(now) ? 1 : 0);
  }

  private sendHeartbeats(now: number, view: ClusterView): void {
    if (!this.udp) return;
    const hb: HeartbeatInfo = {
      from: this.config.nodeName,
      incarnation: this.incarnation,
      seq: ++this.seq,
      leaving: this.leaving,
      ready: this.membership.selfReady(now),
      heard: this.membership.heardDirectly(now),
      announcing: [...this.current.entries()]
        .filter(([, c]) => c.handoverSince === undefined)
        .map(([ip]) => ip),
      carrier: { ...view.members.get(this.config.nodeName)?.carrier },
    };
    const packet = encodeHeartbeat(hb, this.config.heartbeatKey);
    for (const peer of this.peers.values()) {
      this.udp.send(packet, peer.port, peer.address, () => {});
    }
  }

  private apply(plans: IpPlan[], view: ClusterView, now: number): void {
    const planned = new Set<string>();
    const announcedServices = new Map<string, { ips: string[]; pool: string; interfaces: Set<string> }>();
    const changedServices = new Set<string>();
    for (const plan of plans) {
      planned.add(plan.ip);
      const action = plan.action;
      const cur = this.current.get(plan.ip);
      if (action.kind === "announce") {
        const errors = this.announcer.set(plan.ip, action.interfaces);
        for (const e of errors)
          this.log.error({ event: "announceFailed", ip: plan.ip, error: e }, "cannot announce");
        if (!cur || cur.handoverSince !== undefined) {
          this.current.set(plan.ip, { service: plan.service, pool: plan.pool });
          changedServices.add(plan.service);
          this.metrics.ownershipChanges.inc({ change: "announce", reason: cur ? "reclaimed" : "owner" });
          this.metrics.announced.set(
            { service: plan.service, protocol: "layer2", node: this.config.nodeName, ip: plan.ip },
            1,
          );
          this.observeFailover(plan, view, now);
        }
        const entry = announcedServices.get(plan.service) ?? {
          ips: [],
          pool: plan.pool,
          interfaces: new Set<string>(),
        };
        entry.ips.push(plan.ip);
        action.interfaces.forEach((i) => entry.interfaces.add(i));
        announcedServices.set(plan.service, entry);
      } else if (action.kind === "handover") {
        if (cur && cur.handoverSince === undefined) {
          cur.handoverSince = now;
          this.log.info(
            { event: "handoverStarted", ip: plan.ip, service: plan.service, to: action.to },
            "successor chosen; answering until it announces",
          );
        }
      } else if (action.kind === "withdraw") {
        this.withdraw(plan.ip, plan.service, action.reason);
        changedServices.add(plan.service);
      }
    }
    for (const [ip, cur] of this.current) {
      if (!planned.has(ip)) {
        this.withdraw(ip, cur.service, "serviceGone");
        changedServices.add(cur.service);
      }
    }
    for (const service of changedServices) {
      const entry = announcedServices.get(service);
      if (entry) {
        this.log.info(
          {
            event: "serviceAnnounced",
            ips: entry.ips,
            pool: entry.pool,
            protocol: "layer2",
            service,
            node: this.config.nodeName,
            interfaces: [...entry.interfaces],
          },
          "service has IP, announcing",
        );
        const live = new Set([...view.members.values()].filter((m) => m.alive).map((m) => m.node));
        this.status.announced(service, [...entry.interfaces], entry.ips, live);
      } else if (![...this.current.values()].some((c) => c.service === service)) {
        this.status.withdrawn(service);
      }
    }
  }

  private withdraw(ip: string, service: string, reason: string): void {
    if (!this.current.has(ip)) return;
    this.announcer.remove(ip);
    this.current.delete(ip);
    this.metrics.ownershipChanges.inc({ change: "withdraw", reason });
    this.metrics.announced.remove({ service, protocol: "layer2", node: this.config.nodeName, ip });
    this.log.info(
      { event: "serviceWithdrawn", ip, service, reason, node: this.config.nodeName },
      "withdrawing service announcement",
    );
  }

  private observeFailover(plan: IpPlan, view: ClusterView, now: number): void {
    const previous = this.lastView;
    if (!previous) return;
    // The previous owner is whichever other node announced the IP in the last view.
    for (const member of previous.members.values()) {
      if (member.node === this.config.nodeName || !member.announcing.has(plan.ip)) continue;
      const lastHeard = this.membership.lastHeard(member.node);
      if (lastHeard !== undefined && !view.members.get(member.node)?.alive) {
        this.metrics.failoverSeconds.observe((now - lastHeard) / 1000);
      }
    }
  }

  /** Graceful stop: hand every IP to its successor (make-before-break), drop the Lease, exit. */
  async stop(): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    this.log.info(
      { event: "speakerStopping", announced: [...this.current.keys()] },
      "handing over before exit",
    );
    const deadline = Date.now() + this.config.handoverTimeoutMs + 1000;
    while (this.current.size > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, this.config.heartbeatIntervalMs));
    this.stopped = true;
    clearInterval(this.tickTimer);
    clearInterval(this.renewTimer);
    for (const ip of [...this.current.keys()]) this.withdraw(ip, this.current.get(ip)!.service, "shutdown");
    this.announcer.close();
    await Promise.race([
      this.coordination
        .deleteNamespacedLease({ name: leaseName(this.config.nodeName), namespace: this.config.namespace })
        .catch(() => undefined),
      new Promise((r) => setTimeout(r, 1000)),
    ]);
    await this.status.flush(1000);
    await Promise.all(this.watches.map((w) => w.stop().catch(() => undefined)));
    this.udp?.close();
    await new Promise<void>((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
    this.log.info({ event: "speakerStopped" }, "speaker stopped");
  }

  private async startHttp(): Promise<void> {
    if (!this.config.metricsAddress) return;
    const parsed = parseHostPort(this.config.metricsAddress);
    if (!parsed) throw new Error(`invalid metrics address ${this.config.metricsAddress}: use host:port`);
    this.http = createServer((req, res) => {
      const now = Date.now();
      if (req.url === "/metrics") {
        this.metrics.loopLagSeconds.set(this.maxLag / 1000);
        this.maxLag = 0;
        this.metrics.registry.metrics().then(
          (body) => {
            res.writeHead(200, { "content-type": this.metrics.registry.contentType });
            res.end(body);
          },
          () => {
            res.writeHead(500);
            res.end();
          },
        );
        return;
      }
      if (req.url === "/healthz") {
        const ok = !this.stopped && (this.lastTick === 0 || now - this.lastTick < 2000);
        res.writeHead(ok ? 200 : 503);
        res.end(ok ? "ok\n" : "tick loop stalled\n");
        return;
      }
      if (req.url === "/readyz") {
        const ok = this.synced && this.membership.selfReady(now) && !this.leaving;
        res.writeHead(ok ? 200 : 503);
        res.end(ok ? "ready\n" : "warming up\n");
        return;
      }
      if (req.url === "/state") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(this.snapshot(now)));
        return;
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve, reject) => {
      this.http!.once("error", reject);
      this.http!.listen(parsed.port, parsed.address, () => resolve());
    });
  }

  /** What this speaker believes, for `floatip verify` and debugging. */
  snapshot(now = Date.now()) {
    const view = this.lastView;
    return {
      node: this.config.nodeName,
      apiHealthy: this.apiHealthy(now),
      isolated: view?.isolated ?? false,
      members: view
        ? [...view.members.values()].map((m) => ({
            node: m.node,
            alive: m.alive,
            eligible: m.eligible,
            leaving: m.leaving,
            reason: m.reason,
            announcing: [...m.announcing],
          }))
        : [],
      announcing: Object.fromEntries(this.announcer.announced()),
    };
  }
}

function parseHostPort(text: string): Peer | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  return { address: m[1]!, port };
}
