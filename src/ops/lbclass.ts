/**
 * Which --lb-class the running controller and speakers use, read from their pods' arguments and
 * the speakers' Leases, so that a typo in a runbook command's --lb-class is reported as a typo
 * ("did you mean metallb?") and not as a cluster fault.
 */
import { paths, type OpsClient } from "./envoy/kube.js";

export const LEASE_LB_CLASS_ANNOTATION = "floatip.io/lb-class";
const SPEAKER_LEASE_LABEL = "floatip.io/speaker-lease";

interface PodLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: { containers?: { args?: string[]; command?: string[] }[] };
}
interface ServiceLike {
  spec?: { type?: string; loadBalancerClass?: string };
}
interface LeaseLike {
  metadata?: { name?: string; annotations?: Record<string, string> };
}

/** The class in a container's arguments: `--lb-class=x`, `--lb-class x`; "" when absent. */
export function lbClassFromArgs(args: readonly string[]): string {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith("--lb-class=")) return a.slice("--lb-class=".length);
    if (a === "--lb-class") return args[i + 1] ?? "";
  }
  return "";
}

/** Class → where it was seen (pod or Lease names). */
export function classesInUse(pods: readonly PodLike[], leases: readonly LeaseLike[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (cls: string, source: string) => found.set(cls, [...(found.get(cls) ?? []), source]);
  for (const pod of pods) {
    const component = pod.metadata?.labels?.["app.kubernetes.io/component"];
    if (component !== "controller" && component !== "speaker") continue;
    const args = (pod.spec?.containers ?? []).flatMap((c) => [...(c.command ?? []), ...(c.args ?? [])]);
    add(lbClassFromArgs(args), `pod ${pod.metadata?.name ?? "?"}`);
  }
  for (const lease of leases) {
    const cls = lease.metadata?.annotations?.[LEASE_LB_CLASS_ANNOTATION];
    if (cls !== undefined) add(cls, `Lease ${lease.metadata?.name ?? "?"}`);
  }
  return found;
}

const show = (cls: string) => (cls === "" ? "'' (Services without a class)" : cls);

/**
 * A usage problem when the wanted class is not one the running components use and no Service asks
 * for it either (a typo); else undefined. When Services do ask for it, the components running with
 * another class is a real fault, for the command to diagnose.
 */
export function lbClassProblem(
  wanted: string,
  inUse: ReadonlyMap<string, readonly string[]>,
  servicesWithWanted: number,
): string | undefined {
  if (inUse.size === 0 || inUse.has(wanted) || servicesWithWanted > 0) return undefined;
  const [best] = [...inUse.entries()].sort((a, b) => b[1].length - a[1].length);
  // the class most components use
  const [cls, sources] = best!;
  const flag = cls === "" ? "--lb-class ''" : `--lb-class ${cls}`;
  return `--lb-class ${show(wanted)} is not the class floatip runs with here: its controller and speakers use ${show(cls)} (${sources.slice(0, 3).join(", ")}${sources.length > 3 ? ", …" : ""}). Did you mean ${flag}?`;
}

/** Reads the evidence from the cluster and returns the problem, if any. */
export async function checkLbClass(
  client: OpsClient,
  namespace: string,
  wanted: string,
): Promise<string | undefined> {
  const [pods, leases, services] = await Promise.all([
    client.list<PodLike>(`/api/v1/namespaces/${namespace}/pods`, {
      labelSelector: "app.kubernetes.io/name=floatip",
    }),
    client.list<LeaseLike>(paths.leases(namespace), { labelSelector: SPEAKER_LEASE_LABEL }),
    client.list<ServiceLike>(paths.services()),
  ]);
  const asking = (services ?? []).filter(
    (s) => s.spec?.type === "LoadBalancer" && (s.spec.loadBalancerClass ?? "") === wanted,
  ).length;
  return lbClassProblem(wanted, classesInUse(pods ?? [], leases ?? []), asking);
}
