"""Tests of what ships the service: Dockerfile, Helm chart, Alertmanager, Prometheus, Grafana."""
