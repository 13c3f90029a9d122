// The Ctrl-C contract migrate and rollback share, checked the same way for both against a real API
// server: at the confirmation nothing changes; right after the EnvoyProxy patch the patch is undone
// and the Service kept. Each returns the command's output for the checks only one command has.

import { expect } from "vitest";
import type { KubeClient } from "../../src/kube/client.js";
import type { KubeService, ObjectRef } from "../../src/kube/objects.js";
import { paths } from "../../src/kube/paths.js";
import { egPaths } from "../../src/ops/envoy/paths.js";
import type { EnvoyProxy } from "../../src/ops/envoy/types.js";

/** One run of the command with these dependencies replaced; the output goes to `lines`. */
export type InterruptibleRun = (deps: {
  signal: AbortSignal;
  confirm?: () => Promise<boolean>;
  progress?: (line: string) => void;
}) => Promise<{ exitCode: number }>;

/** Ctrl-C at the confirmation: exit 130, "nothing was changed", and the state (`after`) as `before` read it. */
export async function expectCtrlCBeforeConfirmation(
  run: InterruptibleRun,
  lines: string[],
  before: () => Promise<unknown>,
  after: () => Promise<unknown> = before,
): Promise<string> {
  const state = await before();
  const abort = new AbortController();
  lines.length = 0;
  const r = await run({ signal: abort.signal, confirm: async () => (abort.abort(), true) });
  expect(r.exitCode).toBe(130);
  expect(lines.join("\n")).toContain("Interrupted before any change: nothing was changed.");
  expect(await after()).toEqual(state);
  return lines.join("\n");
}

/** Ctrl-C as the EnvoyProxy is patched: exit 130, its spec restored and said so, the same Service. */
export async function expectCtrlCWhileProxyPatched(
  run: InterruptibleRun,
  lines: string[],
  client: KubeClient,
  refs: { proxy: ObjectRef; service: ObjectRef },
): Promise<string> {
  const proxyBefore = (await client.get<EnvoyProxy>(egPaths.envoyProxy(refs.proxy)))!.spec;
  const uid = (await client.get<KubeService>(paths.service(refs.service)))!.metadata.uid;
  const abort = new AbortController();
  lines.length = 0;
  const r = await run({
    signal: abort.signal,
    progress: (l: string) => {
      lines.push(`progress: ${l}`);
      if (l.startsWith("patching EnvoyProxy")) abort.abort();
    },
  });
  const text = lines.join("\n");
  expect(r.exitCode, text).toBe(130);
  expect(text).toContain(
    `EnvoyProxy ${refs.proxy.namespace}/${refs.proxy.name}: patched, then restored to its previous spec`,
  );
  expect((await client.get<EnvoyProxy>(egPaths.envoyProxy(refs.proxy)))!.spec).toEqual(proxyBefore);
  expect((await client.get<KubeService>(paths.service(refs.service)))!.metadata.uid).toBe(uid);
  return text;
}
