{{- define "arc-controller.fullname" -}}
{{- printf "%s-gha-rs-controller" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "arc-controller.selectorLabels" -}}
app.kubernetes.io/name: gha-rs-controller
app.kubernetes.io/namespace: {{ .Release.Namespace }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "arc-controller.labels" -}}
helm.sh/chart: gha-rs-controller-{{ .Chart.Version }}
{{ include "arc-controller.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: gha-rs-controller
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}
