import type { Logger } from "pino";
import { METALLB_API_VERSION, METALLB_GROUP, METALLB_VERSION, type Service } from "../api/types.js";
import type { KubeApi } from "../kube/api.js";
import { errorText, isNotFound } from "../kube/errors.js";
import { EventRecorder } from "../kube/events.js";
import { WorkQueue } from "../kube/queue.js";

const PLURAL = "servicel2statuses";

interface StatusList {
  items?: { metadata: { name: string; labels?: Record<string, string> } }[];
  metadata?: { continue?: string };
}
/** A status write that failed is retried after 500 ms, doubling up to 10 s. */
const RETRY = { baseDelayMs: 500, maxDelayMs: 10_000 };
export const STATUS_LABEL_NODE = "metallb.io/node";
export const STATUS_LABEL_SERVICE_NAME = "metallb.io/service-name";
export const STATUS_LABEL_SERVICE_NAMESPACE = "metallb.io/service-namespace";

type Parts = Map<string, { interfaces: readonly string[]; ips: readonly string[] }>;

interface DesiredStatus {
  interfaces: string[];
  ips: string[];
  eventPending: boolean;
}

/** A sweep for dead speakers' statuses waits this long for the rest of a takeover's Services. */
const SWEEP_DELAY_MS = 1000;
/** Page size of the sweep's list. */
const SWEEP_PAGE = 500;

interface StatusConfig {
  nodeName: string;
  namespace: string;
  podName?: string;
  podUid?: string;
}

/**
 * Writes what a person reads to find the announcing node: the `nodeAssigned` Event on the Service
 * and one ServiceL2Status per announced Service. Writes happen only when ownership changes (they
 * grow with failovers, not with Services or time), one at a time per Service, off the hot path.
 */
export class StatusWriter {
  private readonly path: string;
  /** Our ServiceL2Status per Service, by object name. */
  private readonly names = new Map<string, string>();
  /**
   * True once the start-up cleanup removed every status an earlier run of this node left: from
   * then on `names` knows all of ours, so a write needs no list to find its object (a label-selected
   * list makes the API server scan every ServiceL2Status: thousands, once per write).
   */
  private namesComplete = false;
  /** Services whose create got no answer: it may have happened, so the next write lists first. */
  private readonly uncertain = new Set<string>();
  /** Services taken over since the last sweep for dead speakers' statuses, and who is alive. */
  private sweep: { services: Set<string>; liveNodes: ReadonlySet<string> } | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepFailures = 0;
  private cleanupTimer: NodeJS.Timeout | undefined;
  /** Per Service, what each planner entry that announces it contributes (see announced). */
  private readonly parts = new Map<string, Parts>();
  /** What should be true in the API for each Service (undefined = no ServiceL2Status of ours). */
  private readonly desired = new Map<string, DesiredStatus | undefined>();
  /** What we last wrote successfully. */
  private readonly written = new Map<string, string>();
  /** One run per Service at a time; a change while it runs runs it again; failures back off. */
  private readonly queue: WorkQueue;
  private readonly events: EventRecorder;

  constructor(
    private readonly api: KubeApi,
    private readonly config: StatusConfig,
    /** The cached Service, whose uid and version the Events name. */
    private readonly serviceOf: (key: string) => Service | undefined,
    private readonly log: Logger,
  ) {
    this.path = `/apis/${METALLB_GROUP}/${METALLB_VERSION}/namespaces/${config.namespace}/${PLURAL}`;
    this.queue = new WorkQueue({
      concurrency: 16, // the client's connection pool: more would only queue there
      handler: (service) => this.reconcile(service),
      onError: (service, err, attempt) => {
        if (attempt <= 3 || attempt % 10 === 0) {
          this.log.warn(
            { event: "statusWriteFailed", service, error: errorText(err), attempt },
            "could not update ServiceL2Status/Event; retrying",
          );
        }
      },
      ...RETRY,
    });
    this.queue.start();
    this.events = new EventRecorder(api, {
      component: "floatip-speaker",
      reportingComponent: "floatip.io/speaker",
      instance: config.nodeName,
      host: config.nodeName,
      log,
      canWrite: () => true,
    });
  }

