// The seed's steps 2 and 3: one IPAddressPool holding exactly the floating IPs (never handed out
// automatically) and the L2Advertisement that announces it on the public interface.
import { METALLB_API_VERSION } from "../../api/types.js";
import { EG_NAMESPACE } from "../envoy/types.js";
import type { RenderConfig } from "./config.js";
import { RENDER_LABELS, type K8sObject } from "./objects.js";

export function ipAddressPool(cfg: RenderConfig): K8sObject {
  return {
    apiVersion: METALLB_API_VERSION,
    kind: "IPAddressPool",
    metadata: { name: cfg.pool, namespace: cfg.namespace, labels: { ...RENDER_LABELS } },
    spec: {
      addresses: cfg.floatingIPs.map((ip) => `${ip.address}/${ip.family === "IPv4" ? 32 : 128}`),
      // Only Services that ask for these IPs (the Envoy Service's annotation) may get them.
      autoAssign: false,
      // ... and only in the namespace where Envoy Gateway creates its proxy Service: a Service
      // elsewhere that names these IPs or this pool gets nothing, even while Envoy's is recreated.
      serviceAllocation: { namespaces: [EG_NAMESPACE] },
    },
  };
}

export function l2Advertisement(cfg: RenderConfig): K8sObject {
  return {
    apiVersion: METALLB_API_VERSION,
    kind: "L2Advertisement",
    metadata: { name: cfg.l2Advertisement, namespace: cfg.namespace, labels: { ...RENDER_LABELS } },
    spec: { ipAddressPools: [cfg.pool], interfaces: [...cfg.interfaces] },
  };
}
