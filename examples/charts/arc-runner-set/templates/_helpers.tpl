{{/* Name of the scale set: every object name derives from it, not from the release. */}}
{{- define "arc-runner-set.scaleSetName" -}}
{{- default .Release.Name .Values.runnerScaleSetName | trunc 45 | trimSuffix "-" -}}
{{- end }}

{{- define "arc-runner-set.prefix" -}}
{{ include "arc-runner-set.scaleSetName" . }}-gha-rs
{{- end }}

{{- define "arc-runner-set.kubeMode" -}}
{{- if eq (default "" .Values.containerMode.type) "kubernetes" }}true{{ end -}}
{{- end }}

{{- define "arc-runner-set.githubSecretName" -}}
{{- if kindIs "string" .Values.githubConfigSecret -}}
{{ required "githubConfigSecret must not be empty" .Values.githubConfigSecret }}
{{- else -}}
{{ include "arc-runner-set.prefix" . }}-github-secret
{{- end -}}
{{- end }}

{{- define "arc-runner-set.runnerServiceAccountName" -}}
{{- if .Values.template.spec.serviceAccountName -}}
{{ .Values.template.spec.serviceAccountName }}
{{- else if include "arc-runner-set.kubeMode" . -}}
{{ include "arc-runner-set.prefix" . }}-kube-mode
{{- else -}}
{{ include "arc-runner-set.prefix" . }}-no-permission
{{- end -}}
{{- end }}

{{- define "arc-runner-set.labels" -}}
helm.sh/chart: gha-rs-{{ .Chart.Version }}
app.kubernetes.io/name: {{ include "arc-runner-set.scaleSetName" . }}
app.kubernetes.io/instance: {{ include "arc-runner-set.scaleSetName" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gha-rs
actions.github.com/scale-set-name: {{ include "arc-runner-set.scaleSetName" . }}
actions.github.com/scale-set-namespace: {{ .Release.Namespace }}
{{- end }}