  /**
   * `liveNodes`: nodes whose speakers are alive; `dead`: some speaker we know of is not. A
   * taking-over speaker deletes the ServiceL2Status a dead speaker left for the same Service, so
   * "who announces?" always has one answer. `entry`: the planner entry that announces it (shared.ts:
   * a Service's own IPs, or an IP it shares, e.g. the IPv4 of a dual-stack Service): the status
   * lists the interfaces of every entry of the Service this node announces.
   */
  announced(
    service: string,
    interfaces: string[],
    ips: string[],
    liveNodes: ReadonlySet<string>,
    dead = false,
    entry = service,
  ): void {
    let parts = this.parts.get(service);
    if (!parts) this.parts.set(service, (parts = new Map()));
    parts.set(entry, { interfaces, ips });
    const previous = this.desired.get(service);
    if (previous === undefined && dead) this.sweepSoon(service, liveNodes);
    this.want(service, parts, previous);
  }

  /** The node no longer announces the Service through `entry`; the status goes with its last entry. */
  withdrawn(service: string, entry = service): void {
    const parts = this.parts.get(service);
    parts?.delete(entry);
    if (parts && parts.size > 0) return this.want(service, parts, this.desired.get(service));
    this.parts.delete(service);
    if (!this.desired.get(service)) return;
    this.desired.set(service, undefined);
    this.kick(service);
  }

  /** Desires the union of the Service's entries; writes only when its interfaces change. */
  private want(service: string, parts: Parts, previous: DesiredStatus | undefined): void {
    const interfaces = new Set<string>();
    const ips = new Set<string>();
    for (const part of parts.values()) {
      for (const name of part.interfaces) interfaces.add(name);
      for (const ip of part.ips) ips.add(ip);
    }
    const sorted = [...interfaces].sort();
    if (previous && previous.interfaces.join(",") === sorted.join(",")) {
      previous.ips = [...ips];
      return;
    }
    this.desired.set(service, {
      interfaces: sorted,
      ips: [...ips],
      eventPending: previous === undefined || previous.eventPending,
    });
    this.kick(service);
  }

  /** ServiceL2Status writes queued, under way or waiting for a retry, and Events not yet sent. */
  get pending(): { status: number; events: number } {
    const q = this.queue;
    return { status: q.length + q.activeCount + q.pendingRetries, events: this.events.pending };
  }

  /** Waits (at most `timeoutMs`) for the writes under way and the Events queued; drops retries. */
  async flush(timeoutMs: number): Promise<void> {
    const timeout = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
    await Promise.race([this.queue.pause(), timeout]);
    this.queue.clear();
    clearTimeout(this.sweepTimer);
    clearTimeout(this.cleanupTimer);
    await this.events.flush(timeoutMs);
    this.events.stop();
  }

  private kick(service: string): void {
    this.queue.add(service);
  }

  private async reconcile(service: string): Promise<void> {
    const want = this.desired.get(service);
    if (!want) {
      if (this.written.has(service)) await this.deleteStatus(service);
      this.written.delete(service);
      // Announced again while the delete ran (a flap): keep that state, the queue runs it next.
      if (!this.desired.get(service)) this.desired.delete(service);
      return;
    }
    const signature = want.interfaces.join(",");
    if (this.written.get(service) !== signature) {
      await this.upsertStatus(service, want.interfaces);
      this.written.set(service, signature);
    }
    if (want.eventPending) {
      this.event(service, want.ips);
      want.eventPending = false;
    }
    // A change of the desired state while this ran queued the Service again (WorkQueue).
  }

  private split(service: string): { namespace: string; name: string } {
    const [namespace = "default", name = ""] = service.split("/");
    return { namespace, name };
  }

