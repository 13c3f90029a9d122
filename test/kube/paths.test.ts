import { describe, expect, it } from "vitest";
import { requestKind } from "../../src/kube/paths.js";

describe("requestKind", () => {
  it.each([
    ["GET", "/api/v1/services", "list", "services"],
    ["GET", "/api/v1/namespaces/a/services", "list", "services"],
    ["GET", "/api/v1/namespaces/a/services/web", "get", "services"],
    ["GET", "/api/v1/namespaces/a", "get", "namespaces"],
    ["GET", "/api/v1/nodes/n1?x=1", "get", "nodes"],
    ["PUT", "/apis/coordination.k8s.io/v1/namespaces/m/leases/n1", "update", "leases"],
    ["POST", "/apis/metallb.io/v1beta1/namespaces/m/servicel2statuses", "create", "servicel2statuses"],
    [
      "PATCH",
      "/apis/metallb.io/v1beta1/namespaces/m/servicel2statuses/s1/status",
      "patch",
      "servicel2statuses/status",
    ],
    ["DELETE", "/api/v1/namespaces/a/events/e", "delete", "events"],
    ["HEAD", "/version", "head", "version"],
    ["GET", "/", "list", "other"],
  ])("%s %s → %s %s", (method, path, verb, resource) => {
    expect(requestKind(method, path)).toEqual({ verb, resource });
  });
});
