// Who is expected to give a LoadBalancer Service its IP: floatip (its class), another controller (a
// class someone demonstrably serves), or nobody. (Not the node that announces an IP: that is
// election/ranking.ts ownerOf.)

import { isServiceForClass } from "../../api/service.js";
import { ingressIPs } from "./evidence.js";
import type { Owner } from "./types.js";
import type { KubeService } from "../../kube/objects.js";

export function expectedAssigner(
  svc: KubeService,
  lbClass: string | undefined,
  served: ReadonlySet<string>,
): Owner {
  if (isServiceForClass(svc, lbClass)) return { kind: "floatip", text: "floatip" };
  const cls = svc.spec.loadBalancerClass ?? "";
  const text = cls ? `other controller (class ${cls})` : "other controller (no class)";
  // Some Service of this class has an IP, or this one does: a controller for the class exists.
  if (ingressIPs(svc).length > 0 || served.has(cls)) return { kind: "other", text };
  return { kind: "nobody", text: cls ? `nobody (class ${cls})` : "nobody (no class)" };
}
