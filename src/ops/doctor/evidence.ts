// Small readers over the snapshot that several checks share: who wrote what on a Service, which LB
// controllers and speakers are deployed with which class. Pure.

import {
  ANNOTATION_IP_ALLOCATED_FROM_POOL,
  DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL,
} from "../../api/annotations.js";
import { serviceKeyOf } from "../../api/service.js";
import type { Snapshot } from "./types.js";
import type { KubeEvent, KubeService, Lease, Workload } from "../../kube/objects.js";

/** Event sources of floatip and MetalLB (their controllers and speakers use these component names). */
export const LB_CONTROLLER_COMPONENTS = ["floatip-controller", "metallb-controller"];
export const LB_SPEAKER_COMPONENTS = ["floatip-speaker", "metallb-speaker"];
export const KUBE_DC_ANNOTATION_PREFIX = "service.nlb.kube-dc.com/";
export const SPEAKER_LEASE_PREFIX = "floatip-speaker-";
export const CONTROLLER_LEASE = "floatip-controller";

export const classText = (c: string | undefined): string => (c ? JSON.stringify(c) : "none");

export function ingressIPs(svc: KubeService): string[] {
  return (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip);
}

export function allocatedPool(svc: KubeService): string | undefined {
  const a = svc.metadata.annotations ?? {};
  return a[ANNOTATION_IP_ALLOCATED_FROM_POOL] ?? a[DEPRECATED_ANNOTATION_IP_ALLOCATED_FROM_POOL];
}

export function kubeDcAnnotations(svc: KubeService): string[] {
  return Object.keys(svc.metadata.annotations ?? {}).filter((k) => k.startsWith(KUBE_DC_ANNOTATION_PREFIX));
}

export function isLoadBalancer(svc: KubeService): boolean {
  return svc.spec?.type === "LoadBalancer";
}

function eventComponent(e: KubeEvent): string {
  return e.reportingComponent || e.source?.component || "";
}

function eventTime(e: KubeEvent): string {
  return e.lastTimestamp ?? e.eventTime ?? e.metadata.creationTimestamp ?? "";
}

/** Events floatip/MetalLB controllers wrote about this Service (this incarnation), newest first. */
export function controllerEvents(snap: Snapshot, svc: KubeService): KubeEvent[] {
  const key = serviceKeyOf(svc);
  return snap.events
    .filter((e) => {
      if (e.involvedObject.kind !== "Service" || !LB_CONTROLLER_COMPONENTS.includes(eventComponent(e)))
        return false;
      if (`${e.involvedObject.namespace ?? "default"}/${e.involvedObject.name}` !== key) return false;
      // An Event about an earlier Service of the same name says nothing about this one.
      return !e.involvedObject.uid || !svc.metadata.uid || e.involvedObject.uid === svc.metadata.uid;
    })
    .sort((a, b) => eventTime(b).localeCompare(eventTime(a)));
}

export interface LbComponent {
  role: "controller" | "speaker";
  product: "floatip" | "metallb";
  /** --lb-class; undefined = unset (Services without a class). */
  lbClass: string | undefined;
  workload: Workload;
}

function argValue(args: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === flag) return args[i + 1];
    if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1);
  }
  return undefined;
}

/** floatip/MetalLB controllers and speakers among Deployments/DaemonSets, with the class they run with. */
export function lbComponents(workloads: readonly Workload[]): LbComponent[] {
  const out: LbComponent[] = [];
  for (const w of workloads) {
    for (const c of w.spec?.template?.spec?.containers ?? []) {
      const argv = [...(c.command ?? []), ...(c.args ?? [])];
      const image = c.image ?? "";
      let product: LbComponent["product"] | undefined;
      let role: LbComponent["role"] | undefined;
      if (/metallb\/(controller|speaker)/.test(image)) {
        product = "metallb";
        role = image.includes("metallb/controller") ? "controller" : "speaker";
      } else if (
        image.includes("floatip") ||
        argv.some((a) => a.includes("floatip")) ||
        w.metadata.labels?.["app.kubernetes.io/name"] === "floatip"
      ) {
        product = "floatip";
        role = argv.includes("controller") ? "controller" : argv.includes("speaker") ? "speaker" : undefined;
      }
      if (!product || !role) continue;
      const env = (name: string) => c.env?.find((e) => e.name === name)?.value;
      const lbClass =
        argValue(argv, "--lb-class") ?? env(product === "floatip" ? "FLOATIP_LB_CLASS" : "METALLB_LB_CLASS");
      out.push({ role, product, lbClass: lbClass || undefined, workload: w });
    }
  }
  return out;
}

/** Nodes whose speaker Lease exists but is no longer renewed: a speaker that stopped. */
export function staleSpeakerNodes(leases: readonly Lease[], now: number): Set<string> {
  const out = new Set<string>();
  for (const l of leases) {
    if (l.metadata.name.startsWith(SPEAKER_LEASE_PREFIX) && !leaseFresh(l, now))
      out.add(l.metadata.name.slice(SPEAKER_LEASE_PREFIX.length));
  }
  return out;
}

/** Speaker Leases that are still being renewed. */
export function freshSpeakerLeases(leases: readonly Lease[], now: number): Map<string, Lease> {
  const out = new Map<string, Lease>();
  for (const l of leases) {
    if (!l.metadata.name.startsWith(SPEAKER_LEASE_PREFIX)) continue;
    if (leaseFresh(l, now)) out.set(l.metadata.name.slice(SPEAKER_LEASE_PREFIX.length), l);
  }
  return out;
}

export function leaseFresh(l: Lease, now: number): boolean {
  const renew = l.spec?.renewTime ? Date.parse(l.spec.renewTime) : NaN;
  const duration = (l.spec?.leaseDurationSeconds ?? 15) * 1000;
  // Generous slack: the renewTime comes from another machine's clock.
  return Number.isFinite(renew) && now - renew <= duration * 2 + 5000;
}

/** Classes (including "" for none) that some controller demonstrably serves: a Service of it has an IP. */
export function servedClasses(services: readonly KubeService[]): Set<string> {
  const out = new Set<string>();
  for (const s of services) {
    if (isLoadBalancer(s) && ingressIPs(s).length > 0) out.add(s.spec.loadBalancerClass ?? "");
  }
  return out;
}

/** Levenshtein distance, for "did you mean metallb?" on class names. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
