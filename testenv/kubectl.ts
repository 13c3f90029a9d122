import { execFile } from "node:child_process";
import type { ControlPlane } from "./controlplane.js";

/** Runs the built kubectl against the control plane; rejects with kubectl's stderr. */
export async function kubectl(cp: ControlPlane, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cp.binaries.kubectl,
      ["--kubeconfig", cp.kubeconfigPath, ...args],
      { maxBuffer: 32 * 1024 * 1024, timeout: 120_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`kubectl ${args.join(" ")}: ${stderr || err.message}`)) : resolve(stdout),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Applies CRD manifests server-side (large CRDs exceed the client-side annotation limit) and waits until established. */
export async function installCrds(cp: ControlPlane, files: string[]): Promise<string[]> {
  const names = new Set<string>();
  for (const file of files) {
    const out = await kubectl(cp, ["apply", "--server-side", "--force-conflicts", "-f", file, "-o", "name"]);
    for (const line of out.split("\n")) {
      if (line.startsWith("customresourcedefinition")) names.add(line.trim());
    }
  }
  const deadline = performance.now() + 60_000;
  for (const name of names) {
    for (;;) {
      const status = await kubectl(cp, [
        "get",
        name,
        "-o",
        "jsonpath={.status.conditions[?(@.type=='Established')].status}",
      ]);
      if (status === "True") break;
      if (performance.now() > deadline) throw new Error(`${name} not established after 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return [...names];
}

/** Applies objects (client-side apply of one List). */
export async function applyObjects(cp: ControlPlane, objects: object[]): Promise<void> {
  await kubectl(cp, ["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
}

/** A ServiceAccount token from the TokenRequest API, as the kubelet projects it into a pod. */
export async function serviceAccountToken(
  cp: ControlPlane,
  namespace: string,
  serviceAccount: string,
  duration = "24h",
): Promise<string> {
  const out = await kubectl(cp, [
    "create",
    "token",
    serviceAccount,
    "-n",
    namespace,
    `--duration=${duration}`,
  ]);
  return out.trim();
}
