import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { repoRoot } from "../testenv/binaries.js";

const execFileAsync = promisify(execFile);

/** One object of the chart's output. */
export interface ChartObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}

interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
}

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

interface PodSpec {
  serviceAccountName: string;
  hostNetwork?: boolean;
  securityContext?: SecurityContext;
  containers: Container[];
  volumes?: {
    name: string;
    secret?: { secretName: string; defaultMode?: number; items?: { key: string; path: string }[] };
  }[];
}

/** A volume the lab provides as the kubelet would: a Secret's keys as files. */
export interface SecretVolume {
  mountPath: string;
  secretName: string;
  /** File name → key in the Secret; undefined: every key, each under its own name (no `items`). */
  items: Record<string, string> | undefined;
  mode: number;
}

/**
 * What a container runtime needs to run one of the chart's containers, read from `helm template`
 * so the lab cannot drift from the chart: the arguments, the environment (field references left for
 * the lab to fill as the kubelet would), the user, the capabilities, the root file system's mode.
 */
export interface ContainerSpec {
  workload: string;
  image: string;
  serviceAccount: string;
  hostNetwork: boolean;
  /** The chart's `command` (undefined: the image's entrypoint). */
  command?: string[];
  args: string[];
  env: EnvVar[];
  user: number | undefined;
  group: number | undefined;
  /** Capabilities left after `drop` (only ALL is supported) and `add`, lower case without CAP_. */
  capabilities: string[];
  readOnlyRoot: boolean;
  noNewPrivileges: boolean;
  secrets: SecretVolume[];
}

export interface ChartRender {
  objects: ChartObject[];
  speaker: ContainerSpec;
  controller: ContainerSpec;
}

/** `helm template` of a chart directory; helm keeps no state (a temporary home). */
export async function helmTemplate(
  helm: string,
  chart: string,
  release: string,
  namespace: string,
  sets: string[],
): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), "floatip-helm-"));
  try {
    const args = ["template", release, chart, "--namespace", namespace, ...sets.flatMap((s) => ["--set", s])];
    const { stdout } = await execFileAsync(helm, args, {
      env: { ...process.env, HELM_CACHE_HOME: home, HELM_CONFIG_HOME: home, HELM_DATA_HOME: home },
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** floatip's chart (deploy/chart) rendered with `--set` values. */
export async function renderChart(helm: string, namespace: string, sets: string[]): Promise<ChartRender> {
  return parseChart(
    await helmTemplate(helm, join(repoRoot(), "deploy", "chart"), "floatip", namespace, sets),
  );
}

export function parseObjects(text: string): ChartObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as ChartObject | null)
    .filter((o): o is ChartObject => o !== null && typeof o === "object");
}

/** The chart's objects and its two containers (pure: tested on the chart's real output). */
export function parseChart(text: string): ChartRender {
  const objects = parseObjects(text);
  const workload = (kind: string) => {
    const w = objects.find((o) => o.kind === kind);
    if (!w) throw new Error(`the chart renders no ${kind}`);
    return containerSpec(w);
  };
  return { objects, speaker: workload("DaemonSet"), controller: workload("Deployment") };
}

function containerSpec(workload: ChartObject): ContainerSpec {
  const pod = (workload as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
  if (pod.containers.length !== 1) throw new Error(`${workload.metadata.name}: expected one container`);
  const c = pod.containers[0]!;
  const sc = { ...pod.securityContext, ...c.securityContext };
  const drop = sc.capabilities?.drop ?? [];
  if (drop.length !== 1 || drop[0] !== "ALL")
    throw new Error(`${workload.metadata.name}: only drop: [ALL] is supported`);
  if (sc.privileged) throw new Error(`${workload.metadata.name}: privileged containers are not supported`);
  const secrets: SecretVolume[] = [];
  for (const m of c.volumeMounts ?? []) {
    const v = pod.volumes?.find((x) => x.name === m.name);
    if (!v?.secret) throw new Error(`${workload.metadata.name}: volume ${m.name} is not a Secret`);
    const items = v.secret.items && Object.fromEntries(v.secret.items.map((i) => [i.path, i.key]));
    secrets.push({
      mountPath: m.mountPath,
      secretName: v.secret.secretName,
      items,
      mode: v.secret.defaultMode ?? 0o644,
    });
  }
  return {
    workload: workload.metadata.name,
    image: c.image,
    serviceAccount: pod.serviceAccountName,
    hostNetwork: pod.hostNetwork ?? false,
    command: c.command,
    args: c.args ?? [],
    env: c.env ?? [],
    user: sc.runAsUser,
    group: sc.runAsGroup,
    capabilities: (sc.capabilities?.add ?? []).map((x) => x.toLowerCase().replace(/^cap_/, "")),
    readOnlyRoot: sc.readOnlyRootFilesystem ?? false,
    noNewPrivileges: sc.allowPrivilegeEscalation === false,
    secrets,
  };
}

/** What `helm install` would create, minus the workloads (the lab runs those itself: no kubelet). */
export function installableObjects(render: ChartRender): ChartObject[] {
  return render.objects.filter((o) => o.kind !== "DaemonSet" && o.kind !== "Deployment");
}

/** Fills the chart's field references as the kubelet does for this pod. */
export function resolveEnv(env: EnvVar[], fields: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    if (e.value !== undefined) out[e.name] = e.value;
    else if (e.valueFrom?.fieldRef) {
      const v = fields[e.valueFrom.fieldRef.fieldPath];
      if (v === undefined)
        throw new Error(`no value for the field reference ${e.valueFrom.fieldRef.fieldPath} (${e.name})`);
      out[e.name] = v;
    } else throw new Error(`unsupported environment source for ${e.name}`);
  }
  return out;
}

interface Binding extends ChartObject {
  roleRef: { kind: string; name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/**
 * The RBAC a chart gives one ServiceAccount: the account, the (Cluster)RoleBindings naming it and
 * the roles they refer to — nothing of the chart's other accounts.
 */
export function rbacFor(objects: ChartObject[], namespace: string, serviceAccount: string): ChartObject[] {
  const bindings = objects.filter(
    (o): o is Binding =>
      (o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding") &&
      ((o as Binding).subjects ?? []).some(
        (s) =>
          s.kind === "ServiceAccount" &&
          s.name === serviceAccount &&
          (s.namespace ?? namespace) === namespace,
      ),
  );
  const roles = objects.filter((o) =>
    bindings.some((b) => b.roleRef.kind === o.kind && b.roleRef.name === o.metadata.name),
  );
  const account = objects.filter((o) => o.kind === "ServiceAccount" && o.metadata.name === serviceAccount);
  if (account.length !== 1 || bindings.length === 0 || roles.length !== bindings.length)
    throw new Error(`the chart has no complete RBAC for ServiceAccount ${namespace}/${serviceAccount}`);
  return [...account, ...roles, ...bindings];
}
