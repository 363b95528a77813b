{{/*
Names, labels and the few derived values every template shares.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "alert-explainer.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The fully qualified app name: the release name when it already contains the chart name,
else "<release>-<chart>". Truncated to 63 characters (DNS label limit).
*/}}
{{- define "alert-explainer.fullname" -}}
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

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "alert-explainer.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "alert-explainer.labels" -}}
helm.sh/chart: {{ include "alert-explainer.chart" . }}
{{ include "alert-explainer.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The immutable subset used in selectors. */}}
{{- define "alert-explainer.selectorLabels" -}}
app.kubernetes.io/name: {{ include "alert-explainer.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the pods run as. */}}
{{- define "alert-explainer.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "alert-explainer.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the API key, the webhook token and secrets.values. */}}
{{- define "alert-explainer.secretName" -}}
{{- default (include "alert-explainer.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/* image reference: a digest pins the image and wins over the tag. */}}
{{- define "alert-explainer.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The port the container listens on; the image EXPOSEs 8080 and the chart sets server.port. */}}
{{- define "alert-explainer.containerPort" -}}
8080
{{- end }}

{{/* Where the ConfigMap is mounted; config.yaml and every entry of `templates` live here. */}}
{{- define "alert-explainer.configDir" -}}
/etc/alert-explainer
{{- end }}

{{/* The receiver URL Alertmanager posts to, inside the cluster. */}}
{{- define "alert-explainer.webhookURL" -}}
{{- $path := "/webhook" }}
{{- with .Values.alertmanagerConfig.webhookRoute }}
{{- $path = printf "/webhook/%s" . }}
{{- end }}
{{- printf "http://%s.%s.svc:%v%s" (include "alert-explainer.fullname" .) .Release.Namespace .Values.service.port $path }}
{{- end }}

{{/*
The service configuration: `config` from values, with what the chart owns laid over it:
server.host/port (the container port), server.root_path (rootPath), server.workers
(workers), the ui section's enabled/history/max_age (ui.*), with webhookAuth.enabled the
bearer token read from $WEBHOOK_BEARER_TOKEN (appended to any auth the user configured),
and with ui.basicAuth.enabled the page's credentials, the password read from $UI_PASSWORD.
*/}}
{{- define "alert-explainer.config" -}}
{{- $config := deepCopy (default dict .Values.config) }}
{{- $server := deepCopy (default dict (get $config "server")) }}
{{- $_ := set $server "host" "0.0.0.0" }}
{{- $_ = set $server "port" (int (include "alert-explainer.containerPort" .)) }}
{{- with .Values.rootPath }}
{{- $_ = set $server "root_path" . }}
{{- end }}
{{- $_ = set $server "workers" (int .Values.workers) }}
{{- $_ = set $config "server" $server }}
{{- $ui := deepCopy (default dict (get $config "ui")) }}
{{- $_ = set $ui "enabled" .Values.ui.enabled }}
{{- $_ = set $ui "history" (int .Values.ui.history) }}
{{- $_ = set $ui "max_age" .Values.ui.maxAge }}
{{- if .Values.ui.basicAuth.enabled }}
{{- $uiAuth := deepCopy (default dict (get $ui "auth")) }}
{{- $credentials := dict "username" .Values.ui.basicAuth.username "password" "${UI_PASSWORD}" }}
{{- $_ = set $uiAuth "basic_auth" (append (default list (get $uiAuth "basic_auth")) $credentials) }}
{{- $_ = set $ui "auth" $uiAuth }}
{{- end }}
{{- $_ = set $config "ui" $ui }}
{{- if .Values.evidence.enabled }}
{{- $_ = set $config "evidence" (fromYaml (include "alert-explainer.evidence" .)) }}
{{- end }}
{{- if .Values.webhookAuth.enabled }}
{{- $auth := deepCopy (default dict (get $config "auth")) }}
{{- $tokens := concat (default list (get $auth "bearer_tokens")) (list "${WEBHOOK_BEARER_TOKEN}") }}
{{- $_ = set $auth "bearer_tokens" $tokens }}
{{- $_ = set $config "auth" $auth }}
{{- end }}
{{- $fallbackKeys := include "alert-explainer.fallbackKeys" . | fromJson }}
{{- if $fallbackKeys }}
{{- $inference := deepCopy (default dict (get $config "inference")) }}
{{- $fallbacks := list }}
{{- range (get $inference "fallbacks" | default list) }}
{{- $fallback := deepCopy . }}
{{- with get $fallbackKeys (include "alert-explainer.backendName" .) }}
{{- $_ := set $fallback "api_key" (printf "${%s}" .env) }}
{{- end }}
{{- $fallbacks = append $fallbacks $fallback }}
{{- end }}
{{- $_ = set $inference "fallbacks" $fallbacks }}
{{- $_ = set $config "inference" $inference }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{/* A backend's name as the service sees it: `name`, else its `api` (clanker by default). */}}
{{- define "alert-explainer.backendName" -}}
{{- default (get . "api" | default "clanker") (get . "name") }}
{{- end }}

{{/*
The fallback inference backends whose API key comes from the Secret, as JSON:
backend name -> {env: the variable the container gets, key: the Secret's key}. From
secrets.fallbackApiKeys (the chart's Secret, keys inference-api-key-<name>) or, with
existingSecret, secrets.keys.fallbackApiKeys (that Secret's key names).
*/}}
{{- define "alert-explainer.fallbackKeys" -}}
{{- $existing := not (empty .Values.secrets.existingSecret) }}
{{- $source := .Values.secrets.fallbackApiKeys }}
{{- if $existing }}
{{- $source = .Values.secrets.keys.fallbackApiKeys }}
{{- end }}
{{- $keys := dict }}
{{- range $name, $value := $source }}
{{- $env := printf "INFERENCE_API_KEY_%s" (regexReplaceAll "[^A-Z0-9]" (upper $name) "_") }}
{{- $key := printf "inference-api-key-%s" $name }}
{{- if $existing }}
{{- $key = $value }}
{{- end }}
{{- $_ := set $keys $name (dict "env" $env "key" $key) }}
{{- end }}
{{- toJson $keys }}
{{- end }}

{{/* config.evidence from the `evidence` values (camelCase keys become the config's). */}}
{{- define "alert-explainer.evidence" -}}
{{- $evidence := .Values.evidence }}
prometheus:
  {{- include "alert-explainer.queryApi" $evidence.prometheus | nindent 2 }}
{{- if $evidence.alertmanager.url }}
alertmanager:
  {{- include "alert-explainer.queryApi" $evidence.alertmanager | nindent 2 }}
{{- end }}
lookback: {{ $evidence.lookback | toJson }}
timeout: {{ $evidence.timeout | toJson }}
max_bytes: {{ int $evidence.maxBytes }}
concurrency: {{ int $evidence.concurrency }}
recipes: {{ $evidence.recipes | toJson }}
{{- end }}

{{/* One query API (evidence.prometheus or evidence.alertmanager) as the config writes it. */}}
{{- define "alert-explainer.queryApi" -}}
url: {{ .url | toJson }}
{{- with .bearerToken }}
bearer_token: {{ . | toJson }}
{{- end }}
{{- with .bearerTokenFile }}
bearer_token_file: {{ . | toJson }}
{{- end }}
{{- with .basicAuth }}
basic_auth:
  username: {{ .username | toJson }}
  {{- with .password }}
  password: {{ . | toJson }}
  {{- end }}
  {{- with .passwordFile }}
  password_file: {{ . | toJson }}
  {{- end }}
{{- end }}
{{- with .caFile }}
ca_file: {{ . | toJson }}
{{- end }}
{{- with .headers }}
headers: {{ . | toJson }}
{{- end }}
{{- end }}

{{/*
Whether the container gets CLANKER_CLOUD_API_KEY from the Secret: always with an existing
Secret (unless secrets.keys.clankerApiKey is emptied), else only when a key was given.
*/}}
{{- define "alert-explainer.hasApiKey" -}}
{{- if .Values.secrets.existingSecret }}
{{- if .Values.secrets.keys.clankerApiKey }}true{{ end }}
{{- else if .Values.secrets.clankerApiKey }}true
{{- end }}
{{- end }}

{{/* Environment variable names taken one-to-one from Secret keys. */}}
{{- define "alert-explainer.secretEnvNames" -}}
{{- $names := concat (keys .Values.secrets.values) .Values.secrets.existingSecretEnv | uniq | sortAlpha }}
{{- toJson $names }}
{{- end }}

{{/*
The webhook bearer token for the chart's Secret: webhookAuth.bearerToken, else the value
already in the release's Secret (so upgrades keep it), else a new random one.
*/}}
{{- define "alert-explainer.webhookBearerToken" -}}
{{- if .Values.webhookAuth.bearerToken }}
{{- .Values.webhookAuth.bearerToken }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "alert-explainer.secretName" .) | default dict }}
{{- $current := dig "data" .Values.secrets.keys.webhookBearerToken "" $existing }}
{{- if $current }}
{{- $current | b64dec }}
{{- else }}
{{- randAlphaNum 32 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The operator page's password for the chart's Secret: ui.basicAuth.password, else the value
already in the release's Secret (so upgrades keep it), else a new random one.
*/}}
{{- define "alert-explainer.uiPassword" -}}
{{- if .Values.ui.basicAuth.password }}
{{- .Values.ui.basicAuth.password }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "alert-explainer.secretName" .) | default dict }}
{{- $current := dig "data" .Values.secrets.keys.uiPassword "" $existing }}
{{- if $current }}
{{- $current | b64dec }}
{{- else }}
{{- randAlphaNum 24 }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Where the async queue lives: "sync" (no queue), "sqlite" (a file on the pod's volume, one
writer) or "redis" (Redis Streams, shared by any number of replicas). The service decides the
same way: async mode with the Redis state backend keeps its queue in Redis.
*/}}
{{- define "alert-explainer.queueBackend" -}}
{{- $config := default dict .Values.config }}
{{- if ne (dig "delivery" "mode" "sync" $config) "async" }}sync
{{- else if eq (dig "state" "backend" "memory" $config) "redis" }}redis
{{- else }}sqlite
{{- end }}
{{- end }}

{{/* The SQLite queue file (config.delivery.queue_path) and the directory the claim is mounted at. */}}
{{- define "alert-explainer.queuePath" -}}
{{- dig "delivery" "queue_path" "/var/lib/alert-explainer/queue.sqlite3" (default dict .Values.config) }}
{{- end }}

{{- define "alert-explainer.queueDir" -}}
{{- dir (include "alert-explainer.queuePath" .) }}
{{- end }}

{{/* The PersistentVolumeClaim holding the queue: the existing one, or the chart's. */}}
{{- define "alert-explainer.claimName" -}}
{{- .Values.persistence.existingClaim | default (include "alert-explainer.fullname" .) }}
{{- end }}

{{/* Refuse value combinations that cannot work, with a message saying what to change. */}}
{{- define "alert-explainer.validate" -}}
{{- if and .Values.secrets.existingSecret (or .Values.secrets.clankerApiKey .Values.secrets.values) }}
{{- fail "secrets.existingSecret is set: put the API key and other secret values in that Secret, not in secrets.clankerApiKey / secrets.values" }}
{{- end }}
{{- if and .Values.secrets.existingSecret .Values.webhookAuth.bearerToken }}
{{- fail "secrets.existingSecret is set: put the webhook token in that Secret (key secrets.keys.webhookBearerToken), not in webhookAuth.bearerToken" }}
{{- end }}
{{- if and .Values.secrets.existingSecretEnv (not .Values.secrets.existingSecret) }}
{{- fail "secrets.existingSecretEnv names keys of secrets.existingSecret, which is not set; use secrets.values for the chart's own Secret" }}
{{- end }}
{{- if and .Values.secrets.existingSecret .Values.secrets.fallbackApiKeys }}
{{- fail "secrets.existingSecret is set: put the fallback backends' keys in that Secret and name them in secrets.keys.fallbackApiKeys, not in secrets.fallbackApiKeys" }}
{{- end }}
{{- if and .Values.secrets.keys.fallbackApiKeys (not .Values.secrets.existingSecret) }}
{{- fail "secrets.keys.fallbackApiKeys names keys of secrets.existingSecret, which is not set; use secrets.fallbackApiKeys for the chart's own Secret" }}
{{- end }}
{{- $fallbackKeys := include "alert-explainer.fallbackKeys" . | fromJson }}
{{- $backends := dict }}
{{- range (dig "inference" "fallbacks" list (default dict .Values.config)) }}
{{- $_ := set $backends (include "alert-explainer.backendName" .) . }}
{{- end }}
{{- $envs := dict }}
{{- range $name, $key := $fallbackKeys }}
{{- $backend := get $backends $name }}
{{- if not $backend }}
{{- fail (printf "secrets: a key is given for fallback %q, but config.inference.fallbacks has no backend of that name (%s)" $name (keys $backends | sortAlpha | join ", ")) }}
{{- end }}
{{- if or (hasKey $backend "api_key") (hasKey $backend "api_key_file") }}
{{- fail (printf "config.inference.fallbacks %q sets its own api_key or api_key_file; drop it, the chart sets api_key from the Secret" $name) }}
{{- end }}
{{- if hasKey $envs $key.env }}
{{- fail (printf "fallbacks %q and %q both map to the environment variable %s; rename one" (get $envs $key.env) $name $key.env) }}
{{- end }}
{{- $_ := set $envs $key.env $name }}
{{- end }}
{{- with .Values.alertmanagerConfig.webhookRoute }}
{{- $routes := list }}
{{- range (get (default dict $.Values.config) "routes" | default list) }}
{{- $routes = append $routes (get . "name") }}
{{- end }}
{{- if not (has . $routes) }}
{{- fail (printf "alertmanagerConfig.webhookRoute %q is not a route in config.routes (%s)" . (join ", " $routes)) }}
{{- end }}
{{- end }}
{{- $queue := include "alert-explainer.queueBackend" . }}
{{- if eq $queue "sqlite" }}
{{- $where := printf "config.delivery.mode async without the Redis backend keeps its queue in the SQLite file %s" (include "alert-explainer.queuePath" .) }}
{{- if not .Values.persistence.enabled }}
{{- fail (printf "%s, and the pod's root filesystem is read-only: set persistence.enabled=true (a PersistentVolumeClaim mounted at %s), or keep the queue in Redis with config.state.backend: redis" $where (include "alert-explainer.queueDir" .)) }}
{{- end }}
{{- if gt (int .Values.replicaCount) 1 }}
{{- fail (printf "%s, which one pod alone may write: set replicaCount: 1, or use config.state.backend: redis (the queue on Redis Streams) for %d replicas" $where (int .Values.replicaCount)) }}
{{- end }}
{{- if .Values.autoscaling.enabled }}
{{- fail (printf "%s, which one pod alone may write: set autoscaling.enabled=false, or use config.state.backend: redis (the queue on Redis Streams) to autoscale" $where) }}
{{- end }}
{{- else if .Values.persistence.enabled }}
{{- fail (printf "persistence.enabled holds the SQLite queue of config.delivery.mode async, but %s: set persistence.enabled=false" (ternary "the mode is sync, which queues nothing" "with config.state.backend: redis the queue is in Redis" (eq $queue "sync"))) }}
{{- end }}
{{- if and (gt (int .Values.workers) 1) (ne (dig "state" "backend" "memory" .Values.config) "redis") }}
{{- fail (printf "workers: %d needs config.state.backend: redis (and config.state.url): worker processes share leases, delivery records, the explanation cache and the budgets only through Redis" (int .Values.workers)) }}
{{- end }}
{{- if and .Values.webhookAuth.enabled (not .Values.secrets.keys.webhookBearerToken) }}
{{- fail "webhookAuth.enabled needs secrets.keys.webhookBearerToken (the Secret key holding the token)" }}
{{- end }}
{{- range $key, $value := (dig "ui" dict (default dict .Values.config)) }}
{{- if has $key (list "enabled" "history" "max_age") }}
{{- fail (printf "config.ui.%s is set by the chart: use the value ui.%s instead" $key (ternary "maxAge" $key (eq $key "max_age"))) }}
{{- end }}
{{- end }}
{{- if and .Values.evidence.enabled (hasKey (default dict .Values.config) "evidence") }}
{{- fail "config.evidence is set, and evidence.enabled makes the chart write it: use the evidence values only" }}
{{- end }}
{{- if and .Values.evidence.enabled (not .Values.evidence.prometheus.url) }}
{{- fail "evidence.enabled needs evidence.prometheus.url (the Prometheus-compatible query API)" }}
{{- end }}
{{- if dig "server" "root_path" "" (default dict .Values.config) }}
{{- fail "config.server.root_path is set by the chart: use the value rootPath instead" }}
{{- end }}
{{- if hasKey (dig "server" dict (default dict .Values.config)) "workers" }}
{{- fail "config.server.workers is set by the chart: use the value workers instead" }}
{{- end }}
{{- if and .Values.secrets.existingSecret .Values.ui.basicAuth.password }}
{{- fail "secrets.existingSecret is set: put the page's password in that Secret (key secrets.keys.uiPassword), not in ui.basicAuth.password" }}
{{- end }}
{{- if and .Values.ingress.ui (not .Values.ui.enabled) }}
{{- fail "ingress.ui routes the operator's page, which ui.enabled: false turns off" }}
{{- end }}
{{- end }}
