"""`make bench`: Maskline's throughput, latency and scaling, measured against a bare ceiling."""
