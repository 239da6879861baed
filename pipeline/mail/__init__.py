"""Mail: compose (messages from templates), transport (SMTP, or .eml files), sending (the idempotent
batch: who gets what, retries, rate limit, the sent log) and status (who has had what)."""
