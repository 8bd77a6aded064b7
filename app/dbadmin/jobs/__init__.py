"""Console jobs: schema changes run in a process of their own."""
