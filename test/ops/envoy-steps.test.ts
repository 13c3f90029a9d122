// waitForService: Envoy Gateway renders from its informer cache, which can lag behind an EnvoyProxy
// patch made a moment before (seen in CI: the Service came back with class null after migrate's
// patch). A Service of the wrong class is deleted again and Envoy Gateway triggered again.
import { describe, expect, it } from "vitest";
import { StepError, patchIfUnchanged, waitForService } from "../../src/ops/envoy/steps.js";
import { ApiError } from "../../src/kube/errors.js";
import type { KubeClient } from "../../src/kube/client.js";
import type { KubeService } from "../../src/kube/objects.js";

const REF = { namespace: "envoy-gateway-system", name: "envoy-default-eg" };

/** One Service; each trigger makes the "controller" render the next class of `renders`. */
function fakeCluster(renders: (string | null)[]) {
  let svc: KubeService | undefined;
  let uid = 0;
  const deleted: string[] = [];
  const render = () => {
    const cls = renders.length > 1 ? renders.shift()! : renders[0]!;
    svc = {
      metadata: { name: REF.name, namespace: REF.namespace, uid: `uid-${++uid}` },
      spec: { type: "LoadBalancer", ...(cls === null ? {} : { loadBalancerClass: cls }) },
      status: { loadBalancer: { ingress: [{ ip: "203.0.113.50" }] } },
    };
  };
  const client = {
    get: async () => svc,
    delete: async (_path: string, expectUid?: string) => {
      if (svc && svc.metadata.uid === expectUid) {
        deleted.push(expectUid ?? "");
        svc = undefined;
      }
      return true;
    },
  } as unknown as KubeClient;
  return { client, trigger: async () => render(), deleted };
}

const opts = (trigger: () => Promise<void>, expectedClass: string | null, lines: string[]) => ({
  oldUid: "uid-0",
  expectedClass,
  ready: () => true,
  trigger,
  retriggerMs: 0,
  deadline: performance.timeOrigin + performance.now() + 5000,
  pollMs: 1,
  progress: (l: string) => lines.push(l),
});

describe("waitForService", () => {
  it("deletes a Service rendered with a stale class and waits for the right one", async () => {
    const f = fakeCluster([null, "metallb"]);
    const lines: string[] = [];
    const r = await waitForService(f.client, REF, opts(f.trigger, "metallb", lines));
    expect(r.service.spec.loadBalancerClass).toBe("metallb");
    expect(f.deleted).toEqual(["uid-1"]);
    expect(lines.join("\n")).toContain(
      "class null from an EnvoyProxy it had not re-read yet: deleting it again (1 of 3)",
    );
  });

  it("rollback's case: a Service without a class is expected", async () => {
    const f = fakeCluster(["metallb", null]);
    const r = await waitForService(f.client, REF, opts(f.trigger, null, []));
    expect(r.service.spec.loadBalancerClass).toBeUndefined();
    expect(f.deleted).toEqual(["uid-1"]);
  });

  it("gives up with a clear error when the class stays wrong", async () => {
    const f = fakeCluster(["other"]);
    const err = await waitForService(f.client, REF, opts(f.trigger, "metallb", [])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect(String(err)).toContain(
      'class "other", not "metallb", 4 times: was the EnvoyProxy changed meanwhile?',
    );
    expect(f.deleted).toHaveLength(3);
  });
});

/**
 * A Gateway whose status Envoy Gateway rewrites (resourceVersion bumps, spec unchanged): the API
 * server answers 409 to a patch carrying an older resourceVersion, as it does to a dry run.
 */
function busyGateway(statusWritesBeforePatch: number) {
  let rv = 10;
  let writes = statusWritesBeforePatch;
  const spec = { gatewayClassName: "eg", addresses: [] };
  const patches: { body: { metadata: { resourceVersion: string } }; opts: unknown }[] = [];
  const client = {
    get: async () => ({ metadata: { name: "eg", resourceVersion: String(rv) }, spec }),
    patch: async (_path: string, body: { metadata: { resourceVersion: string } }, opts: unknown) => {
      patches.push({ body, opts });
      if (writes-- > 0) rv++; // a status write lands between our read and our patch
      if (body.metadata.resourceVersion !== String(rv))
        throw new ApiError(409, "the object has been modified");
      return { metadata: { name: "eg", resourceVersion: String(rv) }, spec };
    },
  } as unknown as KubeClient;
  return { client, spec, patches };
}

describe("patchIfUnchanged", () => {
  const planned = { metadata: { resourceVersion: "9" }, spec: { addresses: [{ value: "203.0.113.50" }] } };

  it("a dry run uses the fresh resourceVersion (not the plan's) and dryRun=All", async () => {
    const g = busyGateway(0);
    await patchIfUnchanged(g.client, "/gw", { spec: g.spec }, planned, { dryRun: true });
    expect(g.patches).toHaveLength(1);
    expect(g.patches[0]!.body.metadata.resourceVersion).toBe("10");
    expect(g.patches[0]!.opts).toEqual({ dryRun: true });
  });

  it("a status write between the read and the patch (409) is retried with the newer version", async () => {
    const g = busyGateway(2);
    await patchIfUnchanged(g.client, "/gw", { spec: g.spec }, planned, { dryRun: true });
    expect(g.patches.map((p) => p.body.metadata.resourceVersion)).toEqual(["10", "11", "12"]);
  });

  it("a changed spec stops it: the plan no longer applies", async () => {
    const g = busyGateway(0);
    const err = await patchIfUnchanged(
      g.client,
      "/gw",
      { spec: { gatewayClassName: "other" } },
      planned,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect(g.patches).toHaveLength(0);
  });
});
