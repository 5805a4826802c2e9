"""The status API: health, live status, metrics over HTTP, and masking of personal data."""
