import * as k8s from "@kubernetes/client-node";
import { apiErrorMessage } from "../../kube/client.js";
import { UsageError } from "../outcome.js";
import { isControlPlane, nodeInfo, type NodeInfo } from "./match.js";

/** Control-plane Nodes of the cluster (label node-role.kubernetes.io/control-plane, or the legacy master label). */
export async function listControlPlaneNodes(kc: k8s.KubeConfig): Promise<NodeInfo[]> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const nodes: k8s.V1Node[] = [];
  let cont: string | undefined;
  try {
    do {
      const page = await core.listNode({ limit: 500, _continue: cont });
      nodes.push(...page.items);
      cont = page.metadata?._continue || undefined;
    } while (cont);
  } catch (err) {
    throw new UsageError(`cannot list Nodes from the cluster: ${apiErrorMessage(err)}`);
  }
  return nodes.filter(isControlPlane).map(nodeInfo);
}
