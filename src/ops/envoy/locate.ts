// Finds an Envoy Gateway proxy Service together with its Gateway, GatewayClass and EnvoyProxy, starting
// from the Service (`--service`) or the EnvoyProxy (`--envoyproxy`). Works when the Service is gone:
// its name follows from the Gateway.

import { UsageError } from "../outcome.js";
import {
  envoyProxyRefFor,
  gatewayForServiceName,
  gatewaysUsing,
  isEnvoyGatewayService,
  owningGateway,
} from "./resolve.js";
import { renderProxyService } from "./render.js";
import type { EnvoyProxy, Gateway, GatewayClass } from "./types.js";
import { KubeClient } from "../../kube/client.js";
import { paths } from "../../kube/paths.js";
import { egPaths } from "./paths.js";
import { type KubeService, type ObjectRef, refString } from "../../kube/objects.js";

export interface ProxyTarget {
  service?: ObjectRef;
  envoyProxy?: ObjectRef;
}

export interface LocatedProxy {
  serviceRef: ObjectRef;
  service?: KubeService;
  gateway: Gateway;
  gatewayClass: string;
  proxy: EnvoyProxy;
  proxyRef: ObjectRef;
  proxyVia: "Gateway" | "GatewayClass";
}

/** Thrown when the objects exist but do not fit together (no EnvoyProxy referenced, ...): exit code 1. */
export class NotReadyError extends Error {
  override name = "NotReadyError";
}

export async function locateProxy(
  client: KubeClient,
  target: ProxyTarget,
  envoyNamespace: string,
): Promise<LocatedProxy> {
  const classes = await client.list<GatewayClass>(egPaths.gatewayClasses());
  const gateways = await client.list<Gateway>(egPaths.gateways());
  const proxies = await client.list<EnvoyProxy>(egPaths.envoyProxies());
  if (!classes || !gateways)
    throw new UsageError("the Gateway API CRDs are not installed: is Envoy Gateway deployed?");
  if (!proxies)
    throw new UsageError(
      "the EnvoyProxy CRD (gateway.envoyproxy.io) is not installed: is Envoy Gateway deployed?",
    );
  const lists = { classes, gateways, proxies };

  let gateway: Gateway;
  let service: KubeService | undefined;
  let serviceRef: ObjectRef | undefined;
  if (target.service) {
    serviceRef = target.service;
    ({ gateway, service } = await gatewayOfService(client, serviceRef, lists));
  } else if (target.envoyProxy) {
    gateway = gatewayOfProxy(target.envoyProxy, lists);
  } else {
    throw new UsageError("pass --service <namespace/name> or --envoyproxy <namespace/name>");
  }

  const ref = envoyProxyRefFor(gateway, classes);
  if (!ref.ok) throw new NotReadyError(ref.message);
  const proxy = proxies.find(
    (p) => p.metadata.namespace === ref.ref.namespace && p.metadata.name === ref.ref.name,
  );
  if (!proxy) {
    throw new NotReadyError(
      `${ref.via} of Gateway ${gateway.metadata.namespace}/${gateway.metadata.name} references EnvoyProxy ${refString(ref.ref)}, which does not exist`,
    );
  }
  if (!serviceRef) {
    serviceRef = {
      namespace: envoyNamespace,
      name: renderProxyService(gateway, proxy, envoyNamespace).metadata.name,
    };
    service = await client.get<KubeService>(paths.service(serviceRef));
  }
  return {
    serviceRef,
    ...(service ? { service } : {}),
    gateway,
    gatewayClass: gateway.spec.gatewayClassName,
    proxy,
    proxyRef: ref.ref,
    proxyVia: ref.via,
  };
}

interface GatewayLists {
  classes: GatewayClass[];
  gateways: Gateway[];
  proxies: EnvoyProxy[];
}

/** --service: the Gateway owning the Service, or, before Envoy Gateway made it, the one that would. */
async function gatewayOfService(
  client: KubeClient,
  serviceRef: ObjectRef,
  { classes, gateways, proxies }: GatewayLists,
): Promise<{ gateway: Gateway; service: KubeService | undefined }> {
  let gateway: Gateway | undefined;
  const service = await client.get<KubeService>(paths.service(serviceRef));
  if (service) {
    if (!isEnvoyGatewayService(service)) {
      throw new UsageError(
        `Service ${refString(serviceRef)} is not an Envoy Gateway proxy Service (no app.kubernetes.io/managed-by=envoy-gateway and owning-gateway labels)`,
      );
    }
    const owner = owningGateway(service)!;
    gateway = gateways.find(
      (g) => g.metadata.namespace === owner.namespace && g.metadata.name === owner.name,
    );
    if (!gateway)
      throw new UsageError(
        `Service ${refString(serviceRef)} belongs to Gateway ${refString(owner)}, which does not exist`,
      );
  } else {
    gateway = gatewayForServiceName(serviceRef.name, serviceRef.namespace, gateways, classes, proxies);
    if (!gateway) {
      throw new UsageError(
        `Service ${refString(serviceRef)} not found, and no Envoy Gateway Gateway would create a Service of that name (check the name: kubectl get svc -n ${serviceRef.namespace})`,
      );
    }
  }
  return { gateway, service };
}

/** --envoyproxy: the one Gateway the EnvoyProxy configures (through its GatewayClass or itself). */
function gatewayOfProxy(ref: ObjectRef, { classes, gateways, proxies }: GatewayLists): Gateway {
  if (!proxies.some((p) => p.metadata.namespace === ref.namespace && p.metadata.name === ref.name)) {
    throw new UsageError(`EnvoyProxy ${refString(ref)} not found`);
  }
  const using = gatewaysUsing(ref, gateways, classes);
  if (using.length === 0) {
    throw new UsageError(
      `EnvoyProxy ${refString(ref)} is not referenced by any Envoy Gateway GatewayClass or Gateway`,
    );
  }
  if (using.length > 1) {
    throw new UsageError(
      `EnvoyProxy ${refString(ref)} configures ${using.length} Gateways (${using.map((g) => `${g.metadata.namespace}/${g.metadata.name}`).join(", ")}); one loadBalancerIPs annotation cannot serve them all: use --service to pick one and give it its own EnvoyProxy (Gateway spec.infrastructure.parametersRef)`,
    );
  }
  return using[0]!;
}
