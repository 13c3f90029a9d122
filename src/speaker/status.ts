import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import { METALLB_API_VERSION, METALLB_GROUP, METALLB_VERSION } from "../api/types.js";
import { apiErrorMessage } from "../kube/client.js";

const PLURAL = "servicel2statuses";
export const STATUS_LABEL_NODE = "metallb.io/node";
export const STATUS_LABEL_SERVICE_NAME = "metallb.io/service-name";
export const STATUS_LABEL_SERVICE_NAMESPACE = "metallb.io/service-namespace";

interface DesiredStatus {
  interfaces: string[];
  ips: string[];
  eventPending: boolean;
  collectStale: boolean;
  liveNodes: ReadonlySet<string>;
}

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
  private readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;
  private readonly names = new Map<string, string>();
  /** What should be true in the API for each Service (undefined = no ServiceL2Status of ours). */
  private readonly desired = new Map<string, DesiredStatus | undefined>();
  /** What we last wrote successfully. */
  private readonly written = new Map<string, string>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly retries = new Map<string, { timer: NodeJS.Timeout; attempt: number }>();

  constructor(
    kc: k8s.KubeConfig,
    private readonly config: StatusConfig,
    private readonly log: Logger,
  ) {
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
  }

  /**
   * `liveNodes`: nodes whose speakers are alive. A taking-over speaker deletes the ServiceL2Status a
   * dead speaker left for the same Service, so "who announces?" always has one answer.
   */
  announced(service: string, interfaces: string[], ips: string[], liveNodes: ReadonlySet<string>): void {
    const previous = this.desired.get(service);
    const sorted = [...interfaces].sort();
    if (previous && previous.interfaces.join(",") === sorted.join(",")) return;
    this.desired.set(service, {
      interfaces: sorted,
      ips,
      eventPending: previous === undefined || previous.eventPending,
      collectStale: previous === undefined || previous.collectStale,
      liveNodes,
    });
    this.kick(service);
  }

  withdrawn(service: string): void {
    if (!this.desired.get(service)) return;
    this.desired.set(service, undefined);
    this.kick(service);
  }

  async flush(timeoutMs: number): Promise<void> {
    for (const r of this.retries.values()) clearTimeout(r.timer);
    await Promise.race([Promise.all(this.running.values()), new Promise((r) => setTimeout(r, timeoutMs))]);
  }

  /** Reconciles one Service's status objects, one run at a time; failures retry with backoff. */
  private kick(service: string): void {
    if (this.running.has(service)) return;
    const retry = this.retries.get(service);
    if (retry) clearTimeout(retry.timer);
    const run = this.reconcile(service)
      .then(() => {
        this.retries.delete(service);
      })
      .catch((err: unknown) => {
        const attempt = (this.retries.get(service)?.attempt ?? 0) + 1;
        const delay = Math.min(250 * 2 ** attempt, 10_000);
        if (attempt <= 3 || attempt % 10 === 0) {
          this.log.warn(
            { event: "statusWriteFailed", service, error: apiErrorMessage(err), retryInMs: delay },
            "could not update ServiceL2Status/Event; retrying",
          );
        }
        const timer = setTimeout(() => this.kick(service), delay);
        timer.unref();
        this.retries.set(service, { timer, attempt });
      })
      .finally(() => {
        this.running.delete(service);
      });
    this.running.set(service, run);
  }

  private async reconcile(service: string): Promise<void> {
    const want = this.desired.get(service);
    if (!want) {
      if (this.written.has(service)) await this.deleteStatus(service);
      this.written.delete(service);
      this.desired.delete(service);
      return;
    }
    const signature = want.interfaces.join(",");
    if (this.written.get(service) !== signature) {
      await this.upsertStatus(service, want.interfaces);
      this.written.set(service, signature);
    }
    if (want.collectStale) {
      await this.deleteStale(service, want.liveNodes);
      want.collectStale = false;
    }
    if (want.eventPending) {
      await this.event(service, want.ips);
      want.eventPending = false;
    }
    // The desired state may have moved on while we were writing.
    const now = this.desired.get(service);
    if (now !== want || (now && this.written.get(service) !== now.interfaces.join(","))) {
      setImmediate(() => this.kick(service));
    }
  }

  private split(service: string): { namespace: string; name: string } {
    const [namespace = "default", name = ""] = service.split("/");
    return { namespace, name };
  }

  private async findExisting(service: string): Promise<string | undefined> {
    const known = this.names.get(service);
    if (known) return known;
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
      const created = (await this.custom.createNamespacedCustomObject({
        group: METALLB_GROUP,
        version: METALLB_VERSION,
        namespace: this.config.namespace,
        plural: PLURAL,
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
      })) as { metadata: { name: string } };
      objectName = created.metadata.name;
      this.names.set(service, objectName);
    }
    await this.custom.patchNamespacedCustomObjectStatus(
      {
        group: METALLB_GROUP,
        version: METALLB_VERSION,
        namespace: this.config.namespace,
        plural: PLURAL,
        name: objectName,
        body: { status },
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.MergePatch),
    );
  }

  private async listStatuses(
    labelSelector: string,
  ): Promise<{ metadata: { name: string; labels?: Record<string, string> } }[]> {
    const list = (await this.custom.listNamespacedCustomObject({
      group: METALLB_GROUP,
      version: METALLB_VERSION,
      namespace: this.config.namespace,
      plural: PLURAL,
      labelSelector,
    })) as { items: { metadata: { name: string; labels?: Record<string, string> } }[] };
    return list.items;
  }

  /** Deletes one ServiceL2Status; already gone is fine. */
  private async deleteByName(name: string): Promise<void> {
    await this.custom
      .deleteNamespacedCustomObject({
        group: METALLB_GROUP,
        version: METALLB_VERSION,
        namespace: this.config.namespace,
        plural: PLURAL,
        name,
      })
      .catch((err: unknown) => {
        if ((err as { code?: number }).code !== 404) throw err;
      });
  }

  /** Statuses of this Service written by speakers that are no longer alive. */
  private async deleteStale(service: string, liveNodes: ReadonlySet<string>): Promise<void> {
    const { namespace, name } = this.split(service);
    const items = await this.listStatuses(
      `${STATUS_LABEL_SERVICE_NAME}=${name},${STATUS_LABEL_SERVICE_NAMESPACE}=${namespace}`,
    );
    for (const item of items) {
      const node = item.metadata.labels?.[STATUS_LABEL_NODE];
      if (!node || node === this.config.nodeName || liveNodes.has(node)) continue;
      await this.deleteByName(item.metadata.name);
      this.log.info(
        { event: "staleStatusDeleted", service, node },
        "deleted the ServiceL2Status of a dead speaker",
      );
    }
  }

  /** On start: statuses this node wrote before a restart describe nothing any more. */
  async deleteOwn(): Promise<void> {
    for (const item of await this.listStatuses(`${STATUS_LABEL_NODE}=${this.config.nodeName}`)) {
      await this.deleteByName(item.metadata.name);
    }
  }

  private async deleteStatus(service: string): Promise<void> {
    const objectName = await this.findExisting(service);
    this.names.delete(service);
    if (objectName) await this.deleteByName(objectName);
  }

  /** A Warning Event on the Service: another station claims its IP. Best effort, logged on failure. */
  conflict(service: string, ip: string, mac: string, kind: string): void {
    const message = `another station (MAC ${mac}, ${kind}) claims ${ip}, which node "${this.config.nodeName}" announces; re-announced. Find the device using this address.`;
    this.postEvent(service, "AddressConflict", message, "Warning").catch((err: unknown) =>
      this.log.warn(
        { event: "eventFailed", service, error: apiErrorMessage(err) },
        "could not post conflict Event",
      ),
    );
  }

  private async event(service: string, ips: string[]): Promise<void> {
    await this.postEvent(
      service,
      "nodeAssigned",
      `announcing ${ips.join(",")} from node "${this.config.nodeName}" with protocol "layer2"`,
      "Normal",
    );
  }

  private async postEvent(
    service: string,
    reason: string,
    message: string,
    type: "Normal" | "Warning",
  ): Promise<void> {
    const { namespace, name } = this.split(service);
    const svc = await this.core.readNamespacedService({ name, namespace });
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${name}.`, namespace },
        involvedObject: {
          kind: "Service",
          apiVersion: "v1",
          namespace,
          name,
          uid: svc.metadata?.uid,
          resourceVersion: svc.metadata?.resourceVersion,
        },
        reason,
        message,
        type,
        source: { component: "floatip-speaker", host: this.config.nodeName },
        reportingComponent: "floatip.io/speaker",
        reportingInstance: this.config.nodeName,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}
