/**
 * Which --lb-class the running controller and speakers use, read from their pods' arguments and
 * the speakers' Leases: a runbook command without --lb-class uses that class, and a typo in one
 * with it is reported as a typo ("did you mean metallb?"), not as a cluster fault.
 */
import { paths } from "../kube/paths.js";
import type { KubeClient } from "../kube/client.js";

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

/**
 * The class a runbook command works with when --lb-class is not given: the one the running
 * controller and speakers use, '' (Services without a class, their own default) when none runs;
 * a usage problem when they disagree, since then no single answer is right.
 */
export function defaultLbClass(inUse: ReadonlyMap<string, readonly string[]>): string | { problem: string } {
  if (inUse.size === 0) return "";
  if (inUse.size === 1) return [...inUse.keys()][0]!;
  const seen = [...inUse.entries()].map(
    ([cls, sources]) => `${show(cls)} (${sources.slice(0, 2).join(", ")})`,
  );
  return {
    problem: `floatip's controller and speakers run with different classes: ${seen.join("; ")}. Pass --lb-class with the one to check.`,
  };
}

/**
 * The class the command uses: the flag when given and plausible, else the running components'
 * (`defaultLbClass`). Reads the evidence from the cluster; a problem is a usage error.
 */
export async function runbookLbClass(
  client: KubeClient,
  namespace: string,
  flag: string | undefined,
): Promise<string | { problem: string }> {
  const [pods, leases, services] = await Promise.all([
    client.list<PodLike>(`/api/v1/namespaces/${namespace}/pods`, {
      labelSelector: "app.kubernetes.io/name=floatip",
    }),
    client.list<LeaseLike>(paths.leases(namespace), { labelSelector: SPEAKER_LEASE_LABEL }),
    flag === undefined ? Promise.resolve([]) : client.list<ServiceLike>(paths.services()),
  ]);
  const inUse = classesInUse(pods ?? [], leases ?? []);
  if (flag === undefined) return defaultLbClass(inUse);
  const asking = (services ?? []).filter(
    (s) => s.spec?.type === "LoadBalancer" && (s.spec.loadBalancerClass ?? "") === flag,
  ).length;
  const problem = lbClassProblem(flag, inUse, asking);
  return problem ? { problem } : flag;
}
