"""Read-only access to a cluster: one interface (`reader.ClusterReader`), a live and a dump backend."""
