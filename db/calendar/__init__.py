"""Time in working days: the Chinese calendar with overrides, the reminder ladder, typed dates."""