  private async findExisting(service: string): Promise<string | undefined> {
    const known = this.names.get(service);
    if (known || (this.namesComplete && !this.uncertain.has(service))) return known;
    const { namespace, name } = this.split(service);
    const items = await this.listStatuses(
      `${STATUS_LABEL_NODE}=${this.config.nodeName},${STATUS_LABEL_SERVICE_NAME}=${name},${STATUS_LABEL_SERVICE_NAMESPACE}=${namespace}`,
    );
    return items[0]?.metadata.name;
  }

  private async upsertStatus(service: string, interfaces: string[]): Promise<void> {
    const { namespace, name } = this.split(service);
    const status = {
      node: this.config.nodeName,
      serviceName: name,
      serviceNamespace: namespace,
      interfaces: interfaces.map((i) => ({ name: i })),
    };
    let objectName = await this.findExisting(service);
    if (!objectName) {
      const ownerReferences =
        this.config.podName && this.config.podUid
          ? [{ apiVersion: "v1", kind: "Pod", name: this.config.podName, uid: this.config.podUid }]
          : undefined;
      this.uncertain.add(service); // until the answer says what happened
      const created = await this.api.request<{ metadata: { name: string } }>("POST", this.path, {
        body: {
          apiVersion: METALLB_API_VERSION,
          kind: "ServiceL2Status",
          metadata: {
            generateName: "l2-",
            namespace: this.config.namespace,
            labels: {
              [STATUS_LABEL_NODE]: this.config.nodeName,
              [STATUS_LABEL_SERVICE_NAME]: name,
              [STATUS_LABEL_SERVICE_NAMESPACE]: namespace,
            },
            ownerReferences,
          },
          spec: {},
        },
      });
      objectName = created.metadata.name;
      this.names.set(service, objectName);
      this.uncertain.delete(service);
    }
    await this.api.request("PATCH", `${this.path}/${objectName}/status`, {
      patch: "merge",
      body: { status },
    });
  }

  private async listStatuses(labelSelector: string): Promise<StatusList["items"] & object> {
    const list = await this.api.get<StatusList>(this.path, { labelSelector });
    return list.items ?? [];
  }

  /** Deletes one ServiceL2Status; already gone is fine. */
  private async deleteByName(name: string): Promise<void> {
    await this.api.request("DELETE", `${this.path}/${name}`).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }
  /**
   * A Service we started announcing may still carry the status of a speaker that died: deleted by
   * one sweep a second later for all the Services taken meanwhile (a crash moves thousands at once:
   * one paged list instead of one list per Service).
   */
  private sweepSoon(service: string, liveNodes: ReadonlySet<string>): void {
    this.sweep ??= { services: new Set(), liveNodes };
    this.sweep.services.add(service);
    this.sweep.liveNodes = liveNodes;
    this.scheduleSweep();
  }

  private scheduleSweep(): void {
    if (this.sweepTimer || !this.sweep) return;
    const delay = Math.min(SWEEP_DELAY_MS * 2 ** this.sweepFailures, RETRY.maxDelayMs);
    this.sweepTimer = setTimeout(() => void this.runSweep(), delay);
    this.sweepTimer.unref();
  }

  private async runSweep(): Promise<void> {
    const sweep = this.sweep!;
    this.sweep = undefined;
    try {
      await this.deleteStale(sweep.services, sweep.liveNodes);
      this.sweepFailures = 0;
    } catch (err) {
      this.sweepFailures++;
      this.log.warn(
        { event: "statusSweepFailed", services: sweep.services.size, error: errorText(err) },
        "could not delete the ServiceL2Status of dead speakers; retrying",
      );
      // Retried with what came meanwhile (whose view of who is alive is the newer one).
      this.sweep ??= { services: new Set(), liveNodes: sweep.liveNodes };
      for (const service of sweep.services) this.sweep.services.add(service);
    }
    this.sweepTimer = undefined;
    this.scheduleSweep();
  }

