{{- define "berth.fullname" -}}
{{- printf "%s-berth" .Release.Name | trunc 63 | trimSuffix "-" -}}
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
{{- if and (eq .Values.storage.driver "filesystem") .Values.storage.filesystem.existingClaim }}
  persistentVolumeClaim: {claimName: {{ .Values.storage.filesystem.existingClaim }}}
{{- else }}
  emptyDir: {}
{{- end }}
{{- end -}}
