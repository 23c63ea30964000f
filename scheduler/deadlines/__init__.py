"""The deadline scan: reminders (提醒), 催办 and 督办 for reports, submissions and ledger items."""
