"""Callback satisfaction surveys (回访): eligibility rules, the dialer of the survey queue."""
