"""Catching rigged ratings (seed 004: 严肃查处拉票、恶意投票等弄虚作假的评议行为): the anomaly
rules, what they read, and an admin's exclusion of a ballot or a rating."""
