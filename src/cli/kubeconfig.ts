/**
 * Kubeconfig problems found before any request, worded like kubectl's, so that a missing file is
 * not a bare ENOENT and no kubeconfig at all is not a TLS complaint about http://localhost.
 */
import { existsSync, statSync } from "node:fs";
import { delimiter } from "node:path";
import { UsageError } from "../ops/outcome.js";
import { homeKubeconfig } from "../kube/connection.js";

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/**
 * Checks that a kubeconfig exists where the flag, $KUBECONFIG, ~/.kube/config or the in-cluster
 * service account says; returns the flag unchanged for the loader. Throws UsageError otherwise.
 */
export function checkKubeconfig(flag: string | undefined, env = process.env): string | undefined {
  const fix = "pass --kubeconfig <file>, set KUBECONFIG, or create ~/.kube/config";
  if (flag !== undefined) {
    const what = `cannot load kubeconfig ${flag}`;
    if (!existsSync(flag)) throw new UsageError(`${what}: stat ${flag}: no such file or directory (${fix})`);
    if (!statSync(flag).isFile()) throw new UsageError(`${what}: read ${flag}: is a directory (${fix})`);
    return flag;
  }
  const listed = (env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
  if (listed.length > 0) {
    // kubectl skips missing entries of KUBECONFIG but fails when none exists.
    if (!listed.some((f) => existsSync(f)))
      throw new UsageError(`stat ${listed.join(delimiter)}: no such file or directory (KUBECONFIG; ${fix})`);
    return undefined;
  }
  const home = homeKubeconfig(env);
  if (home && existsSync(home)) return undefined;
  if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) return undefined;
  throw new UsageError(
    `invalid configuration: no configuration has been provided (no ${home ?? "home directory"}, KUBECONFIG unset, not in a cluster): ${fix}`,
  );
}
