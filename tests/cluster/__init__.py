"""Several service processes on one PostgreSQL behind a real load balancer (see ``harness``)."""
