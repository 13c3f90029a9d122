// Shared helpers for the deployment tests: run helm/kubectl, parse rendered YAML, and build a
// kubeconfig that authenticates as one of the chart's ServiceAccounts.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseAllDocuments, stringify } from "yaml";
import type { ControlPlane } from "../../testenv/controlplane.js";
import { kubectl } from "../../testenv/kubectl.js";
import { repoRoot } from "../../testenv/binaries.js";

export const ROOT = repoRoot();
export const CHART = join(ROOT, "deploy", "chart");
export const THIRD_PARTY_CRDS = join(ROOT, "..", "shared", "third-party", "crds");
/** The seed's namespace and release name (step 1). */
export const NS = "metallb-system";

/** Node arguments that run the TypeScript CLI from any working directory (tsx resolved from the repo). */
export const CLI = [
  "--import",
  pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href,
  join(ROOT, "src", "cli", "main.ts"),
];

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion; never rejects on a non-zero exit (callers assert on `code`). */
export function run(
  cmd: string,
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        cwd: options.cwd ?? ROOT,
        env: options.env ?? process.env,
        maxBuffer: 64 * 1024 * 1024,
        timeout: options.timeoutMs ?? 120_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

// helm must not read or write the user's repositories, plugins or cache: a home per call, removed
// after it (a home kept for the process was left behind: vitest's workers end without "exit").
function helmEnv(home: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_DATA_HOME: join(home, "data"),
  };
}

/** Runs helm; with a control plane, against it. Rejects with helm's stderr on failure. */
export async function helm(helmBin: string, args: string[], cp?: ControlPlane): Promise<string> {
  const full = cp ? ["--kubeconfig", cp.kubeconfigPath, ...args] : args;
  const home = mkdtempSync(join(tmpdir(), "floatip-helm-"));
  try {
    const r = await run(helmBin, full, { env: helmEnv(home) });
    if (r.code !== 0) throw new Error(`helm ${args.join(" ")}: ${r.stderr || r.stdout}`);
    return r.stdout;
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** helm, resolving to the full result instead of rejecting (for tests of failures). */
export async function helmResult(helmBin: string, args: string[]): Promise<RunResult> {
  const home = mkdtempSync(join(tmpdir(), "floatip-helm-"));
  try {
    return await run(helmBin, args, { env: helmEnv(home) });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export function parseDocs(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null && typeof o === "object");
}

/** cdev fills the seed-style Go templates; for a structural check, take each `default`. */
export function fillGoDefaults(text: string): string {
  return text.replace(/\{\{\s*\.variables\.[\w.]+\s*\|\s*default\s+"([^"]*)"\s*\}\}/g, "$1");
}

export function find(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const hit = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!hit) throw new Error(`no ${kind}${name ? ` ${name}` : ""} among ${objects.length} objects`);
  return hit;
}

interface Container {
  name: string;
  args?: string[];
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  securityContext?: {
    runAsUser?: number;
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  ports?: { name: string; containerPort: number; protocol?: string }[];
}

export interface PodSpec {
  hostNetwork?: boolean;
  dnsPolicy?: string;
  priorityClassName?: string;
  terminationGracePeriodSeconds?: number;
  nodeSelector?: Record<string, string>;
  tolerations?: { key?: string; operator?: string; effect?: string }[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  serviceAccountName?: string;
  containers: Container[];
  volumes?: { name: string; secret?: { secretName: string } }[];
}

export function podSpec(workload: K8sObject): PodSpec {
  return (workload as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;
}

export function firstContainer(workload: K8sObject): Container {
  const c = podSpec(workload).containers[0];
  if (!c) throw new Error(`${workload.kind} ${workload.metadata.name} has no container`);
  return c;
}

/** A kubeconfig authenticating with a fresh token of the ServiceAccount, like an in-cluster pod. */
export async function serviceAccountKubeconfig(
  cp: ControlPlane,
  namespace: string,
  sa: string,
): Promise<string> {
  const token = (await kubectl(cp, ["create", "token", sa, "-n", namespace, "--duration=1h"])).trim();
  const path = join(cp.dir, `kubeconfig-${sa}`);
  const admin = (await kubectl(cp, ["config", "view", "--raw", "--minify", "-o", "json"])) as string;
  const cluster = (JSON.parse(admin) as { clusters: { cluster: object }[] }).clusters[0]?.cluster;
  writeFileSync(
    path,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "test", cluster }],
      users: [{ name: sa, user: { token } }],
      contexts: [{ name: sa, context: { cluster: "test", user: sa, namespace } }],
      "current-context": sa,
    }),
    { mode: 0o600 },
  );
  return path;
}
