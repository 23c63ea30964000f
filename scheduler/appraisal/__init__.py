"""The appraisal rounds' job: reminders before the close, and the close with its results."""
