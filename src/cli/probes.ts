/**
 * Where a command's HTTP probes run: with --lab, in the lab's client namespace (never from the
 * host: the lab's addresses are not the host's to reach); otherwise from this process.
 */
import { waitFor } from "../common/wait.js";
import type { Expectation } from "../ops/expect.js";
import type { LabControl } from "../ops/lab-control.js";
import type { ProbeSession } from "../ops/probing.js";
import type { SessionOptions, SessionRun } from "../ops/sessions-client.js";

export interface ProbePlace {
  /** The lab's kubeconfig, when --lab was given. */
  kubeconfig?: string;
  /** The lab's control socket client (faults, restore), when --lab was given. */
  lab?: LabControl;
  probe(url: string, intervalMs?: number, timeoutMs?: number): ProbeSession;
  /** Long-lived keep-alive clients from the same place (established connections). */
  sessions(url: string, options: Omit<SessionOptions, "expect">): SessionRun;
  /** True once one answer meets the expectation within `timeoutMs`. */
  check(url: string, timeoutMs?: number): Promise<boolean>;
}

export async function probePlace(lab: string | undefined, expect: Expectation): Promise<ProbePlace> {
  const { probeFromNetns, probeLocally } = await import("../ops/probing.js");
  const { sessionsFromNetns, sessionsLocally } = await import("../ops/sessions-client.js");
  let clientNs: string | undefined;
  let kubeconfig: string | undefined;
  let control: ProbePlace["lab"];
  if (lab) {
    const { LabControl } = await import("../ops/lab-control.js");
    control = new LabControl(lab);
    const info = await control.info();
    clientNs = info.clientNs;
    kubeconfig = info.kubeconfig;
  }
  const probe = (url: string, intervalMs = 10, timeoutMs = 1000) =>
    clientNs
      ? probeFromNetns(clientNs, url, intervalMs, timeoutMs, expect)
      : probeLocally(url, intervalMs, timeoutMs, expect);
  return {
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(control ? { lab: control } : {}),
    probe,
    sessions: (url, options) =>
      clientNs
        ? sessionsFromNetns(clientNs, url, { ...options, expect })
        : sessionsLocally(url, { ...options, expect }),
    async check(url, timeoutMs = 3000) {
      const session = probe(url, 100, 1000);
      await waitFor("an answer", () => session.results.some((p) => p.ok), timeoutMs, 50).catch(() => false);
      return (await session.stop()).some((p) => p.ok);
    },
  };
}
