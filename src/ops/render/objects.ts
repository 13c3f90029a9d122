// Kubernetes object shapes for the renderers: plain data, serialised by yaml.ts.

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** Labels on everything `floatip render` writes, so `kubectl get -l` finds it. */
export const RENDER_LABELS = { "app.kubernetes.io/part-of": "floatip" } as const;
