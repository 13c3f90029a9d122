// The status writer against a scripted API: a withdraw and a re-announce that overlap (an
// ownership flap under load) end with the ServiceL2Status written, not lost.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { KubeApi } from "../../src/kube/api.js";
import { StatusWriter } from "../../src/speaker/status.js";
import { waitFor } from "../controller/support.js";

function scriptedApi() {
  const calls: string[] = [];
  let parked: (() => void) | undefined;
  let holdDelete = false;
  let n = 0;
  const api = {
    get: async () => ({ items: [] }),
    request: async (method: string, path: string) => {
      const what = path.includes("/events") ? "event" : "status";
      if (method === "DELETE" && holdDelete) {
        holdDelete = false;
        await new Promise<void>((resolve) => (parked = resolve));
      }
      calls.push(`${method} ${what}`);
      return method === "POST" ? { metadata: { name: `l2-${++n}` } } : {};
    },
  };
  return {
    api: api as unknown as KubeApi,
    calls,
    holdDelete: () => (holdDelete = true),
    parked: () => parked !== undefined,
    release: () => parked?.(),
  };
}

describe("StatusWriter", () => {
  it("writes the status again when re-announced while the withdrawal's delete is under way", async () => {
    const s = scriptedApi();
    const writer = new StatusWriter(
      s.api,
      { nodeName: "n1", namespace: "metallb-system" },
      () => ({ metadata: { name: "a", namespace: "ns", uid: "u1" } }) as never,
      pino({ level: "silent" }),
    );
    const live = new Set(["n1"]);
    writer.announced("ns/a", ["eth0"], ["192.0.2.1"], live);
    await waitFor("status written", () => s.calls.includes("PATCH status"));
    s.holdDelete();
    writer.withdrawn("ns/a");
    await waitFor("delete under way", () => s.parked());
    writer.announced("ns/a", ["eth0"], ["192.0.2.1"], live);
    s.release();
    await waitFor("status written again", () => s.calls.filter((c) => c === "PATCH status").length === 2);
    expect(s.calls.filter((c) => c.endsWith("status"))).toEqual([
      "POST status",
      "PATCH status",
      "DELETE status",
      "POST status",
      "PATCH status",
    ]);
    await writer.flush(100);
  });

  it("lists the interfaces of every entry a Service is announced through, and keeps it while one remains", async () => {
    // A dual-stack Service whose IPv4 is shared (entry "ns/a+ns/b") and whose IPv6 is its own
    // (entry "ns/a"), on two interfaces: one status for ns/a, never overwritten by either entry.
    const written: string[] = [];
    const api = {
      get: async () => ({ items: [] }),
      request: async (
        method: string,
        path: string,
        opts?: { body?: { status?: { interfaces: { name: string }[] } } },
      ) => {
        if (path.includes("/events")) return {};
        if (method === "PATCH")
          written.push(
            `${path.split("/").at(-2)} ${opts!.body!.status!.interfaces.map((i) => i.name).join(",")}`,
          );
        if (method === "DELETE") written.push(`delete ${path.split("/").at(-1)}`);
        return method === "POST" ? { metadata: { name: `l2-${path.length}` } } : {};
      },
    } as unknown as KubeApi;
    const writer = new StatusWriter(
      api,
      { nodeName: "n1", namespace: "metallb-system" },
      () => ({ metadata: { name: "a", namespace: "ns", uid: "u1" } }) as never,
      pino({ level: "silent" }),
    );
    const live = new Set(["n1"]);
    const settled = async (n: number) => {
      await waitFor(`${n} writes`, () => written.length >= n);
      await new Promise((r) => setTimeout(r, 20)); // nothing more follows
      expect(written).toHaveLength(n);
    };
    writer.announced("ns/a", ["ens3"], ["198.51.100.10"], live, false, "ns/a+ns/b");
    await settled(1);
    writer.announced("ns/a", ["ens4"], ["2001:db8::10"], live, false, "ns/a");
    await settled(2);
    writer.announced("ns/a", ["ens3"], ["198.51.100.10"], live, false, "ns/a+ns/b"); // unchanged
    writer.withdrawn("ns/a", "ns/a"); // the IPv6 moved to another node: the IPv4 is still ours
    await settled(3);
    writer.withdrawn("ns/a", "ns/a+ns/b");
    await settled(4);
    expect(written.map((w) => w.replace(/l2-\d+/, "l2"))).toEqual([
      "l2 ens3",
      "l2 ens3,ens4",
      "l2 ens3",
      "delete l2",
    ]);
    await writer.flush(100);
  });

  it("posts a refusal as a Warning Event announceFailed on the Service", async () => {
    const bodies: Record<string, unknown>[] = [];
    const api = {
      get: async () => ({ items: [] }),
      request: async (_method: string, path: string, opts?: { body?: Record<string, unknown> }) => {
        if (path.includes("/events") && opts?.body) bodies.push(opts.body);
        return {};
      },
    } as unknown as KubeApi;
    const writer = new StatusWriter(
      api,
      { nodeName: "n1", namespace: "metallb-system" },
      () => ({ metadata: { name: "wide", namespace: "ns", uid: "u1" } }) as never,
      pino({ level: "silent" }),
    );
    writer.refused("ns/wide", "status.loadBalancer.ingress lists 1000 IPs; …");
    await waitFor("Event posted", () => bodies.length === 1);
    expect(bodies[0]).toMatchObject({
      type: "Warning",
      reason: "announceFailed",
      message: "not announced by floatip: status.loadBalancer.ingress lists 1000 IPs; …",
      involvedObject: { kind: "Service", namespace: "ns", name: "wide", uid: "u1" },
    });
    await writer.flush(100);
  });

  it("counts what it has still to write (status, Events) until the API has taken it", async () => {
    const held: (() => void)[] = [];
    const api = {
      get: async () => ({ items: [] }),
      request: async (method: string) => {
        await new Promise<void>((resolve) => held.push(resolve));
        return method === "POST" ? { metadata: { name: `l2-${held.length}` } } : {};
      },
    } as unknown as KubeApi;
    const writer = new StatusWriter(
      api,
      { nodeName: "n1", namespace: "metallb-system" },
      (key) => ({ metadata: { name: key.split("/")[1], namespace: "ns", uid: key } }) as never,
      pino({ level: "silent" }),
    );
    expect(writer.pending).toEqual({ status: 0, events: 0 });
    const live = new Set(["n1"]);
    for (const name of ["a", "b", "c"]) writer.announced(`ns/${name}`, ["eth0"], ["192.0.2.1"], live);
    writer.refused("ns/d", "too many IPs");
    // Three Services' writes and a refusal's Event are under way (the API holds every request).
    await waitFor("writes under way", () => held.length >= 4);
    expect(writer.pending.status).toBe(3);
    expect(writer.pending.events).toBeGreaterThanOrEqual(1);
    // Release whatever is held, as often as the writers come back with more (POST, PATCH, Events).
    await waitFor("caught up", () => {
      for (const release of held.splice(0)) release();
      const { status, events } = writer.pending;
      return status === 0 && events === 0;
    });
    await writer.flush(100);
  });

  describe("at scale: no list per write", () => {
    /** An API holding ServiceL2Statuses: label-selected lists (paged), creates, patches, deletes. */
    function statusApi(existing: { name: string; node: string; service: string }[] = []) {
      const objects = new Map(existing.map((o) => [o.name, o]));
      const lists: string[] = [];
      const deleted: string[] = [];
      const snapshots = new Map<string, { name: string; node: string; service: string }[]>();
      let n = 0;
      let failCreates = 0;
      const labelsOf = (o: { node: string; service: string }) => {
        const [namespace, name] = o.service.split("/");
        return {
          "metallb.io/node": o.node,
          "metallb.io/service-name": name,
          "metallb.io/service-namespace": namespace,
        };
      };
      const api = {
        get: async (_path: string, q: { labelSelector: string; limit?: number; continue?: string }) => {
          lists.push(q.labelSelector);
          const terms = q.labelSelector.split(",").map((t) => /^(.*?)(!=|=)(.*)$/.exec(t)!);
          const match = (o: { node: string; service: string }) =>
            terms.every(
              ([, k, op, v]) => ((labelsOf(o) as Record<string, string>)[k!] === v) === (op === "="),
            );
          // A continued list reads the snapshot of its first page, as the API server's does.
          const all = q.continue
            ? snapshots.get(q.continue.split(":")[0]!)!
            : [...objects.values()].filter(match);
          const id = q.continue?.split(":")[0] ?? String(snapshots.size);
          snapshots.set(id, all);
          const from = Number(q.continue?.split(":")[1] ?? 0);
          const to = q.limit ? from + q.limit : all.length;
          return {
            items: all.slice(from, to).map((o) => ({ metadata: { name: o.name, labels: labelsOf(o) } })),
            metadata: { continue: to < all.length ? `${id}:${to}` : "" },
          };
        },
        request: async (
          method: string,
          path: string,
          opts?: { body?: { metadata?: { labels?: Record<string, string> } } },
        ) => {
          if (path.includes("/events")) return {};
          const name = path.split("/servicel2statuses/")[1]?.split("/")[0];
          if (method === "POST") {
            const labels = opts!.body!.metadata!.labels!;
            const o = {
              name: `l2-${++n}`,
              node: labels["metallb.io/node"]!,
              service: `${labels["metallb.io/service-namespace"]}/${labels["metallb.io/service-name"]}`,
            };
            objects.set(o.name, o);
            if (failCreates-- > 0) throw new Error("socket hang up"); // created, but no answer
            return { metadata: { name: o.name } };
          }
          if (method === "DELETE") {
            deleted.push(name!);
            objects.delete(name!);
          }
          return {};
        },
      };
      return {
        api: api as unknown as KubeApi,
        objects,
        lists,
        deleted,
        failNextCreate: () => (failCreates = 1),
      };
    }
    const writerOn = (api: KubeApi) =>
      new StatusWriter(
        api,
        { nodeName: "n1", namespace: "metallb-system" },
        (key) => ({ metadata: { name: key.split("/")[1], namespace: key.split("/")[0], uid: "u" } }) as never,
        pino({ level: "silent" }),
      );
    const ours = (objects: Map<string, { node: string; service: string }>) =>
      [...objects.values()]
        .filter((o) => o.node === "n1")
        .map((o) => o.service)
        .sort();

    it("after the start-up cleanup, writes and deletes find their object without listing", async () => {
      const a = statusApi([{ name: "old", node: "n1", service: "ns/x" }]);
      const writer = writerOn(a.api);
      await writer.deleteOwn();
      expect(a.lists).toEqual(["metallb.io/node=n1"]);
      const live = new Set(["n1", "n2"]);
      for (let i = 0; i < 20; i++) writer.announced(`ns/s${i}`, ["eth0"], [`192.0.2.${i}`], live);
      await waitFor("20 statuses", () => ours(a.objects).length === 20);
      writer.withdrawn("ns/s3");
      await waitFor("one deleted", () => ours(a.objects).length === 19);
      expect(a.lists).toEqual(["metallb.io/node=n1"]);
      await writer.flush(100);
    });

    it("a create without an answer is looked up before the next write: no duplicate", async () => {
      const a = statusApi();
      const writer = writerOn(a.api);
      await writer.deleteOwn();
      a.failNextCreate();
      writer.announced("ns/a", ["eth0"], ["192.0.2.1"], new Set(["n1"]));
      await waitFor("retried and written", () => a.lists.length === 2 && ours(a.objects).length === 1, 5000);
      writer.withdrawn("ns/a");
      await waitFor("deleted", () => ours(a.objects).length === 0);
      await writer.flush(100);
    });

    it("a failed start-up cleanup is retried; meanwhile writes list first; this run's statuses survive it", async () => {
      const a = statusApi([{ name: "old", node: "n1", service: "ns/x" }]);
      const get = a.api.get.bind(a.api);
      let refuse = 1;
      (a.api as { get: typeof get }).get = async (path, q) => {
        if (refuse-- > 0) throw new Error("storage is (re)initializing (HTTP 429)");
        return get(path, q);
      };
      const writer = writerOn(a.api);
      await writer.cleanUp(); // fails, retried in 500 ms
      writer.announced("ns/a", ["eth0"], ["192.0.2.1"], new Set(["n1"]));
      await waitFor(
        "the old status gone, ours kept",
        () => !a.objects.has("old") && ours(a.objects).length === 1,
        5000,
      );
      expect(ours(a.objects)).toEqual(["ns/a"]);
      await writer.flush(100);
    });

    it("without the start-up cleanup, each write lists first (an earlier run's status may exist)", async () => {
      const a = statusApi([{ name: "old", node: "n1", service: "ns/a" }]);
      const writer = writerOn(a.api);
      writer.announced("ns/a", ["eth0"], ["192.0.2.1"], new Set(["n1"]));
      await waitFor("listed", () => a.lists.length === 1);
      writer.withdrawn("ns/a");
      await waitFor("the old one deleted", () => a.objects.size === 0);
      await writer.flush(100);
    });

    it("a takeover from a dead speaker deletes its statuses in one paged sweep, only for Services now ours", async () => {
      const before = [
        ...Array.from({ length: 1200 }, (_, i) => ({ name: `dead-${i}`, node: "n3", service: `ns/s${i}` })),
        { name: "live-0", node: "n2", service: "ns/s0" },
        { name: "other", node: "n3", service: "ns/not-ours" },
      ];
      const a = statusApi(before);
      const writer = writerOn(a.api);
      await writer.deleteOwn();
      const live = new Set(["n1", "n2"]);
      for (let i = 0; i < 1200; i++)
        writer.announced(`ns/s${i}`, ["eth0"], [`192.0.2.${i % 250}`], live, true);
      await waitFor("the dead speaker's statuses deleted", () => a.deleted.length === 1200, 10_000);
      // The cleanup's list, then one sweep of 3 pages (1,202 statuses of other nodes, 500 a page).
      expect(a.lists).toEqual(["metallb.io/node=n1", ...Array(3).fill("metallb.io/node!=n1")]);
      expect(a.objects.has("live-0")).toBe(true);
      expect(a.objects.has("other")).toBe(true);
      await writer.flush(100);
    });

    it("no sweep while every known speaker is alive", async () => {
      const a = statusApi([{ name: "x", node: "n3", service: "ns/a" }]);
      const writer = writerOn(a.api);
      await writer.deleteOwn();
      writer.announced("ns/a", ["eth0"], ["192.0.2.1"], new Set(["n1", "n3"]), false);
      await waitFor("written", () => ours(a.objects).length === 1);
      await new Promise((r) => setTimeout(r, 1200));
      expect(a.lists).toEqual(["metallb.io/node=n1"]);
      expect(a.objects.has("x")).toBe(true);
      await writer.flush(100);
    });
  });
});
