import type { KubeApi } from "../../kube/api.js";
import { errorText } from "../../kube/errors.js";
import type * as k8s from "../../kube/types.js";
import { UsageError } from "../outcome.js";
import { isControlPlane, nodeInfo, type NodeInfo } from "./match.js";

/** Control-plane Nodes of the cluster (label node-role.kubernetes.io/control-plane, or the legacy master label). */
export async function listControlPlaneNodes(api: KubeApi): Promise<NodeInfo[]> {
  const nodes: k8s.V1Node[] = [];
  let cont: string | undefined;
  try {
    do {
      const page = await api.get<{ items?: k8s.V1Node[]; metadata?: { continue?: string } }>(
        "/api/v1/nodes",
        { limit: 500, continue: cont },
      );
      nodes.push(...(page.items ?? []));
      cont = page.metadata?.continue || undefined;
    } while (cont);
  } catch (err) {
    throw new UsageError(`cannot list Nodes from the cluster: ${errorText(err)}`);
  }
  return nodes.filter(isControlPlane).map(nodeInfo);
}
