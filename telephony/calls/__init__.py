"""Call records: the record model and the pure call tracker that builds them from AMI events."""
