{{/* Names, labels and the two processes' command lines, shared by every template. */}}

{{- define "kubelvs.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kubelvs.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kubelvs.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable across upgrades (never the version). Call with (dict "root" $ "component" "agent"). */}}
{{- define "kubelvs.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubelvs.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The standard labels of every object. Call with (dict "root" $ "component" "agent"). */}}
{{- define "kubelvs.labels" -}}
helm.sh/chart: {{ include "kubelvs.chart" .root }}
{{ include "kubelvs.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: kubelvs
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{- define "kubelvs.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "kubelvs.operator.serviceAccountName" -}}
{{- default (printf "%s-operator" (include "kubelvs.fullname" .)) .Values.operator.serviceAccount.name }}
{{- end }}

{{- define "kubelvs.agent.serviceAccountName" -}}
{{- default (printf "%s-agent" (include "kubelvs.fullname" .)) .Values.agent.serviceAccount.name }}
{{- end }}

{{/* Flags before the subcommand. */}}
{{- define "kubelvs.globalArgs" -}}
{{- if eq .Values.logLevel "debug" }}
- --verbose
{{- end }}
{{- end }}

{{/* `--vip-pools`, the same for both processes. Empty pools let any address become a VIP, so they need the
explicit opt-out `config.allowAnyVIP: true`; without it rendering fails and says which value to set. */}}
{{- define "kubelvs.vipPoolsArg" -}}
{{- if .Values.config.vipPools }}
- --vip-pools={{ join "," .Values.config.vipPools }}
{{- else if not .Values.config.allowAnyVIP }}
{{- fail "config.vipPools is empty: any address could then be claimed as a VIP, including addresses other tenants or the nodes' own network use. Set the CIDRs kube-lvs may claim (e.g. --set 'config.vipPools={192.0.2.0/24}'), or set config.allowAnyVIP=true to allow any address on purpose" }}
{{- end }}
{{- end }}

{{/* `kubelvs agent` in-cluster (no --standalone). The flag names follow kubelvs/commands/agent.py. */}}
{{- define "kubelvs.agent.args" -}}
{{ include "kubelvs.globalArgs" . }}
- agent
- --node=$(NODE_NAME)
- --namespace=$(POD_NAMESPACE)
{{- include "kubelvs.vipPoolsArg" . }}
- --resync-period={{ .Values.config.resyncPeriod }}
- --tcp-timeout={{ .Values.ipvs.timeouts.tcp }}
- --tcpfin-timeout={{ .Values.ipvs.timeouts.tcpFin }}
- --udp-timeout={{ .Values.ipvs.timeouts.udp }}
{{- if .Values.ipvs.syncDaemon.enabled }}
- --sync-interface={{ .Values.ipvs.syncDaemon.interface }}
- --sync-id={{ .Values.ipvs.syncDaemon.syncId }}
{{- else }}
- --no-sync-daemon
{{- end }}
- --lease-duration={{ .Values.leaderElection.leaseDuration }}
- --renew-deadline={{ .Values.leaderElection.renewDeadline }}
- --renew-period={{ .Values.leaderElection.renewPeriod }}
- --retry-period={{ .Values.leaderElection.retryPeriod }}
{{- if not .Values.leaderElection.failStatic }}
- --no-fail-static
{{- end }}
- --drain-timeout={{ .Values.agent.drainTimeout }}
- --metrics-port={{ .Values.agent.metricsPort }}
- --metrics-address=$(HOST_IP)
- --state-file={{ trimSuffix "/" .Values.agent.stateDir }}/owned.json
{{- range .Values.agent.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/* `kubelvs operator`. The flag names follow kubelvs/commands/operator.py. */}}
{{- define "kubelvs.operator.args" -}}
{{ include "kubelvs.globalArgs" . }}
- operator
- --all-namespaces
{{- include "kubelvs.vipPoolsArg" . }}
- --metrics-port={{ .Values.operator.metricsPort }}
- --metrics-address=$(POD_IP)
{{- if .Values.loadBalancer.default }}
- --default-load-balancer
{{- end }}
{{- if .Values.operator.peering.enabled }}
- --peering={{ .Values.operator.peering.name }}
{{- else }}
- --standalone
{{- end }}
{{- if .Values.operator.healthPort }}
- --liveness=http://0.0.0.0:{{ .Values.operator.healthPort }}/healthz
{{- end }}
{{- range .Values.operator.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}
