// API paths of Envoy Gateway's EnvoyProxy and the Gateway API objects (the core ones: src/kube/paths.ts).

import type { ObjectRef } from "../../kube/objects.js";
import { EG_GROUP, EG_VERSION, GATEWAY_GROUP, GATEWAY_VERSION } from "./types.js";

const eg = `/apis/${EG_GROUP}/${EG_VERSION}`;
const gw = `/apis/${GATEWAY_GROUP}/${GATEWAY_VERSION}`;

export const egPaths = {
  envoyProxies: () => `${eg}/envoyproxies`,
  envoyProxy: (r: ObjectRef) => `${eg}/namespaces/${r.namespace}/envoyproxies/${r.name}`,
  gatewayClasses: () => `${gw}/gatewayclasses`,
  gatewayClass: (name: string) => `${gw}/gatewayclasses/${name}`,
  gateways: () => `${gw}/gateways`,
  gateway: (r: ObjectRef) => `${gw}/namespaces/${r.namespace}/gateways/${r.name}`,
};
