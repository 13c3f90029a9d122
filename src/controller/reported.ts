/**
 * What earlier leaders already reported as Events (AllocationFailed, deprecatedAnnotation), read
 * once at takeover so that a new leader does not repeat an unchanged report.
 */
import type { Logger } from "pino";
import type { KubeApi } from "../kube/api.js";
import { errorText } from "../kube/errors.js";

export interface ReportedFailure {
  message: string;
  /** The Service version the failure was reported for. */
  rv: string | undefined;
}

interface RecordedEvent {
  message?: string;
  involvedObject?: { namespace?: string; name?: string; resourceVersion?: string };
}

/** Every Event of `reason` this component recorded, oldest name first. Best effort: errors stop it. */
async function listRecorded(
  api: KubeApi,
  component: string,
  reason: string,
  log: Logger,
  visit: (ev: RecordedEvent) => void,
): Promise<void> {
  type Page = { metadata?: { continue?: string }; items?: RecordedEvent[] };
  try {
    let cont: string | undefined;
    do {
      const page = await api.get<Page>("/api/v1/events", {
        fieldSelector: `reason=${reason},source=${component}`,
        limit: 500,
        continue: cont,
      });
      for (const ev of page.items ?? []) visit(ev);
      cont = page.metadata?.continue || undefined;
    } while (cont);
  } catch (err) {
    log.debug({ event: "eventsListFailed", reason, error: errorText(err) }, "cannot list earlier Events");
  }
}

/**
 * AllocationFailed Events already on record (a previous leader's), by "namespace/name", so that a new
 * leader does not report an unchanged failure again. Best effort: an error yields an empty map.
 */
export async function listReportedFailures(
  api: KubeApi,
  component: string,
  log: Logger,
): Promise<Map<string, ReportedFailure>> {
  const out = new Map<string, ReportedFailure>();
  await listRecorded(api, component, "AllocationFailed", log, (ev) => {
    // Event names end in a timestamp, so the last one per object is the latest.
    const o = ev.involvedObject;
    if (o?.namespace && o.name && ev.message) {
      out.set(`${o.namespace}/${o.name}`, { message: ev.message, rv: o.resourceVersion });
    }
  });
  return out;
}

/** The messages of deprecatedAnnotation Events already on record, by "namespace/name". */
export async function listReportedDeprecations(
  api: KubeApi,
  component: string,
  log: Logger,
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  await listRecorded(api, component, "deprecatedAnnotation", log, (ev) => {
    const o = ev.involvedObject;
    if (!o?.namespace || !o.name || !ev.message) return;
    const key = `${o.namespace}/${o.name}`;
    out.set(key, [...(out.get(key) ?? []), ev.message]);
  });
  return out;
}
