"""Democratic appraisal (民主评议): evaluator groups, rounds, ballots and their frozen results."""
