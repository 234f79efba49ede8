"""Operations: the Prometheus exporter and database backup and restore."""
