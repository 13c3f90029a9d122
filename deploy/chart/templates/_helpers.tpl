{{/* Names: "floatip" for the seed's release name, "<release>-floatip" otherwise. */}}
{{- define "floatip.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else if contains (include "floatip.name" .) .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "floatip.name" .) | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "floatip.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "floatip.labels" -}}
app.kubernetes.io/name: {{ include "floatip.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels of one component; call with (dict "ctx" $ "component" "speaker"). */}}
{{- define "floatip.selectorLabels" -}}
app.kubernetes.io/name: {{ include "floatip.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "floatip.componentLabels" -}}
{{ include "floatip.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "floatip.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "floatip.heartbeatSecretName" -}}
{{- if .Values.heartbeatKey.create -}}
{{- printf "%s-heartbeat" (include "floatip.fullname" .) -}}
{{- else -}}
{{- required "heartbeatKey.existingSecret is required when heartbeatKey.create is false: name a Secret holding the heartbeat key under data.key" .Values.heartbeatKey.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* Env both components share: the release namespace, also passed as --namespace. */}}
{{- define "floatip.commonEnv" -}}
- name: FLOATIP_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end -}}

{{/*
V8's old-generation cap (MiB) for a component: its heapLimitMb if set, else its container memory
limit less 96 MiB for the rest of the process (node itself, native code, malloc, the young
generation), at least 64. Without it V8 sizes its heap from the node's memory or, in a cgroup, to
about the limit itself: the kernel kills the process before V8 collects in earnest. Empty when
neither is set. Takes the component's values.
*/}}
{{- define "floatip.heapLimitMb" -}}
{{- if .heapLimitMb -}}
{{- .heapLimitMb | int -}}
{{- else if and .resources .resources.limits .resources.limits.memory -}}
{{- $q := toString .resources.limits.memory -}}
{{- $mi := 0 -}}
{{- if hasSuffix "Gi" $q -}}{{- $mi = mul (trimSuffix "Gi" $q | int64) 1024 -}}
{{- else if hasSuffix "Mi" $q -}}{{- $mi = trimSuffix "Mi" $q | int64 -}}
{{- else if hasSuffix "Ki" $q -}}{{- $mi = div (trimSuffix "Ki" $q | int64) 1024 -}}
{{- else if hasSuffix "G" $q -}}{{- $mi = div (mul (trimSuffix "G" $q | int64) 1000000000) 1048576 -}}
{{- else if hasSuffix "M" $q -}}{{- $mi = div (mul (trimSuffix "M" $q | int64) 1000000) 1048576 -}}
{{- else if hasSuffix "k" $q -}}{{- $mi = div (mul (trimSuffix "k" $q | int64) 1000) 1048576 -}}
{{- else -}}{{- $mi = div ($q | int64) 1048576 -}}
{{- end -}}
{{- max 64 (sub $mi 96) -}}
{{- end -}}
{{- end -}}
