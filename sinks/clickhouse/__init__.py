"""ClickHouse analytics: history, cost and audit rows from the topics; the analytics API and its queries."""
