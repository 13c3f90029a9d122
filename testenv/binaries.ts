import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** Repository root, whether this file runs from `testenv/` (tsx) or `dist/testenv/` (tsc output). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the floatip repository root");
    dir = parent;
  }
  return dir;
}

export interface KubeBinaries {
  dir: string;
  kubeApiserver: string;
  kubeProxy: string;
  etcd: string;
  kubectl: string;
  helm: string;
}

let cached: Promise<KubeBinaries> | undefined;

/**
 * Builds (first time, minutes) or finds (warm, instant) the pinned Kubernetes binaries.
 * FLOATIP_K8S_BIN points at a ready directory and skips the build script entirely.
 */
export function kubeBinaries(): Promise<KubeBinaries> {
  cached ??= locate();
  return cached;
}

async function locate(): Promise<KubeBinaries> {
  let dir = process.env.FLOATIP_K8S_BIN;
  if (!dir) {
    const script = join(repoRoot(), "testenv", "build-k8s.sh");
    const { stdout } = await execFileAsync(script, [], { maxBuffer: 64 * 1024 * 1024 }).catch(
      (err: unknown) => {
        const stderr = (err as { stderr?: string }).stderr ?? "";
        throw new Error(
          `building the Kubernetes binaries failed (testenv/build-k8s.sh):\n${stderr.slice(-4000)}`,
        );
      },
    );
    dir = stdout.trim().split("\n").pop() ?? "";
  }
  dir = resolve(dir);
  const bins: KubeBinaries = {
    dir,
    kubeApiserver: join(dir, "kube-apiserver"),
    kubeProxy: join(dir, "kube-proxy"),
    etcd: join(dir, "etcd"),
    kubectl: join(dir, "kubectl"),
    helm: join(dir, "helm"),
  };
  for (const path of [bins.kubeApiserver, bins.kubeProxy, bins.etcd, bins.kubectl, bins.helm]) {
    if (!existsSync(path)) throw new Error(`missing ${path}: run testenv/build-k8s.sh`);
  }
  return bins;
}
