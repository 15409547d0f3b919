{{/* Names, labels, the image, and the Settings document every role reads. */}}

{{- define "aetherius.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "aetherius.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The roles this chart knows, in a fixed order. */}}
{{- define "aetherius.roles" -}}
webhook worker watch sink gateway console
{{- end -}}

{{- define "aetherius.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "aetherius.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: aetherius
{{- end -}}

{{/* Selector labels of one role: include with (dict "ctx" $ "role" "worker"). */}}
{{- define "aetherius.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aetherius.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "aetherius.releaseSelector" -}}
app.kubernetes.io/name: {{ include "aetherius.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "aetherius.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "aetherius.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "aetherius.secretName" -}}
{{- default (printf "%s-secrets" (include "aetherius.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* registry/repository:tag for a role: (dict "ctx" $ "role" "worker"). */}}
{{- define "aetherius.image" -}}
{{- $v := index .ctx.Values .role -}}
{{- $repo := default .ctx.Values.image.repository $v.image.repository -}}
{{- $tag := default .ctx.Chart.AppVersion .ctx.Values.global.imageTag -}}
{{- if .ctx.Values.global.imageRegistry -}}
{{- printf "%s/%s:%s" (trimSuffix "/" .ctx.Values.global.imageRegistry) $repo $tag -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end -}}

{{/* Cluster id -> ClusterSource for the worker: this cluster through the ServiceAccount, others by kubeconfig. */}}
{{- define "aetherius.clusters" -}}
{{- $clusters := dict .Values.clusterId (dict) -}}
{{- range .Values.watch.clusters -}}
{{- if .kubeconfig -}}
{{- $src := dict "kubeconfig" (printf "/etc/aetherius/kubeconfigs/%s" .kubeconfig) -}}
{{- if .context -}}{{- $_ := set $src "context" .context -}}{{- end -}}
{{- $_ := set $clusters .id $src -}}
{{- else -}}
{{- $_ := set $clusters .id (dict) -}}
{{- end -}}
{{- end -}}
{{- toYaml $clusters -}}
{{- end -}}

{{/* Where the worker and watch pods see the cluster registry: a directory mount (not subPath), so the kubelet's
     ConfigMap sync replaces the file in place and the processes hot-reload it. */}}
{{- define "aetherius.clusterRegistryDir" -}}/etc/aetherius/clusters{{- end -}}
{{- define "aetherius.clusterRegistryPath" -}}{{ include "aetherius.clusterRegistryDir" . }}/clusters.yaml{{- end -}}

{{/* The cluster registry file (SRS §5.5.3, schemas/clusters.py) as text, "" when `clusterRegistry` is empty.
     `clusterRegistry` is the file as a mapping, or its YAML text (`--set-file clusterRegistry=clusters.yaml`,
     rendered verbatim). The chart checks the outline (a `clusters` list, each with id, name and vault_path); the
     worker and watch validate the rest when they load it: a bad file stops them at start-up, a bad edit later
     is rejected and the last good registry stays in force. */}}
{{- define "aetherius.clusterRegistry" -}}
{{- $r := .Values.clusterRegistry -}}
{{- if $r -}}
{{- $doc := $r -}}
{{- if kindIs "string" $r -}}
{{- $doc = fromYaml $r -}}
{{- if hasKey $doc "Error" -}}{{- fail (printf "clusterRegistry is not valid YAML: %s" (get $doc "Error")) -}}{{- end -}}
{{- end -}}
{{- if not (kindIs "map" $doc) -}}{{- fail "clusterRegistry must be a mapping with a 'clusters' list (schemas/clusters.py)" -}}{{- end -}}
{{- if or (not (hasKey $doc "clusters")) (not (kindIs "slice" $doc.clusters)) (ne (len (keys $doc)) 1) -}}
{{- fail (printf "clusterRegistry must be a mapping with a 'clusters' list and nothing else (schemas/clusters.py), got keys %v" (keys $doc | sortAlpha)) -}}
{{- end -}}
{{- range $i, $c := $doc.clusters -}}
{{- if not (kindIs "map" $c) -}}{{- fail (printf "clusterRegistry.clusters[%d] must be a mapping" $i) -}}{{- end -}}
{{- range $field := list "id" "name" "vault_path" -}}
{{- if not (get $c $field) -}}
{{- fail (printf "clusterRegistry.clusters[%d] (%s) needs %s (schemas/clusters.py)" $i (get $c "id" | default "no id") $field) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if kindIs "string" $r -}}{{- $r -}}{{- else -}}{{- toYaml $r -}}{{- end -}}
{{- end -}}
{{- end -}}

{{/* The Settings document: `config` from values, overridden by what the chart derives (so ports, hosts and
     endpoints always agree with the Services and probes it renders). */}}
{{- define "aetherius.settings" -}}
{{- $derived := dict
  "kafka" (dict "bootstrap" (required "kafka.bootstrap is required" .Values.kafka.bootstrap)
                "topic_prefix" .Values.kafka.topicPrefix
                "partitions" (int .Values.kafka.partitions)
                "replication_factor" (int .Values.kafka.replicationFactor))
  "webhook" (dict "host" "0.0.0.0" "port" (int .Values.webhook.service.port))
  "worker" (dict "host" "0.0.0.0" "port" (int .Values.worker.service.port) "data_dir" "/app/var/worker")
  "analytics" (dict "api_host" "0.0.0.0" "api_port" (int .Values.sink.service.port) "chdb_path" "/app/var/clickhouse")
  "pipeline" (dict "default_cluster" .Values.clusterId)
  "clusters" (include "aetherius.clusters" . | fromYaml)
  "console" (dict "host" "0.0.0.0" "port" (int .Values.console.service.port)
                  "worker_url" (printf "http://%s-worker:%d" (include "aetherius.fullname" .) (int .Values.worker.service.port))
                  "knowledge_url" (printf "http://%s-worker:%d" (include "aetherius.fullname" .) (int .Values.worker.service.port))
                  "sink_url" (printf "http://%s-sink:%d" (include "aetherius.fullname" .) (int .Values.sink.service.port))
                  "cookie_secure" .Values.console.cookieSecure)
-}}
{{- $knowledge := dict "path" "/app/var/knowledge" "collection" .Values.qdrant.collection
  "api_url" (printf "http://%s-worker:%d" (include "aetherius.fullname" .) (int .Values.worker.service.port)) -}}
{{- if .Values.qdrant.url -}}
{{- $_ := set $knowledge "engine" "server" -}}
{{- $_ := set $knowledge "url" .Values.qdrant.url -}}
{{- else -}}
{{- $_ := set $knowledge "engine" "local" -}}
{{- end -}}
{{- $_ := set $derived "knowledge" $knowledge -}}
{{- if include "aetherius.clusterRegistry" . -}}
{{- $_ := set $derived "clusters_file" (include "aetherius.clusterRegistryPath" .) -}}
{{- end -}}
{{- $settings := mergeOverwrite (deepCopy (default (dict) .Values.config)) $derived -}}
{{- toYaml $settings -}}
{{- end -}}

{{/* env entries from the Secret, each optional: (dict "ctx" $ "keys" (list "webhook-token" ...)). */}}
{{- define "aetherius.secretEnv" -}}
{{- $map := dict
  "webhook-token" "AETHERIUS_WEBHOOK__BEARER_TOKEN"
  "openai-api-key" "OPENAI_API_KEY"
  "openai-base-url" "OPENAI_BASE_URL"
  "clickhouse-url" "AETHERIUS_ANALYTICS__CLICKHOUSE_URL"
  "qdrant-api-key" "AETHERIUS_KNOWLEDGE__API_KEY"
  "vault-token" "AETHERIUS_VAULT__TOKEN"
  "gateway-token" "AETHERIUS_GATEWAY__TOKEN"
  "api-keys" "AETHERIUS_SECURITY__API_KEYS"
  "sink-destinations" "AETHERIUS_SINKS__DESTINATIONS"
  "slack-signing-secret" "AETHERIUS_SINKS__SLACK_SIGNING_SECRET"
-}}
{{- $secret := include "aetherius.secretName" .ctx -}}
{{- range .keys }}
- name: {{ index $map . }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ . }}
      optional: true
{{- end }}
{{- end -}}

{{/* The Secret keys each role reads (least privilege: a role never sees a key it does not use). */}}
{{- define "aetherius.roleSecretKeys" -}}
{{- $keys := dict
  "webhook" (list "webhook-token" "api-keys")
  "worker" (list "openai-api-key" "openai-base-url" "qdrant-api-key" "vault-token" "api-keys" "clickhouse-url" "gateway-token")
  "watch" (list "vault-token")
  "sink" (list "clickhouse-url" "sink-destinations" "slack-signing-secret" "api-keys")
  "gateway" (list "api-keys" "vault-token")
  "console" (list "api-keys")
-}}
{{- index $keys . | toJson -}}
{{- end -}}


{{/* The ConfigMap entries a pod only reads at start (subPath mounts): the pod template carries their checksum,
     so a change restarts the pods. The cluster registry is not among them: it is hot-reloaded (NFR-25). */}}
{{- define "aetherius.startupConfigFiles" -}}
# The Settings file (AETHERIUS_CONFIG). Secrets are not here: they reach the pods as env vars from the Secret.
config.yaml: |
  {{- include "aetherius.settings" . | nindent 2 }}
# For the gateway, whose reader takes a kubeconfig: this cluster through the pod's ServiceAccount token.
incluster-kubeconfig: |
  apiVersion: v1
  kind: Config
  clusters:
    - name: {{ .Values.clusterId }}
      cluster:
        server: https://kubernetes.default.svc
        certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
  users:
    - name: aetherius
      user:
        tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
  contexts:
    - name: {{ .Values.clusterId }}
      context:
        cluster: {{ .Values.clusterId }}
        user: aetherius
  current-context: {{ .Values.clusterId }}
{{- end -}}
