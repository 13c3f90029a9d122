/**
 * What every cluster command checks before it does anything: the kubeconfig exists (kubectl's
 * wording), the API server answers, floatip's namespace exists, and --lb-class is the class floatip actually runs with.
 * Each failure is a usage error (exit 2), never a finding about the cluster.
 */
import { OpsClient, paths, UsageError } from "../ops/envoy/kube.js";
import { checkLbClass } from "../ops/lbclass.js";
import { checkKubeconfig } from "./kubeconfig.js";

export interface PreflightOptions {
  kubeconfig?: string;
  namespace: string;
  /** undefined: the command has no --lb-class. */
  lbClass?: string;
}

/** Connects and checks; the caller closes the client. */
export async function preflight(opts: PreflightOptions): Promise<OpsClient> {
  const client = await OpsClient.connect(checkKubeconfig(opts.kubeconfig));
  try {
    if (!(await client.get(paths.namespace(opts.namespace))))
      throw new UsageError(
        `namespace ${opts.namespace} does not exist: pass --namespace with the namespace floatip (or MetalLB) is installed in (usually metallb-system)`,
      );
    if (opts.lbClass !== undefined) {
      const problem = await checkLbClass(client, opts.namespace, opts.lbClass);
      if (problem) throw new UsageError(problem);
    }
    return client;
  } catch (err) {
    client.close();
    throw err;
  }
}
