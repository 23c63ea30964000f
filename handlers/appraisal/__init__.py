"""Chat flows of democratic appraisal (民主评议): evaluator groups, rating rounds and ballots."""
