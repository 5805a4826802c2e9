"""Performance figures: KPI definitions shared by the live status and `hotline report`."""
