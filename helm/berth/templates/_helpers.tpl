{{/* The release name, suffixed with "-berth" unless it already says berth: a release
called "berth" makes berth-api, not berth-berth-api. */}}
{{- define "berth.fullname" -}}
{{- if contains "berth" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-berth" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Blobs on the filesystem must be one volume every pod shares (ReadWriteMany): an API
replica or the worker with a volume of its own would see other blobs than the rest. */}}
{{- define "berth.claimName" -}}
{{- if .Values.storage.filesystem.existingClaim -}}
{{- .Values.storage.filesystem.existingClaim -}}
{{- else if .Values.storage.filesystem.persistence.enabled -}}
{{- printf "%s-blobs" (include "berth.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "berth.checkStorage" -}}
{{- if and (eq .Values.storage.driver "filesystem") (not (include "berth.claimName" .)) -}}
{{- if or (gt (int .Values.api.replicas) 1) (gt (int .Values.worker.replicas) 0) -}}
{{- fail "storage.driver=filesystem with several API replicas or a worker needs a shared ReadWriteMany volume: set storage.filesystem.existingClaim or storage.filesystem.persistence.enabled=true (or use storage.driver=s3)" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "berth.databaseURL" -}}
{{- if .Values.postgresql.enabled -}}
{{- printf "postgresql://berth:%s@%s-postgresql:5432/berth" .Values.postgresql.password (include "berth.fullname" .) -}}
{{- else -}}
{{- required "database.url is required (or postgresql.enabled=true)" .Values.database.url -}}
{{- end -}}
{{- end -}}

{{- define "berth.redisURL" -}}
{{- if .Values.redisServer.enabled -}}
{{- printf "redis://%s-redis:6379/0" (include "berth.fullname" .) -}}
{{- else -}}
{{- required "redis.url is required (or redisServer.enabled=true)" .Values.redis.url -}}
{{- end -}}
{{- end -}}

{{- define "berth.labels" -}}
app.kubernetes.io/name: berth
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* The environment every Berth container shares: settings, secrets by reference. */}}
{{- define "berth.env" -}}
- name: BERTH_EXTERNAL_URL
  value: {{ .Values.externalURL | quote }}
- name: BERTH_DATA_DIR
  value: /var/lib/berth
- name: BERTH_DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ include "berth.fullname" . }}, key: database-url}}
- name: BERTH_REDIS_URL
  valueFrom: {secretKeyRef: {name: {{ include "berth.fullname" . }}, key: redis-url}}
- name: BERTH_SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ include "berth.fullname" . }}, key: secret-key}}
- name: BERTH_STORAGE__DRIVER
  value: {{ .Values.storage.driver | quote }}
{{- if eq .Values.storage.driver "s3" }}
- name: BERTH_STORAGE__S3__BUCKET
  value: {{ .Values.storage.s3.bucket | quote }}
- name: BERTH_STORAGE__S3__REGION
  value: {{ .Values.storage.s3.region | quote }}
{{- with .Values.storage.s3.endpointURL }}
- name: BERTH_STORAGE__S3__ENDPOINT_URL
  value: {{ . | quote }}
{{- end }}
- name: BERTH_STORAGE__S3__PATH_STYLE
  value: {{ .Values.storage.s3.pathStyle | quote }}
- name: BERTH_STORAGE__S3__REDIRECT
  value: {{ .Values.storage.s3.redirect | quote }}
- name: BERTH_STORAGE__S3__ACCESS_KEY
  valueFrom: {secretKeyRef: {name: {{ include "berth.fullname" . }}, key: s3-access-key}}
- name: BERTH_STORAGE__S3__SECRET_KEY
  valueFrom: {secretKeyRef: {name: {{ include "berth.fullname" . }}, key: s3-secret-key}}
{{- end }}
{{- end -}}

{{- define "berth.volumes" -}}
- name: data
{{- if and (eq .Values.storage.driver "filesystem") (include "berth.claimName" .) }}
  persistentVolumeClaim: {claimName: {{ include "berth.claimName" . }}}
{{- else }}
  emptyDir: {}
{{- end }}
{{- end -}}