  /** Statuses of these Services (still announced by us) written by speakers that are no longer alive. */
  private async deleteStale(services: ReadonlySet<string>, liveNodes: ReadonlySet<string>): Promise<void> {
    let cont: string | undefined;
    do {
      const page: StatusList = await this.api.get(this.path, {
        labelSelector: `${STATUS_LABEL_NODE}!=${this.config.nodeName}`,
        limit: SWEEP_PAGE,
        continue: cont,
      });
      for (const item of page.items ?? []) {
        const labels = item.metadata.labels ?? {};
        const node = labels[STATUS_LABEL_NODE];
        const service = `${labels[STATUS_LABEL_SERVICE_NAMESPACE]}/${labels[STATUS_LABEL_SERVICE_NAME]}`;
        if (!node || liveNodes.has(node) || !services.has(service) || !this.desired.get(service)) continue;
        await this.deleteByName(item.metadata.name);
        this.log.info(
          { event: "staleStatusDeleted", service, node },
          "deleted the ServiceL2Status of a dead speaker",
        );
      }
      cont = page.metadata?.continue || undefined;
    } while (cont);
  }

  /** On start: statuses this node wrote before a restart describe nothing any more. */
  async deleteOwn(): Promise<void> {
    const mine = new Set(this.names.values()); // written by this run (a retried cleanup)
    for (const item of await this.listStatuses(`${STATUS_LABEL_NODE}=${this.config.nodeName}`)) {
      if (!mine.has(item.metadata.name)) await this.deleteByName(item.metadata.name);
    }
    // Nothing of ours is left but what this run writes (and knows the name of).
    this.namesComplete = true;
  }

  /**
   * deleteOwn, retried in the background until it succeeds (an API server starting up answers 429):
   * until then each write lists first, since an earlier run's status may exist.
   */
  async cleanUp(attempt = 0): Promise<void> {
    try {
      await this.deleteOwn();
    } catch (err) {
      if (attempt === 0)
        this.log.warn(
          { event: "statusCleanupFailed", error: errorText(err) },
          "could not remove ServiceL2Status left by a previous run; retrying",
        );
      const delay = Math.min(RETRY.baseDelayMs * 2 ** attempt, RETRY.maxDelayMs);
      this.cleanupTimer = setTimeout(() => void this.cleanUp(attempt + 1), delay);
      this.cleanupTimer.unref();
    }
  }

  private async deleteStatus(service: string): Promise<void> {
    const objectName = await this.findExisting(service);
    this.names.delete(service);
    if (objectName) await this.deleteByName(objectName);
  }

  /** A Warning Event on the Service: another station claims its IP. Best effort (the recorder logs). */
  conflict(service: string, ip: string, mac: string, kind: string): void {
    const message = `another station (MAC ${mac}, ${kind}) claims ${ip}, which node "${this.config.nodeName}" announces; re-announced. Find the device using this address.`;
    this.postEvent(service, "AddressConflict", message, "Warning");
  }

  /** A Warning Event on the Service: the speaker does not announce it (or some of its IPs), and why. */
  refused(service: string, reason: string): void {
    this.postEvent(service, "announceFailed", `not announced by floatip: ${reason}`, "Warning");
  }

  private event(service: string, ips: string[]): void {
    this.postEvent(
      service,
      "nodeAssigned",
      `announcing ${ips.join(",")} from node "${this.config.nodeName}" with protocol "layer2"`,
      "Normal",
    );
  }

  /** Queues the Event on the Service as cached (a Service already gone gets none). */
  private postEvent(service: string, reason: string, message: string, type: "Normal" | "Warning"): void {
    const svc = this.serviceOf(service);
    if (!svc) return;
    const { namespace, name } = this.split(service);
    this.events.record(
      {
        kind: "Service",
        apiVersion: "v1",
        namespace,
        name,
        uid: svc.metadata.uid,
        resourceVersion: svc.metadata.resourceVersion,
      },
      type,
      reason,
      message,
    );
  }
}
