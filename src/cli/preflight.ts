/**
 * What every cluster command checks before it does anything: the kubeconfig exists (kubectl's
 * wording), the API server answers, floatip's namespace exists, and the class to work with: the
 * --lb-class given (if it is one floatip actually runs with) or, without it, the one the running
 * controller and speakers use. Each failure is a usage error (exit 2), never a finding about the cluster.
 */
import { UsageError } from "../ops/outcome.js";
import { runbookLbClass } from "../ops/lbclass.js";
import { checkKubeconfig } from "./kubeconfig.js";
import { ConnectError, KubeClient } from "../kube/client.js";
import { paths } from "../kube/paths.js";

export interface PreflightOptions {
  kubeconfig?: string;
  namespace: string;
  /** --lb-class as given; undefined when it wasn't. */
  lbClass?: string;
}

export interface Preflighted {
  /** Connected; the caller closes it. */
  client: KubeClient;
  /** The class to work with ('' = Services without a class). */
  lbClass: string;
}

export async function preflight(opts: PreflightOptions): Promise<Preflighted> {
  const client = await KubeClient.connect(checkKubeconfig(opts.kubeconfig)).catch((err: unknown) => {
    throw err instanceof ConnectError ? new UsageError(err.message) : err;
  });
  try {
    if (!(await client.get(paths.namespace(opts.namespace))))
      throw new UsageError(
        `namespace ${opts.namespace} does not exist: pass --namespace with the namespace floatip (or MetalLB) is installed in (usually metallb-system)`,
      );
    const lbClass = await runbookLbClass(client, opts.namespace, opts.lbClass);
    if (typeof lbClass !== "string") throw new UsageError(lbClass.problem);
    return { client, lbClass };
  } catch (err) {
    client.close();
    throw err;
  }
}
