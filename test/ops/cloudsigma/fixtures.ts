import {
  FakeCloudSigma,
  fakeUuid,
  makeIp,
  makeServer,
  publicNic,
  vlanNic,
  type FakeOptions,
} from "../../support/fake-cloudsigma.js";

export const VLAN = fakeUuid(500);

/**
 * cp-1: stopped, public NIC static 203.0.113.11 (owned) + VLAN NIC.
 * cp-2: running, public NIC dhcp with runtime IP 198.51.100.22 (dynamic, not owned) + VLAN NIC.
 * cp-3: running, public NIC already manual (203.0.113.13 owned, configured in the VM) + VLAN NIC.
 * worker-1: running, static 203.0.113.50 (owned).
 * Floating IPs: 203.0.113.100 owned and free; 198.51.100.77 dynamic (no subscription);
 * 203.0.113.200 unknown to the account.
 */
export function fixtureServers() {
  return [
    makeServer(1, "cp-1", "stopped", [
      publicNic("22:00:00:00:01:01", "static", "203.0.113.11"),
      vlanNic("22:00:00:00:01:02", VLAN),
    ]),
    makeServer(2, "cp-2", "running", [
      publicNic("22:00:00:00:02:01", "dhcp", undefined, "198.51.100.22"),
      vlanNic("22:00:00:00:02:02", VLAN),
    ]),
    makeServer(3, "cp-3", "running", [
      publicNic("22:00:00:00:03:01", "manual", undefined, "203.0.113.13"),
      vlanNic("22:00:00:00:03:02", VLAN),
    ]),
    makeServer(4, "worker-1", "running", [
      publicNic("22:00:00:00:04:01", "static", "203.0.113.50", "203.0.113.50"),
    ]),
  ];
}

export function fixtureIps() {
  return [
    makeIp("203.0.113.11", { subscribed: true, server: fakeUuid(1) }),
    makeIp("198.51.100.22", { subscribed: false, server: fakeUuid(2) }),
    makeIp("203.0.113.13", { subscribed: true }),
    makeIp("203.0.113.50", { subscribed: true, server: fakeUuid(4) }),
    makeIp("203.0.113.100", { subscribed: true }),
    makeIp("198.51.100.77", { subscribed: false }),
  ];
}

export async function startFixture(options: FakeOptions = {}): Promise<FakeCloudSigma> {
  return new FakeCloudSigma({ servers: fixtureServers(), ips: fixtureIps(), ...options }).start();
}

/** Collects output; confirm answers with `answer`. */
export function memoryIo(opts: { isTTY?: boolean; answer?: boolean } = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const questions: string[] = [];
  return {
    out,
    err,
    questions,
    io: {
      out: (t: string) => void out.push(t),
      err: (t: string) => void err.push(t),
      isTTY: opts.isTTY ?? false,
      confirm: async (q: string) => {
        questions.push(q);
        return opts.answer ?? false;
      },
    },
    text: () => out.join("\n"),
    errText: () => err.join("\n"),
  };
}
